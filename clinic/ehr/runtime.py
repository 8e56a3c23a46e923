"""Wire the EHR link into the server: queue targets on writer sessions, worker, listener.

The settings in force are the file/environment ones (clinic.ehr.config) with what an admin
saved on the admin page (`ehr_config`) on top; saving restarts the parts in this process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clinic.ehr import feedback
from clinic.ehr.config import EhrSettings
from clinic.ehr.models import EhrConfigRow
from clinic.ehr.queue import FEEDBACK_INFO_KEY, TARGETS_INFO_KEY, WAKE_INFO_KEY

log = logging.getLogger(__name__)

#: Fields an admin may set on the admin page (the rest: file or environment only).
ADMIN_FIELDS = (
    "fhir_base_url",
    "smart_token_url",
    "smart_client_id",
    "smart_private_key_file",
    "smart_key_id",
    "smart_algorithm",
    "schedule_poll_seconds",
    "send_feedback",
    "hl7_host",
    "hl7_port",
    "hl7_sending_application",
    "hl7_sending_facility",
    "hl7_receiving_application",
    "hl7_receiving_facility",
    "siu_listen_port",
)


def install(app: FastAPI, ehr: EhrSettings | None = None) -> None:
    """Tell the app's writer sessions which targets to queue for; keep the settings.

    The admin form's router (clinic.ehr.admin) is included by the app itself: that module
    calls reconfigure() here, so importing it from here would make an import cycle.
    """
    app.state.ehr_base_settings = ehr or EhrSettings.from_env()
    app.state.ehr_parts = []
    app.state.ehr_lock = threading.Lock()
    app.state.ehr_applied_stamp = None
    _apply(app, app.state.ehr_base_settings)
    app.include_router(feedback.router)


def _apply(app: FastAPI, settings: EhrSettings) -> None:
    app.state.ehr_settings = settings
    app.state.ehr_worker = None
    app.state.ehr_listener = None
    app.state.ehr_poller = None
    app.state.db.writer.configure(
        info={
            TARGETS_INFO_KEY: settings.targets,
            FEEDBACK_INFO_KEY: (
                settings.send_feedback and settings.fhir_enabled,
                settings.feedback_delay_seconds,
            ),
        }
    )


def effective_settings(app: FastAPI, session: Session) -> EhrSettings:
    """Return the file/environment settings with the admin page's values on top."""
    base: EhrSettings = app.state.ehr_base_settings
    row = session.get(EhrConfigRow, 1)
    if row is None:
        return base
    overrides = {k: v for k, v in row.values.items() if k in ADMIN_FIELDS}
    return EhrSettings.model_validate({**base.model_dump(), **overrides})


def _start(app: FastAPI) -> None:
    settings: EhrSettings = app.state.ehr_settings
    db = app.state.db
    parts: list[Any] = []
    try:
        if settings.enabled and settings.worker_in_server:
            from clinic.ehr.worker import EhrWorker

            worker = EhrWorker(
                settings, db.writer, db.reader, public_base_url=app.state.settings.public_base_url
            )
            if not getattr(app.state, "ehr_wake_hooked", False):
                _wake_on_commit(
                    db.writer, lambda: app.state.ehr_worker and app.state.ehr_worker.wake()
                )
                app.state.ehr_wake_hooked = True
            worker.start()
            app.state.ehr_worker = worker
            parts.append(worker)
        if settings.siu_listen_port is not None:
            from clinic.ehr.schedule import SiuListener

            listener = SiuListener(settings, db.writer, app.state.settings.tz)
            listener.start()
            app.state.ehr_listener = listener
            parts.append(listener)
        if settings.fhir_enabled and settings.schedule_poll_seconds > 0:
            from clinic.ehr.schedule import SchedulePoller

            poller = SchedulePoller(settings, db.writer, app.state.settings.tz)
            poller.start()
            app.state.ehr_poller = poller
            parts.append(poller)
    finally:
        app.state.ehr_parts = parts


def _stop(app: FastAPI) -> None:
    for part in reversed(app.state.ehr_parts):
        part.stop()
    app.state.ehr_parts = []


@contextmanager
def running(app: FastAPI) -> Iterator[None]:
    """Run the worker, the SIU listener and the schedule poller while the app runs."""
    try:
        with app.state.db.reader() as session:
            _apply(app, effective_settings(app, session))
    except SQLAlchemyError:
        # Not migrated yet (first start before `clinic-server migrate`): file settings only.
        log.warning("EHR admin settings not readable; using the file/environment settings")
    with app.state.ehr_lock:
        _start(app)
    watcher = _ConfigWatcher(app, app.state.ehr_base_settings.config_check_seconds)
    watcher.start()
    try:
        yield
    finally:
        watcher.stop()
        with app.state.ehr_lock:
            _stop(app)


class _ConfigWatcher:
    """Apply admin-page settings saved by another server process (`config_check_seconds`)."""

    def __init__(self, app: FastAPI, interval: float) -> None:
        self.app, self.interval = app, interval
        self._stop = threading.Event()
        self._seen = self._stamp()
        self._thread = threading.Thread(target=self._run, name="ehr-config", daemon=True)

    def _stamp(self) -> object:
        try:
            with self.app.state.db.reader() as session:
                row = session.get(EhrConfigRow, 1)
                return (row.updated_at, row.values) if row is not None else None
        except SQLAlchemyError:
            return None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            stamp = self._stamp()
            if stamp == self._seen:
                continue
            self._seen = stamp
            if stamp == self.app.state.ehr_applied_stamp:
                continue  # this process saved it and applied it already
            try:
                with self.app.state.db.reader() as session:
                    reconfigure(self.app, session)
                log.info("EHR link settings changed on the admin page: applied")
            except Exception:  # noqa: BLE001 - keep the running link, try at the next change
                log.exception("EHR link settings could not be applied")


def reconfigure(app: FastAPI, session: Session) -> EhrSettings:
    """Apply newly saved admin settings in this process: stop the parts, start them again."""
    settings = effective_settings(app, session)
    row = session.get(EhrConfigRow, 1)
    app.state.ehr_applied_stamp = (row.updated_at, row.values) if row is not None else None
    with app.state.ehr_lock:
        _stop(app)
        _apply(app, settings)
        _start(app)
    return settings


def _wake_on_commit(writer: Any, wake: Any) -> None:
    """Wake the worker after a commit that queued a message (no wait for its poll)."""

    @event.listens_for(writer, "after_commit")
    def _wake(session: Session) -> None:
        if session.info.pop(WAKE_INFO_KEY, False):
            wake()


def serve() -> int:
    """Run the EHR link without the HTTP server until SIGTERM/SIGINT (`ehr-worker`)."""
    import signal

    from clinic.config import Settings
    from clinic.db import Database

    settings = Settings.from_env()
    ehr = EhrSettings.from_env().model_copy(update={"worker_in_server": True})
    app = FastAPI()
    app.state.settings = settings
    app.state.db = Database(settings)
    install(app, ehr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("EHR link running for targets %s", ", ".join(ehr.targets) or "(none)")
    with running(app):
        stop.wait()
    app.state.db.dispose()
    return 0
