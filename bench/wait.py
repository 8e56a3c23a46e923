"""Replay a simulated month of a clinic and score wait estimates against the real waits.

The clinic (synthetic, seeded): three clinicians with booked appointments from 08:00 to
18:00 (Dr Ash every 15 min, about 14 min a visit; Dr Birch every 20 min, about 23 min, so
she runs late as the day goes on; Dr Cedar every 10 min, about 9 min) with a lunch gap,
and a walk-in service from 17:00 to 02:00 (past midnight) seen in arrival order by one
nurse, busiest in the evening. Patients arrive about 10 minutes before their appointment
(normal, sd 9 min, some late), 6 % never come, and each clinician's pace varies from day
to day. A clinician who is free calls the arrived patient with the earliest appointment,
not more than 5 minutes before its time.

Each patient gets, at the moment they arrive, two estimates from what had happened before
that moment only:
- the current rule (clinic.queue): minutes per patient = median gap between today's last
  call-ins across the clinic (calendar day), times the place among all waiting patients;
- the estimator (clinic.waits): a p50-p90 range from the last 28 days of the same queue
  at that time of day (cold start: the month starts with no history, so the first days
  use the fallback).

Printed: median absolute error of each (the estimator scored by its median, the range's
low end) and the share of real waits past the top of the range. Targets: MAE at least 30 %
below the current rule's, top exceeded in at most 15 % of waits.

Usage: .venv/bin/python bench/wait.py [--days 30] [--seed 7]
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinic import waits  # noqa: E402
from clinic.queue import MIN_GAPS, RECENT_CALLS, Pace, estimate_minutes  # noqa: E402

TZ = ZoneInfo("UTC")
DEFAULT_MINUTES_PER_PATIENT = 10


@dataclass(frozen=True)
class Clinician:
    name: str
    slot_minutes: int
    service_mean: float
    service_sd: float


CLINICIANS = (
    Clinician("Dr Ash", 15, 14.0, 5.0),
    Clinician("Dr Birch", 20, 23.0, 8.0),
    Clinician("Dr Cedar", 10, 9.0, 3.0),
)
NURSE = Clinician("Nurse (walk-ins)", 0, 11.0, 5.0)


@dataclass
class Patient:
    queue: str
    arrived_at: datetime
    starts_at: datetime | None
    no_show: bool = False
    called_at: datetime | None = None
    estimates: dict[str, object] = field(default_factory=dict)


def _lognormal(rng: random.Random, mean: float, sd: float) -> float:
    var = (sd / mean) ** 2
    sigma = (1 + var) ** 0.5
    import math

    s2 = math.log(1 + var)
    return rng.lognormvariate(math.log(mean) - s2 / 2, s2**0.5) if sigma else mean


def simulate_day(day: datetime, rng: random.Random) -> list[Patient]:
    """Return one day's patients with their real call-in times."""
    patients: list[Patient] = []
    for c in CLINICIANS:
        pace = rng.lognormvariate(0, 0.12)
        booked = []
        t = day.replace(hour=8)
        while t < day.replace(hour=18):
            lunch = day.replace(hour=12, minute=30) <= t < day.replace(hour=13, minute=30)
            if not lunch and rng.random() < 0.9:
                early = rng.gauss(10, 9)
                arrived = t - timedelta(minutes=max(-25.0, min(45.0, early)))
                booked.append(Patient(c.name, arrived, t, no_show=rng.random() < 0.06))
            t += timedelta(minutes=c.slot_minutes)
        _serve(booked, c, pace, rng, booked_queue=True)
        patients += booked
    # Walk-ins: 17:00-02:00, busiest 18:00-21:00.
    walk_ins = []
    t = day.replace(hour=17)
    end = day.replace(hour=2) + timedelta(days=1)
    while True:
        hour = t.astimezone(TZ).hour
        rate = 6.0 if 18 <= hour < 21 else 4.0  # per hour
        t += timedelta(minutes=rng.expovariate(rate / 60))
        if t >= end:
            break
        walk_ins.append(Patient(waits.WALK_IN, t, None, no_show=rng.random() < 0.03))
    _serve(walk_ins, NURSE, rng.lognormvariate(0, 0.12), rng, booked_queue=False)
    return patients + walk_ins


def _serve(
    patients: list[Patient], c: Clinician, pace: float, rng: random.Random, *, booked_queue: bool
) -> None:
    """Call patients in: earliest appointment first (or arrival order), one at a time."""
    todo = [p for p in patients if not p.no_show]
    if not todo:
        return
    t = min(p.arrived_at for p in todo)
    while todo:
        ready = [
            p
            for p in todo
            if p.arrived_at <= t
            and (p.starts_at is None or p.starts_at - timedelta(minutes=5) <= t)
        ]
        if not ready:
            t = min(
                max(p.arrived_at, (p.starts_at or p.arrived_at) - timedelta(minutes=5))
                for p in todo
            )
            continue
        nxt = min(ready, key=lambda p: (p.starts_at or p.arrived_at, p.arrived_at))
        nxt.called_at = t
        todo.remove(nxt)
        t += timedelta(minutes=_lognormal(rng, c.service_mean * pace, c.service_sd))


def current_rule(calls_today: list[datetime], waiting: int, now: datetime) -> float:
    """The server's current estimate (clinic.queue) for a patient arriving now."""
    called = sorted(calls_today)[-RECENT_CALLS:]
    gaps = [(b - a).total_seconds() / 60 for a, b in zip(called, called[1:], strict=False)]
    if len(gaps) >= MIN_GAPS:
        per_patient = min(120.0, max(1.0, statistics.median(gaps)))
    else:
        per_patient = float(DEFAULT_MINUTES_PER_PATIENT)
    next_call = now
    if called:
        next_call = max(now, called[-1] + timedelta(minutes=per_patient))
    return float(estimate_minutes(Pace(per_patient, next_call), waiting + 1, now))


def booked_ahead(p: Patient, queue: list[Patient], now: datetime) -> int:
    """Count the clinician's patients booked before p and not called yet, as the server can.

    Arrived and waiting, or not arrived yet with an appointment less than 15 minutes past
    (they may still come: the server cannot tell a no-show in advance).
    """
    assert p.starts_at is not None
    count = 0
    for q in queue:
        if q is p or q.starts_at is None or not (q.starts_at < p.starts_at):
            continue
        if p.starts_at - q.starts_at > timedelta(hours=12):
            continue
        if q.called_at is not None and q.called_at <= now:
            continue
        arrived = not q.no_show and q.arrived_at <= now
        if arrived or q.starts_at >= now - timedelta(minutes=15):
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--warmup",
        type=int,
        default=28,
        help="days simulated before the month as the clinic's history (not scored); "
        "0 scores a new installation's cold start",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    first = datetime(2026, 3, 2, tzinfo=TZ)
    everyone: list[Patient] = []
    for d in range(args.warmup + args.days):
        everyone += simulate_day(first + timedelta(days=d), rng)
    scored_from = first + timedelta(days=args.warmup)
    arrivals = sorted((p for p in everyone if not p.no_show), key=lambda p: p.arrived_at)
    calls = sorted(
        ((p.called_at, p) for p in everyone if p.called_at is not None), key=lambda x: x[0]
    )
    ours: list[tuple[waits.WaitRange, float]] = []
    base_errors: list[float] = []
    from_history = 0
    per_queue: dict[str, list[tuple[waits.WaitRange, float, float]]] = {}
    # Every finished wait, as clinic.waits.load_history builds them; the estimator only
    # looks at those called before the moment it estimates for.
    history = waits.with_places_ahead(
        [(p.queue, p.arrived_at, p.starts_at, p.called_at) for p in everyone if not p.no_show]
    )
    history.sort(key=lambda w: w.called_at)
    by_queue: dict[str, list[Patient]] = {}
    for q in everyone:
        by_queue.setdefault(q.queue, []).append(q)
    ci = 0
    for p in arrivals:
        now = p.arrived_at
        while ci < len(calls) and calls[ci][0] <= now:
            ci += 1
        finished = [w for w in history[:ci] if w.called_at >= now - waits.WINDOW]
        waiting_all = [
            q
            for q in arrivals
            if q.arrived_at < now
            and (q.called_at is None or q.called_at > now)
            and now - q.arrived_at < timedelta(hours=12)
        ]
        if p.starts_at is None:
            same_queue_ahead = sum(1 for q in waiting_all if q.queue == p.queue)
        else:
            same_queue_ahead = booked_ahead(p, by_queue[p.queue], now)
        day_start = now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        calls_today = [c for c, _ in calls[:ci] if c >= day_start]
        baseline = current_rule(calls_today, len(waiting_all), now)
        est = waits.estimate_wait(
            finished,
            queue=p.queue,
            now=now,
            tz=TZ,
            starts_at=p.starts_at,
            place=same_queue_ahead + 1,
            fallback_minutes=baseline,
        )
        assert p.called_at is not None
        if now < scored_from:
            continue
        real = (p.called_at - p.arrived_at).total_seconds() / 60
        ours.append((est, real))
        base_errors.append(abs(baseline - real))
        per_queue.setdefault(p.queue or "walk-ins", []).append((est, real, baseline))
        from_history += est.from_history
    score = waits.accuracy(ours)
    baseline_mae = statistics.median(base_errors)
    assert score.median_abs_error_minutes is not None and score.over_top_share is not None
    mae = score.median_abs_error_minutes
    for name, rows in sorted(per_queue.items()):
        q = waits.accuracy((e, r) for e, r, _b in rows)
        print(
            f"{name:>10}: {len(rows)} waits, estimator MAE {q.median_abs_error_minutes:.1f} min, "
            f"current rule {statistics.median(abs(b - r) for _e, r, b in rows):.1f} min, "
            f"past the top {q.over_top_share:.0%}"
        )
    print(
        f"simulated days: {args.warmup} of history, then {args.days} scored; "
        f"patients scored: {len(ours)}"
    )
    print(f"estimates from history: {from_history} ({from_history / len(ours):.0%}), rest fallback")
    print(f"current rule  median absolute error: {baseline_mae:.1f} min")
    print(
        f"estimator     median absolute error: {mae:.1f} min "
        f"({(1 - mae / baseline_mae):.0%} lower; target >= 30%)"
    )
    print(f"real wait past the range top: {score.over_top_share:.1%} (target <= 15%)")
    print(
        json.dumps(
            {
                "mae_minutes": round(mae, 2),
                "baseline_mae_minutes": round(baseline_mae, 2),
                "over_top_share": round(score.over_top_share, 4),
                "improvement": round(1 - mae / baseline_mae, 3),
                "scored": len(ours),
                "days": args.days,
                "warmup_days": args.warmup,
                "seed": args.seed,
            }
        )
    )


if __name__ == "__main__":
    main()
