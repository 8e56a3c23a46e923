"""Wait-time ranges from the clinic's own recent history (the rule is in docs/queue.md).

An estimate is a range: the 50th to the 90th percentile of what comparable patients
waited. "Comparable" means the same queue (the same clinician; walk-ins form their own
queue) at about the same time of day (within TIME_OF_DAY_MINUTES of the clock time, measured
round the clock, so 23:50 and 00:10 are 20 minutes apart) over the last WINDOW (a rolling
window ending now, not a calendar day: a clinic open past midnight keeps its pace at 00:00).

- A booked patient is called at about their appointment time plus how late that
  clinician runs: the sample is `called_at - max(arrived_at, starts_at)` (the lateness),
  and the estimate is the time until the appointment plus the lateness percentiles. A
  patient still waiting past the appointment is compared only with samples that ran at
  least as late (what is left of their wait, not the whole of it).
- A walk-in waits for the walk-ins ahead: the sample is the wait divided by the number of
  walk-ins ahead plus one (minutes per place), and the estimate is that times their place.

With fewer than MIN_SAMPLES comparable samples the estimate falls back to the configured
minutes per patient times the place in the queue (the rule the server used before), shown
as a range from that figure to half as much again (at least FALLBACK_SPREAD_MINUTES more).
The pure functions here take the history and the clock as arguments; `load_history`
reads it from the database.
"""

from __future__ import annotations

import bisect
import math
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic.models import (
    Appointment,
    AppointmentStatus,
    Arrival,
    ArrivalStatus,
    EstimateQuality,
)

WINDOW = timedelta(days=28)
TIME_OF_DAY_MINUTES = 60
MIN_SAMPLES = 12
#: A call this recent tells how late a clinician is running now.
RUNNING_LATE_SPAN = timedelta(hours=2)
LOW_QUANTILE = 0.5
HIGH_QUANTILE = 0.9
FALLBACK_SPREAD_MINUTES = 5
#: A walk-in queue: the key its history and estimates are grouped under.
WALK_IN = ""


@dataclass(frozen=True)
class PastWait:
    """One finished wait: a patient who was called in."""

    queue: str  # the clinician, or WALK_IN
    arrived_at: datetime
    starts_at: datetime | None  # the appointment time (None for a walk-in)
    called_at: datetime
    ahead: int  # patients of the same queue waiting when this one arrived
    #: How late the queue ran at the last call before this patient arrived (None: no call
    #: in the last RUNNING_LATE_SPAN).
    running_late: float | None = None

    @property
    def lateness(self) -> float:
        """Return minutes from the appointment (or arrival, if later) to the call."""
        anchor = self.arrived_at if self.starts_at is None else max(self.arrived_at, self.starts_at)
        return _minutes(self.called_at - anchor)


@dataclass(frozen=True)
class WaitRange:
    """An estimated wait in whole minutes, low (median) to high (90th percentile)."""

    low: int
    high: int
    from_history: bool
    samples: int

    @property
    def point(self) -> int:
        """Return the single figure to score against the real wait (the median)."""
        return self.low


def minute_of_day(at: datetime, tz: ZoneInfo) -> int:
    """Return the clinic-local clock time of `at` in minutes after midnight."""
    local = at.astimezone(tz)
    return local.hour * 60 + local.minute


def clock_distance(a: int, b: int) -> int:
    """Return the minutes between two clock times, round the clock (23:50 to 00:10 is 20)."""
    d = abs(a - b) % 1440
    return min(d, 1440 - d)


def quantile(values: Sequence[float], q: float) -> float:
    """Return the q-quantile of values (linear interpolation between order statistics)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q
    lower = math.floor(pos)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (pos - lower)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _comparable(
    history: Iterable[PastWait], queue: str, reference: datetime, now: datetime, tz: ZoneInfo
) -> list[PastWait]:
    """Return the same queue's waits in the rolling window near `reference`'s clock time."""
    target = minute_of_day(reference, tz)
    since = now - WINDOW
    out = []
    for past in history:
        if past.queue != queue or not (since <= past.called_at <= now):
            continue
        anchor = past.arrived_at if past.starts_at is None else max(past.arrived_at, past.starts_at)
        if clock_distance(minute_of_day(anchor, tz), target) <= TIME_OF_DAY_MINUTES:
            out.append(past)
    return out


def fallback_range(minutes: float) -> WaitRange:
    """Return the configured rule's figure as a range (history too short)."""
    low = max(0, round(minutes))
    high = max(low + FALLBACK_SPREAD_MINUTES, round(low * 1.5))
    return WaitRange(low=low, high=high, from_history=False, samples=0)


def estimate_wait(
    history: Iterable[PastWait],
    *,
    queue: str,
    now: datetime,
    tz: ZoneInfo,
    arrived_at: datetime | None = None,
    starts_at: datetime | None = None,
    place: int = 1,
    fallback_minutes: float,
) -> WaitRange:
    """Estimate the wait left, from `now`, for a patient of `queue` (place 1 = next).

    `arrived_at` is when they arrived (default now); `starts_at` their appointment time
    (None for a walk-in); `place` their place among the queue's waiting patients, counting
    themselves; `fallback_minutes` the configured rule's estimate for them.
    """
    arrived = arrived_at or now
    history = list(history)
    modelled = _queue_model(history, queue=queue, now=now, tz=tz, starts_at=starts_at, place=place)
    if modelled is not None:
        return modelled
    if starts_at is not None and queue != WALK_IN:
        anchor = max(arrived, starts_at)
        reference = max(now, starts_at)
        history = list(history)
        samples = _comparable(history, queue, reference, now, tz)
        elapsed = max(0.0, _minutes(now - anchor))
        until = max(0.0, _minutes(starts_at - now))
        late_now = running_late(history, queue, now)
        if late_now is not None:
            # How much later (or less late) the queue ran by the sample's call than at
            # the last call before the sample arrived: added to how late it runs now.
            drift = [
                late_now + p.lateness - p.running_late
                for p in samples
                if p.running_late is not None
            ]
            left = [x - elapsed for x in drift if x >= elapsed]
            if len(left) >= MIN_SAMPLES:
                return _range(
                    until + max(0.0, quantile(left, LOW_QUANTILE)),
                    until + max(0.0, quantile(left, HIGH_QUANTILE)),
                    len(left),
                )
        left = [p.lateness - elapsed for p in samples if p.lateness >= elapsed]
        if len(left) < MIN_SAMPLES:
            return fallback_range(fallback_minutes)
        return _range(
            until + quantile(left, LOW_QUANTILE), until + quantile(left, HIGH_QUANTILE), len(left)
        )
    samples = _comparable(history, WALK_IN if starts_at is None else queue, now, now, tz)
    per_place = [_minutes(p.called_at - p.arrived_at) / (p.ahead + 1) for p in samples]
    if len(per_place) < MIN_SAMPLES:
        return fallback_range(fallback_minutes)
    places = max(1, place)
    return _range(
        places * quantile(per_place, LOW_QUANTILE),
        places * quantile(per_place, HIGH_QUANTILE),
        len(per_place),
    )


#: Consecutive calls further apart than this were not one visit after another (a pause).
MAX_SERVICE = timedelta(minutes=90)
#: The high end of the queue model: the 90th percentile of a normal sum.
Z90 = 1.2816


def service_times(
    history: Sequence[PastWait], queue: str, reference: datetime, now: datetime, tz: ZoneInfo
) -> list[float]:
    """Return the queue's visit lengths near `reference`'s clock time in the window.

    A visit's length is the gap between two consecutive calls when the second patient was
    already ready (arrived, and their appointment due) at the first call: the clinician
    went from one straight to the next.
    """
    since = now - WINDOW
    calls = sorted(
        (p for p in history if p.queue == queue and since <= p.called_at <= now),
        key=lambda p: p.called_at,
    )
    target = minute_of_day(reference, tz)
    out = []
    for a, b in zip(calls, calls[1:], strict=False):
        gap = b.called_at - a.called_at
        if gap > MAX_SERVICE or b.arrived_at > a.called_at:
            continue
        if b.starts_at is not None and b.starts_at > a.called_at:
            continue
        if clock_distance(minute_of_day(a.called_at, tz), target) <= TIME_OF_DAY_MINUTES:
            out.append(_minutes(gap))
    return out


def _queue_model(
    history: Sequence[PastWait],
    *,
    queue: str,
    now: datetime,
    tz: ZoneInfo,
    starts_at: datetime | None,
    place: int,
) -> WaitRange | None:
    """Estimate from the queue itself: the visit in progress, then one visit per place ahead.

    Used when the queue called someone within RUNNING_LATE_SPAN and the window holds
    MIN_SAMPLES visit lengths at this time of day. A booked patient is not called before
    their appointment time plus how early this clinician calls when free (the 10th
    percentile of comparable lateness).
    """
    recent = [
        p for p in history if p.queue == queue and now - RUNNING_LATE_SPAN <= p.called_at <= now
    ]
    if not recent:
        return None
    last = max(recent, key=lambda p: p.called_at)
    visits = service_times(history, queue, now, now, tz)
    if len(visits) < MIN_SAMPLES:
        return None
    mean = statistics.fmean(visits)
    spread = statistics.pstdev(visits)
    elapsed = _minutes(now - last.called_at)
    rest = [v - elapsed for v in visits if v > elapsed]
    remaining = statistics.median(rest) if rest else 0.0
    ahead = max(0, place - 1)
    busy_low = remaining + ahead * mean
    busy_high = busy_low + Z90 * spread * math.sqrt(ahead + 1)
    if starts_at is None or queue == WALK_IN:
        return _range(busy_low, busy_high, len(visits))
    samples = _comparable(history, queue, starts_at, now, tz)
    if len(samples) < MIN_SAMPLES:
        return None
    ready = _minutes(starts_at - now) + quantile([p.lateness for p in samples], 0.1)
    return _range(max(ready, busy_low), max(ready, busy_high), len(visits))


def running_late(history: Iterable[PastWait], queue: str, now: datetime) -> float | None:
    """Return how late the queue's latest call (within RUNNING_LATE_SPAN) was, if any."""
    latest: PastWait | None = None
    for p in history:
        recent = p.queue == queue and now - RUNNING_LATE_SPAN <= p.called_at <= now
        if recent and (latest is None or p.called_at > latest.called_at):
            latest = p
    return None if latest is None else latest.lateness


def _range(low: float, high: float, samples: int) -> WaitRange:
    lo = max(0, round(low))
    return WaitRange(low=lo, high=max(lo, math.ceil(high)), from_history=True, samples=samples)


def with_places_ahead(
    waits: Sequence[tuple[str, datetime, datetime | None, datetime | None]],
) -> list[PastWait]:
    """Turn (queue, arrived_at, starts_at, called_at) rows into PastWaits with `ahead` counted.

    Rows without called_at (no-shows, still waiting) count as ahead of later arrivals while
    they wait but give no sample themselves.
    """
    by_queue: dict[str, list[tuple[str, datetime, datetime | None, datetime | None]]] = {}
    for row in waits:
        by_queue.setdefault(row[0], []).append(row)
    out: list[PastWait] = []
    for rows in by_queue.values():
        rows.sort(key=lambda r: r[1])
        calls = sorted((r for r in rows if r[3] is not None), key=lambda r: r[3] or r[1])
        call_times = [r[3] for r in calls if r[3] is not None]
        for i, (queue, arrived, starts, called) in enumerate(rows):
            if called is None:
                continue
            ahead = 0
            for j in range(i - 1, -1, -1):
                earlier = rows[j]
                if arrived - earlier[1] > timedelta(hours=12):
                    break
                if earlier[3] is not None and earlier[3] > arrived:
                    ahead += 1
            late = None
            before = bisect.bisect_right(call_times, arrived) - 1
            if before >= 0 and arrived - call_times[before] <= RUNNING_LATE_SPAN:
                last = calls[before]
                assert last[3] is not None
                late = PastWait(queue, last[1], last[2], last[3], 0).lateness
            out.append(PastWait(queue, arrived, starts, called, ahead, late))
    return out


# ---------------------------------------------------------------------------------------
# Reading the history from the database (cached briefly: the follow-up page polls)
# ---------------------------------------------------------------------------------------
HISTORY_CACHE_SECONDS = 60.0
_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, datetime, list[PastWait]]] = {}


def _cache_key(session: Session) -> str:
    """Return the database the session reads (caches are per database)."""
    bind = session.get_bind()
    return str(getattr(bind, "url", None) or getattr(bind.engine, "url", ""))


def queue_of(arrival: Arrival, appointment: Appointment | None) -> str:
    """Return the queue an arrival waits in: its clinician, or WALK_IN."""
    if appointment is not None:
        return appointment.clinician
    return WALK_IN if arrival.walk_in or not arrival.clinician else arrival.clinician


def load_history(*, session: Session, now: datetime, use_cache: bool = True) -> list[PastWait]:
    """Return the finished waits of the rolling window ending at `now`."""
    key = _cache_key(session)
    if use_cache:
        with _cache_lock:
            hit = _cache.get(key)
        if (
            hit
            and time.monotonic() - hit[0] < HISTORY_CACHE_SECONDS
            and hit[1] <= now < hit[1] + timedelta(seconds=HISTORY_CACHE_SECONDS)
        ):
            return hit[2]
    rows = session.execute(
        select(Arrival, Appointment)
        .outerjoin(Appointment, Arrival.appointment_id == Appointment.id)
        .where(Arrival.arrived_at >= now - WINDOW - timedelta(hours=12), Arrival.arrived_at <= now)
    ).all()
    raw = []
    for arrival, appointment in rows:
        if arrival.status == ArrivalStatus.NO_SHOW and arrival.called_at is None:
            continue
        raw.append(
            (
                queue_of(arrival, appointment),
                arrival.arrived_at,
                appointment.starts_at if appointment is not None else None,
                arrival.called_at,
            )
        )
    history = with_places_ahead(raw)
    if use_cache:
        with _cache_lock:
            _cache[key] = (time.monotonic(), now, history)
    return history


def clear_cache() -> None:
    """Forget cached history (after a change staff expect to see at once, and in tests)."""
    with _cache_lock:
        _cache.clear()


@dataclass(frozen=True)
class Accuracy:
    """How good past estimates were: median absolute error and share past the range top."""

    scored: int
    median_abs_error_minutes: float | None
    over_top_share: float | None


def accuracy(pairs: Iterable[tuple[WaitRange, float]]) -> Accuracy:
    """Score (estimate, real wait in minutes) pairs."""
    errors = []
    over = 0
    for est, real in pairs:
        errors.append(abs(est.point - real))
        if real > est.high:
            over += 1
    if not errors:
        return Accuracy(0, None, None)
    return Accuracy(len(errors), statistics.median(errors), over / len(errors))


# ---------------------------------------------------------------------------------------
# Estimates for the server's pages
# ---------------------------------------------------------------------------------------
#: Who counts as still in the queue: arrived within this span (rolling, as clinic.calling).
QUEUE_SPAN = timedelta(hours=18)


#: A booked patient not arrived yet still counts as ahead this long after their time.
LATE_ARRIVAL = timedelta(minutes=15)


def _place_in_queue(
    session: Session, arrival: Arrival, appointment: Appointment | None, now: datetime
) -> int:
    """Return the arrival's place in its queue (1 = next).

    Walk-ins: the waiting walk-ins who arrived earlier. Booked patients: the clinician's
    patients booked earlier and not called yet, waiting or not arrived yet (until
    LATE_ARRIVAL after their time: the server cannot tell a no-show in advance).
    """
    if appointment is None:
        query = (
            select(func.count())
            .select_from(Arrival)
            .where(
                Arrival.status == ArrivalStatus.WAITING,
                Arrival.appointment_id.is_(None),
                Arrival.arrived_at >= arrival.arrived_at - QUEUE_SPAN,
                (Arrival.arrived_at < arrival.arrived_at)
                | ((Arrival.arrived_at == arrival.arrived_at) & (Arrival.id < arrival.id)),
            )
        )
        return (session.scalar(query) or 0) + 1
    earlier = (
        Appointment.clinician == appointment.clinician,
        Appointment.starts_at < appointment.starts_at,
        Appointment.starts_at >= appointment.starts_at - QUEUE_SPAN,
    )
    waiting = (
        session.scalar(
            select(func.count())
            .select_from(Arrival)
            .join(Appointment, Arrival.appointment_id == Appointment.id)
            .where(Arrival.status == ArrivalStatus.WAITING, *earlier)
        )
        or 0
    )
    not_arrived = (
        session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at >= now - LATE_ARRIVAL,
                *earlier,
            )
        )
        or 0
    )
    return waiting + not_arrived + 1


def range_for_arrival(
    *, session: Session, arrival: Arrival, now: datetime, tz: ZoneInfo, fallback_minutes: float
) -> WaitRange | None:
    """Return the wait still ahead of a waiting patient (None when not waiting)."""
    if arrival.status != ArrivalStatus.WAITING:
        return None
    appointment = arrival.appointment
    return estimate_wait(
        load_history(session=session, now=now),
        queue=queue_of(arrival, appointment),
        now=now,
        tz=tz,
        arrived_at=arrival.arrived_at,
        starts_at=appointment.starts_at if appointment is not None else None,
        place=_place_in_queue(session, arrival, appointment, now),
        fallback_minutes=fallback_minutes,
    )


def range_for_walk_in(
    *, session: Session, now: datetime, tz: ZoneInfo, fallback_minutes: float
) -> WaitRange:
    """Return the wait for a walk-in arriving now (the display's and the kiosk's figure)."""
    waiting = (
        session.scalar(
            select(func.count())
            .select_from(Arrival)
            .where(
                Arrival.status == ArrivalStatus.WAITING,
                Arrival.appointment_id.is_(None),
                Arrival.arrived_at >= now - QUEUE_SPAN,
            )
        )
        or 0
    )
    return estimate_wait(
        load_history(session=session, now=now),
        queue=WALK_IN,
        now=now,
        tz=tz,
        place=waiting + 1,
        fallback_minutes=fallback_minutes,
    )


def lateness_ranges(*, session: Session, now: datetime, tz: ZoneInfo) -> dict[str, tuple[int, int]]:
    """Return each clinician's lateness range now (minutes after the appointment time)."""
    history = load_history(session=session, now=now)
    out: dict[str, tuple[int, int]] = {}
    for clinician in sorted({p.queue for p in history if p.queue != WALK_IN}):
        est = estimate_wait(
            history, queue=clinician, now=now, tz=tz, starts_at=now, fallback_minutes=0
        )
        if est.from_history:
            out[clinician] = (est.low, est.high)
    return out


#: How many of the latest called-in patients the dashboard scores the estimator on.
SCORED_PATIENTS = 200


def recent_accuracy(
    *, session: Session, now: datetime, tz: ZoneInfo, fallback_minutes: float
) -> Accuracy:
    """Replay the estimator for the latest called-in patients and score it.

    Each patient is estimated as at their arrival, from the history before it (what the
    kiosk and the follow-up page would have shown), and compared with the real wait.
    """
    rows = session.execute(
        select(Arrival, Appointment)
        .outerjoin(Appointment, Arrival.appointment_id == Appointment.id)
        .where(
            Arrival.called_at.is_not(None),
            Arrival.called_at <= now,
            Arrival.called_at >= now - WINDOW,
        )
        .order_by(Arrival.called_at.desc())
        .limit(SCORED_PATIENTS)
    ).all()
    if not rows:
        return Accuracy(0, None, None)
    earliest = min(a.arrived_at for a, _ in rows)
    history = load_history(session=session, now=now, use_cache=False)
    older = load_history(session=session, now=earliest, use_cache=False)
    known = {(p.queue, p.arrived_at, p.called_at) for p in history}
    history = history + [p for p in older if (p.queue, p.arrived_at, p.called_at) not in known]
    by_queue: dict[str, list[PastWait]] = {}
    for p in history:
        by_queue.setdefault(p.queue, []).append(p)
    pairs = []
    for arrival, appointment in rows:
        assert arrival.called_at is not None
        queue = queue_of(arrival, appointment)
        same = by_queue.get(queue, [])
        # Who was ahead is not stored: those of the queue called after this one arrived
        # and who had arrived before it.
        ahead = sum(1 for p in same if p.arrived_at < arrival.arrived_at < p.called_at)
        est = estimate_wait(
            [p for p in same if p.called_at < arrival.arrived_at],
            queue=queue,
            now=arrival.arrived_at,
            tz=tz,
            starts_at=appointment.starts_at if appointment is not None else None,
            place=ahead + 1,
            fallback_minutes=fallback_minutes * (ahead + 1),
        )
        pairs.append((est, (arrival.called_at - arrival.arrived_at).total_seconds() / 60))
    return accuracy(pairs)


#: The row of `estimate_quality` the periodic job rewrites.
ESTIMATE_QUALITY_ROW = 1
#: How often the periodic job scores the estimator again: the replay reads up to 200
#: arrivals and 28 days of history, and a few more patients called change the score little.
SCORE_EVERY = timedelta(minutes=5)


def accuracy_due(session: Session, now: datetime) -> bool:
    """Tell whether the kept score is missing or older than SCORE_EVERY."""
    row = session.get(EstimateQuality, ESTIMATE_QUALITY_ROW)
    return row is None or row.computed_at <= now - SCORE_EVERY


def store_accuracy(
    *, session: Session, now: datetime, tz: ZoneInfo, fallback_minutes: float
) -> Accuracy:
    """Score the estimator (recent_accuracy) and keep the result for the arrivals page.

    Run by the periodic job (clinic/alerting.py), never in a page request: the replay reads
    up to SCORED_PATIENTS arrivals and the history before them.
    """
    result = recent_accuracy(session=session, now=now, tz=tz, fallback_minutes=fallback_minutes)
    row = session.get(EstimateQuality, ESTIMATE_QUALITY_ROW)
    if row is None:
        row = EstimateQuality(id=ESTIMATE_QUALITY_ROW, computed_at=now, scored=0)
        session.add(row)
    row.computed_at = now
    row.scored = result.scored
    row.median_abs_error_minutes = result.median_abs_error_minutes
    row.over_top_share = result.over_top_share
    return result


def stored_accuracy(session: Session) -> Accuracy:
    """Return the score the periodic job kept last (nothing scored before its first run)."""
    row = session.get(EstimateQuality, ESTIMATE_QUALITY_ROW)
    if row is None:
        return Accuracy(0, None, None)
    return Accuracy(row.scored, row.median_abs_error_minutes, row.over_top_share)
