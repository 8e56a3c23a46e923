"""Notice an implausible kiosk clock: before the software's release, or far from the server's.

The kiosk decides "today", check-in windows and queue numbers by its own clock. A kiosk
whose battery-less board boots in 1970, or whose time sync is broken, would send every
patient to the front desk. Two plain checks catch that: the clock reads earlier than the
day this software was released (`RELEASE_DATE`, set when a release is cut), or it is more
than `MAX_SKEW_SECONDS` away from the clinic server's HTTP `Date` header (measured by the
sync worker on every answer). Staff see the warning in the staff corner; the clinic server
sees it in the heartbeat. No Kivy here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.facade import N_
from sync.protocol import MAX_CLOCK_SKEW_SECONDS, ClockProblem

#: The day this version was released; a clock reading earlier than this is wrong for sure.
#: Set at release time together with the version number.
RELEASE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
#: Further than this from the server (seconds) is a wrong clock, not network latency.
MAX_SKEW_SECONDS = 120


def clock_problem(now: datetime, skew_seconds: int | None) -> ClockProblem | None:
    """Return what is wrong with the kiosk's clock, or None if it looks right."""
    if now < RELEASE_DATE:
        return ClockProblem.BEFORE_RELEASE
    if skew_seconds is not None and abs(skew_seconds) > MAX_SKEW_SECONDS:
        return ClockProblem.SKEWED
    return None


def bounded_skew(skew_seconds: int | None) -> int | None:
    """Return the skew within what the heartbeat carries."""
    if skew_seconds is None:
        return None
    return max(-MAX_CLOCK_SKEW_SECONDS, min(MAX_CLOCK_SKEW_SECONDS, skew_seconds))


def warning_msgid(problem: str | None, skew_seconds: int | None) -> str | None:
    """Return the staff corner's warning (an English msgid with {minutes}), or None.

    `problem` is a ClockProblem value as SyncStatus.clock_problem carries it.
    """
    if problem == ClockProblem.BEFORE_RELEASE:
        return N_("Clock wrong: the date is before this software was released. Set the time.")
    if problem == ClockProblem.SKEWED and skew_seconds is not None:
        if skew_seconds > 0:
            return N_("Clock wrong: {minutes} min ahead of the clinic server. Set the time.")
        return N_("Clock wrong: {minutes} min behind the clinic server. Set the time.")
    return None
