"""The kiosk's last-resort exception handler: log safely, count, recover to the welcome screen.

A kiosk stands alone in a waiting room: an unexpected exception in a screen callback must
not close the app. kiosk/app.py hands every exception that reaches Kivy's main loop (and,
through `threading.excepthook`, every one that ends a worker thread) to `CrashGuard`,
which:

- logs only the exception's type and where it was raised (file, line, function), never its
  message, arguments or locals: a `ValueError` raised while parsing a typed date carries
  the typed text in its message, and a traceback's locals hold names and phone numbers;
- counts the crash in the kiosk database (kiosk.state: crash count and last crash time),
  which the heartbeat reports to the clinic server's kiosks page;
- asks the UI to end the patient session (every entered value forgotten) and show the
  welcome screen, so the next patient starts clean.

A crash loop (more than `max_crashes` within `window_seconds`) is not hidden: the guard then
lets the exception end the process, and the service manager starts a fresh one.
No Kivy here.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from sqlalchemy.orm import Session

from kiosk import state
from kiosk.state import StateKey

log = logging.getLogger(__name__)

#: The project's own top-level packages: the innermost frame in one of them says where.
_OWN_PACKAGES = ("kiosk", "screens", "sync")


@dataclass(frozen=True)
class CrashStats:
    count: int
    last_crash_at: datetime | None


def where(tb: TracebackType | None) -> str:
    """Return "file:line in function" of the innermost frame of our own code (else any)."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    if not frames:
        return "unknown location"
    chosen = frames[-1]
    for frame in reversed(frames):
        if any(f"/{pkg}/" in frame.filename.replace("\\", "/") for pkg in _OWN_PACKAGES):
            chosen = frame
            break
    path = Path(chosen.filename)
    return f"{path.parent.name}/{path.name}:{chosen.lineno} in {chosen.name}"


def describe(exc: BaseException) -> str:
    """Return the exception's type and location only (a message may hold typed text)."""
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return f"{name} at {where(exc.__traceback__)}"


def record_crash(*, session: Session, now: datetime) -> int:
    """Add one crash to the persistent count and stamp its time; return the new count."""
    count = (state.get_int(StateKey.CRASH_COUNT, session=session) or 0) + 1
    state.set_state(StateKey.CRASH_COUNT, str(count), session=session)
    state.set_datetime(StateKey.LAST_CRASH_AT, now, session=session)
    return count


def crash_stats(*, session: Session) -> CrashStats:
    """Return the crash count and last crash time stored in the kiosk database."""
    values = state.get_many((StateKey.CRASH_COUNT, StateKey.LAST_CRASH_AT), session=session)
    return CrashStats(
        count=state.parse_int(values.get(StateKey.CRASH_COUNT)) or 0,
        last_crash_at=state.parse_datetime(values.get(StateKey.LAST_CRASH_AT)),
    )


class CrashGuard:
    """Decide what an unexpected exception does: log, count, recover (or give up)."""

    def __init__(
        self,
        *,
        record: Callable[[], int],
        recover: Callable[[], None],
        max_crashes: int = 5,
        window_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record = record
        self._recover = recover
        self._max = max_crashes
        self._window = window_seconds
        self._monotonic = monotonic
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def _count(self, exc: BaseException, origin: str) -> None:
        log.error("unexpected %s in %s; recovering", describe(exc), origin)
        try:
            total = self._record()
        except Exception as problem:  # e.g. the disk is full: still recover the screen
            log.error("crash not counted: %s", type(problem).__name__)
        else:
            log.info("crash count is now %d", total)

    def handle(self, exc: BaseException) -> bool:
        """Handle an exception from the UI loop; True to keep running, False to let it end."""
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return False  # an operator's Ctrl-C or an explicit exit is not a crash
        now = self._monotonic()
        with self._lock:
            self._recent.append(now)
            while self._recent and now - self._recent[0] > self._window:
                self._recent.popleft()
            looping = len(self._recent) > self._max
        self._count(exc, "the UI")
        if looping:
            log.critical(
                "%d crashes within %.0f s: exiting so the service restarts the kiosk",
                len(self._recent),
                self._window,
            )
            return False
        try:
            self._recover()
        except Exception as problem:
            log.critical("recovery failed (%s): exiting", describe(problem))
            return False
        return True

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        """Replace threading.excepthook: a dying thread is logged safely and counted."""
        if args.exc_value is None or isinstance(args.exc_value, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a thread"
        self._count(args.exc_value, f"thread {name}")


def count_crash(kiosk: object) -> int:
    """Count one crash in a kiosk's database (kiosk.services.Kiosk); return the new count."""
    db = getattr(kiosk, "db", None)
    if db is None:  # a UI driven without a database has nothing to persist
        return 0
    with db.write() as session:
        return record_crash(session=session, now=kiosk.now())  # type: ignore[attr-defined]
