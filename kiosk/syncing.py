"""Wire the background sync (sync.worker) into the kiosk: state, store, purge, pairing.

The worker knows nothing of the kiosk; this module gives it a session factory and
callbacks that read the pairing from kiosk.state, store pulls with kiosk.store.apply_pull,
record sync health in kiosk.state, and purge acknowledged identifying data. Everything
networky runs in background threads; the UI only ever reads kiosk.state (sync_status).

    start_sync(kiosk)                 # at app start (and again after stop_sync)
    stop_sync(kiosk, timeout=2.0)     # at app stop: returns within the bound
    request_pairing(kiosk, url, code, on_done)   # admin screen; on_done from a thread
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import metadata
from typing import Any, Protocol

from kiosk import state
from kiosk.clockcheck import bounded_skew, clock_problem
from kiosk.config import KioskSettings
from kiosk.crash import crash_stats
from kiosk.db import Database
from kiosk.facade import N_
from kiosk.purge import PurgeReport, purge
from kiosk.state import StateKey
from kiosk.store import apply_pull
from sync.client import KioskClient, Refused, Retryable, Unauthorized
from sync.protocol import KioskPull
from sync.rules import server_base_url
from sync.worker import Credentials, SyncHooks, SyncWorker, WorkerSettings

log = logging.getLogger(__name__)

#: How often the worker thread looks for acknowledged data to purge.
PURGE_INTERVAL_SECONDS = 600.0


# Same members as kiosk/demo.py's DemoHost: each module states only what it uses of
# kiosk.services.Kiosk as a Protocol of its own (decision 0005).
class _Kiosk(Protocol):
    """What this module uses of kiosk.services.Kiosk."""

    @property
    def db(self) -> Database: ...

    @property
    def settings(self) -> KioskSettings: ...

    def now(self) -> datetime: ...

    def add_commit_listener(self, listener: Callable[[], None]) -> None: ...


def app_version() -> str:
    """Return the installed package version (what the heartbeat reports)."""
    try:
        return metadata.version("waiting-room-kiosk")
    except metadata.PackageNotFoundError:
        return "0.1.0"


_workers: weakref.WeakKeyDictionary[Any, SyncWorker] = weakref.WeakKeyDictionary()
_purge_threads: weakref.WeakKeyDictionary[Any, _PurgeLoop] = weakref.WeakKeyDictionary()
_listening: weakref.WeakSet[Any] = weakref.WeakSet()


def _credentials(kiosk: _Kiosk) -> Credentials | None:
    with kiosk.db.read_session() as session:
        token = state.get_state(StateKey.KIOSK_TOKEN, session=session)
        url = state.get_state(StateKey.SERVER_URL, session=session)
    if not token:
        return None
    return Credentials(server_url=url or str(kiosk.settings.server_url), token=token)


def _on_pull(kiosk: _Kiosk, pull: KioskPull, etag: str | None) -> None:
    with kiosk.db.sessions.begin() as session:
        apply_pull(pull, session=session)
        state.set_state(StateKey.PULL_ETAG, etag, session=session)
    _status_changed(kiosk)  # the UI picks up clinic details between patients


def _load_etag(kiosk: _Kiosk) -> str | None:
    with kiosk.db.read_session() as session:
        return state.get_state(StateKey.PULL_ETAG, session=session)


def _on_status(kiosk: _Kiosk, changes: dict[str, Any]) -> None:
    with kiosk.db.sessions.begin() as session:
        for key, value in changes.items():
            if isinstance(value, bool):
                state.set_flag(key, value, session=session)
            elif isinstance(value, datetime):
                state.set_datetime(key, value, session=session)
            else:  # None deletes (online unknown, no error)
                state.set_state(key, None if value is None else str(value), session=session)
    _status_changed(kiosk)


def _heartbeat_extras(kiosk: _Kiosk) -> dict[str, Any]:
    """Return the crash count and the clock's health for the heartbeat."""
    with kiosk.db.read_session() as session:
        crashes = crash_stats(session=session)
        skew = state.get_int(StateKey.CLOCK_SKEW_SECONDS, session=session)
    now = kiosk.now()
    return {
        "crash_count": min(crashes.count, 2**31 - 1),
        "last_crash_at": crashes.last_crash_at,
        "clock_skew_seconds": bounded_skew(skew),
        "clock_problem": clock_problem(now, skew),
    }


_status_listeners: weakref.WeakKeyDictionary[Any, list[Callable[[], None]]] = (
    weakref.WeakKeyDictionary()
)


def watch_status(kiosk: _Kiosk, callback: Callable[[], None]) -> None:
    """Call `callback()` (from any thread) whenever what sync_status() shows may have changed.

    The UI passes a Kivy Clock trigger: the sync mark is read again once, on the UI thread,
    after a record is saved, acknowledged or parked, or the worker's health changes.
    """
    _status_listeners.setdefault(kiosk, []).append(callback)
    kiosk.add_commit_listener(callback)


def unwatch_status(kiosk: _Kiosk, callback: Callable[[], None]) -> None:
    """Stop calling `callback` from the sync side (commit listeners stay with the kiosk)."""
    listeners = _status_listeners.get(kiosk, [])
    if callback in listeners:
        listeners.remove(callback)


def _status_changed(kiosk: _Kiosk) -> None:
    for callback in list(_status_listeners.get(kiosk, [])):
        try:
            callback()
        except Exception:
            log.exception("status listener failed")


def worker_settings(kiosk: _Kiosk, **overrides: Any) -> WorkerSettings:
    """Return the worker settings for this kiosk: the worker's defaults, and `overrides`.

    Batch size, intervals and backoff are not kiosk settings (KioskSettings has none):
    they are WorkerSettings' defaults, which tests and benches override here.
    """
    values: dict[str, Any] = {"app_version": app_version(), **overrides}
    return WorkerSettings(**values)


class _PurgeLoop:
    """Run kiosk.purge now and then, off the UI thread, until stopped."""

    def __init__(self, kiosk: _Kiosk, interval: float) -> None:
        self._kiosk = kiosk
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-purge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        owed = False  # erased rows whose old bytes a failed compaction left in the file
        while not self._stop.is_set():
            try:
                report = _purge(self._kiosk, force_compact=owed)
                owed = report.compaction_owed or (owed and not report.compacted)
            except Exception:
                log.exception("purge failed; will try again")
            self._stop.wait(self._interval)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._thread.join(timeout)


def _purge(kiosk: _Kiosk, now: datetime | None = None, force_compact: bool = False) -> PurgeReport:
    hours = kiosk.settings.retention_hours
    # 0: keep until the end of the clinic day on which the server acked the record.
    retention = timedelta(hours=float(hours)) if hours else None
    days = kiosk.settings.sent_retention_days
    return purge(
        kiosk.db.engine,
        kiosk.db.sessions,
        tz=kiosk.settings.tz,
        retention=retention,
        sent_retention=timedelta(days=float(days)) if days else None,
        # The kiosk's own clock decides which clinic day it is (match keys, cut-offs).
        now=now or kiosk.now(),
        force_compact=force_compact,
        # Each batch after the kiosk's other writers, which go first when they arrive.
        step_aside=kiosk.db.gate.background,
    )


def purge_now(kiosk: _Kiosk, now: datetime | None = None) -> int:
    """Erase identifying fields that are due (and delete old records); return rows erased."""
    return _purge(kiosk, now).erased


def start_sync(
    kiosk: _Kiosk,
    *,
    settings: WorkerSettings | None = None,
    purge_interval: float | None = PURGE_INTERVAL_SECONDS,
) -> SyncWorker:
    """Start the background worker (and the purge loop) for this kiosk; return the worker."""
    running = _workers.get(kiosk)
    if running is not None and running.is_alive and not running.stopping:
        return running
    hooks = SyncHooks(
        credentials=lambda: _credentials(kiosk),
        on_pull=lambda pull, etag: _on_pull(kiosk, pull, etag),
        load_etag=lambda: _load_etag(kiosk),
        on_status=lambda changes: _on_status(kiosk, changes),
        heartbeat_extras=lambda: _heartbeat_extras(kiosk),
        on_outbox_change=lambda: _status_changed(kiosk),
    )
    worker = SyncWorker(
        kiosk.db.sessions,
        hooks,
        settings or worker_settings(kiosk),
        clock=kiosk.now,  # one clock for the kiosk: skew is measured on it
    )
    worker.start()
    _workers[kiosk] = worker
    if kiosk not in _listening:
        # Send a new record at once instead of at the next poll.
        kiosk.add_commit_listener(lambda: nudge(kiosk))
        _listening.add(kiosk)
    if purge_interval is not None and kiosk not in _purge_threads:
        loop = _PurgeLoop(kiosk, purge_interval)
        loop.start()
        _purge_threads[kiosk] = loop
    return worker


def nudge(kiosk: _Kiosk) -> None:
    """Tell the worker a record was just saved, so it sends without waiting for its poll."""
    worker = _workers.get(kiosk)
    if worker is not None:
        worker.nudge()


def stop_sync(kiosk: _Kiosk, timeout: float = 2.0) -> bool:
    """Stop the worker within `timeout` s; True if it ended (unsent rows stay queued)."""
    loop = _purge_threads.pop(kiosk, None)
    if loop is not None:
        loop.stop(0.0)  # a purge in progress finishes by itself: it is one transaction
    worker = _workers.pop(kiosk, None)
    if worker is None:
        return True
    return worker.stop(timeout)


def request_pairing(
    kiosk: _Kiosk,
    server_url: str,
    pairing_code: str,
    on_done: Callable[[str | None], None],
    *,
    timeout: tuple[float, float] = (3.05, 10.0),
) -> threading.Thread | None:
    """Pair with the server in a background thread; on_done(None) or on_done(msgid)."""
    url = server_base_url(server_url)
    code = "".join(pairing_code.split())
    if url is None:
        on_done(N_("Enter the server address, e.g. https://clinic.example.org"))
        return None
    if not 6 <= len(code) <= 32:
        on_done(N_("Enter the pairing code shown on the server"))
        return None

    def work() -> None:
        client = KioskClient(url, timeout=timeout)
        letter = kiosk.settings.kiosk_letter
        try:
            paired = client.pair(code, kiosk_name=f"Kiosk {letter}", app_version=app_version())
        except Retryable:
            on_done(N_("Could not reach the server. Check the address and the network."))
            return
        except (Unauthorized, Refused):
            on_done(N_("The pairing code was not accepted. Ask for a new code."))
            return
        except Exception:
            log.exception("pairing failed")
            on_done(N_("Pairing failed. Please try again."))
            return
        finally:
            client.close()
        with kiosk.db.sessions.begin() as session:
            state.set_state(StateKey.SERVER_URL, url, session=session)
            state.set_state(StateKey.KIOSK_ID, str(paired.kiosk_id), session=session)
            state.set_state(StateKey.KIOSK_TOKEN, paired.token, session=session)
            state.set_state(StateKey.PULL_ETAG, None, session=session)
            state.set_flag(StateKey.REVOKED, False, session=session)
            state.set_state(StateKey.LAST_ERROR, None, session=session)
        log.info("paired with the clinic server as kiosk %s", paired.kiosk_id)
        worker = _workers.get(kiosk)
        if worker is not None:
            worker.nudge_credentials()
        _status_changed(kiosk)
        on_done(None)

    thread = threading.Thread(target=work, name="kiosk-pairing", daemon=True)
    thread.start()
    return thread
