"""Today's queue and the estimated wait.

Formula (also in docs/server.md):
- I, minutes per patient: the median gap between consecutive call-ins among today's last
  11 call-ins (10 gaps); with fewer than 2 gaps today, the configured default
  (default_minutes_per_patient). Clipped to 1..120 minutes. The median ignores a long
  lunch pause or a burst of call-ins.
- The next call-in is expected at max(now, last call-in today + I) (now when none today).
- The patient at position p (1 = next to be called) is expected at next + (p - 1) * I; the
  estimate is that minus now, in whole minutes, never negative.
- The kiosk's QueueState for someone arriving now uses position = waiting + 1.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from clinic.config import Settings
from clinic.models import Arrival, ArrivalStatus
from sync.protocol import QueueState
from sync.rules import day_bounds, local_day

RECENT_CALLS = 11
MIN_GAPS = 2


def today_bounds(tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """Return [start, end) of the clinic's local day containing now, in the clinic's zone."""
    start, end = day_bounds(local_day(now, tz), tz)
    return start.astimezone(tz), end.astimezone(tz)


@dataclass(frozen=True)
class Pace:
    minutes_per_patient: float
    next_call_at: datetime


def current_pace(*, session: Session, settings: Settings, now: datetime) -> Pace:
    """Measure how quickly patients are being called in today."""
    start, _end = today_bounds(settings.tz, now)
    calls = session.scalars(
        select(Arrival.called_at)
        .where(Arrival.called_at.is_not(None), Arrival.called_at >= start)
        .order_by(Arrival.called_at.desc())
        .limit(RECENT_CALLS)
    ).all()
    called = sorted(c for c in calls if c is not None)
    gaps = [(b - a).total_seconds() / 60 for a, b in zip(called, called[1:], strict=False)]
    if len(gaps) >= MIN_GAPS:
        per_patient = min(120.0, max(1.0, statistics.median(gaps)))
    else:
        per_patient = float(settings.default_minutes_per_patient)
    next_call = now
    if called:
        next_call = max(now, called[-1] + timedelta(minutes=per_patient))
    return Pace(minutes_per_patient=per_patient, next_call_at=next_call)


def estimate_minutes(pace: Pace, position: int, now: datetime) -> int:
    """Return the estimated wait in minutes for the patient at `position` (1 = next)."""
    expected = pace.next_call_at + timedelta(minutes=pace.minutes_per_patient * (position - 1))
    return max(0, round((expected - now).total_seconds() / 60))


def estimate_steady_until(pace: Pace, position: int, now: datetime) -> datetime:
    """Return a time until which estimate_minutes(pace, position, t) keeps its value at now.

    Holds while the pace itself does not change (no call-in, no new arrival). Once the next
    call-in is due the estimate no longer moves with time; before that it counts down and
    changes each time the minutes left cross a half minute (it is rounded).
    """
    if pace.next_call_at <= now:
        return datetime.max.replace(tzinfo=now.tzinfo)
    expected = pace.next_call_at + timedelta(minutes=pace.minutes_per_patient * (position - 1))
    left = (expected - now).total_seconds() / 60
    # The last half minute at or below what is left (now itself when exactly on one).
    half = math.floor(left - 0.5) + 0.5
    return min(pace.next_call_at, expected - timedelta(minutes=max(half, 0.0)))


def waiting_today(*, session: Session, settings: Settings, now: datetime) -> int:
    """Return how many of today's arrivals are still waiting."""
    start, end = today_bounds(settings.tz, now)
    return waiting_since(session, start, Arrival.arrived_at < end)


def waiting_since(session: Session, start: datetime, *where: ColumnElement[bool]) -> int:
    """Count the waiting arrivals since start that also meet the conditions in where."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Arrival)
            .where(Arrival.status == ArrivalStatus.WAITING, Arrival.arrived_at >= start, *where)
        )
        or 0
    )


def queue_state(*, session: Session, settings: Settings, now: datetime) -> QueueState:
    """Return the queue as a kiosk shows it: people waiting and the wait for a new arrival."""
    waiting = waiting_today(session=session, settings=settings, now=now)
    pace = current_pace(session=session, settings=settings, now=now)
    return QueueState(
        waiting=waiting, estimated_wait_minutes=estimate_minutes(pace, waiting + 1, now)
    )


def position_of(
    *, session: Session, settings: Settings, arrival: Arrival, now: datetime
) -> int | None:
    """Return an arrival's place among today's waiting patients (1 = next), None if not waiting."""
    if arrival.status != ArrivalStatus.WAITING:
        return None
    start, _end = today_bounds(settings.tz, now)
    ahead = waiting_since(
        session,
        start,
        (Arrival.arrived_at < arrival.arrived_at)
        | ((Arrival.arrived_at == arrival.arrived_at) & (Arrival.id < arrival.id)),
    )
    return ahead + 1


def estimated_wait_for(
    *, session: Session, settings: Settings, arrival: Arrival, now: datetime
) -> int | None:
    """Return the estimated wait in minutes for a waiting arrival (None if not waiting)."""
    position = position_of(session=session, settings=settings, arrival=arrival, now=now)
    if position is None:
        return None
    pace = current_pace(session=session, settings=settings, now=now)
    return estimate_minutes(pace, position, now)
