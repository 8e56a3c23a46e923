"""Wire the EHR link into the server: queue targets on writer sessions, worker, listener."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.orm import Session

from clinic.ehr import feedback
from clinic.ehr.config import EhrSettings
from clinic.ehr.queue import FEEDBACK_INFO_KEY, TARGETS_INFO_KEY, WAKE_INFO_KEY

log = logging.getLogger(__name__)


def install(app: FastAPI, ehr: EhrSettings | None = None) -> None:
    """Tell the app's writer sessions which targets to queue for; keep the settings."""
    settings = ehr or EhrSettings.from_env()
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
    app.include_router(feedback.router)


@contextmanager
def running(app: FastAPI) -> Iterator[None]:
    """Run the worker, the SIU listener and the schedule poller while the app runs."""
    settings: EhrSettings = app.state.ehr_settings
    db = app.state.db
    started: list[Any] = []
    try:
        if settings.enabled and settings.worker_in_server:
            from clinic.ehr.worker import EhrWorker

            worker = EhrWorker(
                settings, db.writer, db.reader, public_base_url=app.state.settings.public_base_url
            )
            _wake_on_commit(db.writer, worker.wake)
            worker.start()
            app.state.ehr_worker = worker
            started.append(worker)
        if settings.siu_listen_port is not None:
            from clinic.ehr.schedule import SiuListener

            listener = SiuListener(settings, db.writer, app.state.settings.tz)
            listener.start()
            app.state.ehr_listener = listener
            started.append(listener)
        if settings.fhir_enabled and settings.schedule_poll_seconds > 0:
            from clinic.ehr.schedule import SchedulePoller

            poller = SchedulePoller(settings, db.writer, app.state.settings.tz)
            poller.start()
            app.state.ehr_poller = poller
            started.append(poller)
        yield
    finally:
        for part in reversed(started):
            part.stop()


def _wake_on_commit(writer: Any, wake: Any) -> None:
    """Wake the worker after a commit that queued a message (no wait for its poll)."""

    @event.listens_for(writer, "after_commit")
    def _wake(session: Session) -> None:
        if session.info.pop(WAKE_INFO_KEY, False):
            wake()


def serve() -> int:
    """Run the EHR link without the HTTP server until SIGTERM/SIGINT (`ehr-worker`)."""
    import signal
    import threading

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
