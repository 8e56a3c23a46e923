"""Cost per arriving rating of the unhappy-share alert rule: bounded reads vs the 24 h scan.

Fills a fresh database (SQLite file; PostgreSQL too when it answers on 127.0.0.1:5432) with
a day of ratings (default 20,000: a busy clinic group's day, mostly happy, no alert due),
then stores --n more ratings one at a time, as ingest does, and times the rule for each:

- now: `clinic.dashboard.queries.check_unhappy_alert` with the new rating's time, which reads
  only the ratings within one window around it (the rated_at index);
- before: the rule as it was, reading every rating of the last 24 hours for each arrival.

Prints p50/p95 ms and the ratings each read; the last line is one JSON object with
`unhappy_check_p50_ms`, `baseline_check_p50_ms` and `rows_read_per_rating` (the slower
database's figures) and each database's under `by_database`.

    .venv/bin/python bench/unhappy.py [--ratings 20000] [--n 200] [--db auto|sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pg_support import create_database, drop_database, pg_url, postgres_problem  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from clinic.config import Settings  # noqa: E402
from clinic.dashboard import queries  # noqa: E402
from clinic.dashboard.alerts import AlertDecision, evaluate_alert  # noqa: E402
from clinic.db import Database, migrate  # noqa: E402
from clinic.models import Alert, AlertKind, Rating  # noqa: E402

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
CHUNK = 5_000


def baseline_check(*, session: Session, now: datetime) -> tuple[AlertDecision | None, int]:
    """The rule as it was: every rating of the last 24 h at each arrival; (decision, rows)."""
    rule = queries.alert_rule(session=session)
    last = session.scalar(
        select(Alert.details)
        .where(Alert.kind == AlertKind.UNHAPPY_RATINGS)
        .order_by(Alert.raised_at.desc())
        .limit(1)
    )
    last_end = datetime.fromisoformat(last["window_end"]) if isinstance(last, dict) else None
    since = now - queries.ALERT_LOOKBACK
    if last_end is not None:
        since = max(since, last_end)
    recent = session.execute(
        select(Rating.rated_at, Rating.face).where(
            Rating.rated_at > since - rule.window, Rating.rated_at <= now
        )
    ).all()
    if len(recent) < rule.min_responses:
        return None, len(recent)
    decision = evaluate_alert(
        [(r.rated_at, r.face) for r in recent],
        now=now,
        rule=rule,
        last_alert_end=last_end,
        since=since,
    )
    return decision, len(recent)


def fill(db: Database, ratings: int, rng: random.Random) -> None:
    """Store `ratings` happy-enough ratings over the 24 hours before NOW."""
    day = 24 * 3600
    rows: list[dict[str, Any]] = []
    with db.writer.begin() as session:
        for i in range(ratings):
            rated = NOW - timedelta(seconds=day * (i + 1) / (ratings + 1))
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "face": rng.choice((2, 3, 4, 5, 5, 5)),
                    "rated_at": rated,
                    "received_at": rated,
                    "language": "en",
                    "consent_to_contact": False,
                    "review_state": "new",
                }
            )
            if len(rows) >= CHUNK:
                session.execute(insert(Rating), rows)
                rows = []
        if rows:
            session.execute(insert(Rating), rows)


def run(database_url: str, *, ratings: int, n: int) -> dict[str, Any]:
    """Fill one database and time both rules for n arriving ratings."""
    migrate(database_url)
    db = Database(Settings(database_url=database_url, environment="test"))
    rng = random.Random(7)
    try:
        fill(db, ratings, rng)
        new_ms: list[float] = []
        old_ms: list[float] = []
        new_rows: list[int] = []
        old_rows: list[int] = []
        for i in range(n):
            at = NOW + timedelta(seconds=10 * (i + 1))
            with db.writer.begin() as session:
                session.add(
                    Rating(id=uuid.uuid4(), face=rng.choice((3, 4, 5)), rated_at=at, received_at=at)
                )
                session.flush()
                start = time.perf_counter()
                decision = queries.check_unhappy_alert(session=session, now=at, new=[at])
                new_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                old_decision, rows = baseline_check(session=session, now=at)
                old_ms.append((time.perf_counter() - start) * 1000)
                old_rows.append(rows)
                window = queries.alert_rule(session=session).window
                new_rows.append(
                    session.scalar(
                        select(func.count()).where(
                            Rating.rated_at > at - window, Rating.rated_at < at + window
                        )
                    )
                    or 0
                )
                assert decision == old_decision, (decision, old_decision)
        return {
            "ratings_24h": ratings,
            "checks": n,
            "unhappy_check_p50_ms": round(statistics.median(new_ms), 3),
            "unhappy_check_p95_ms": round(statistics.quantiles(new_ms, n=20)[-1], 3),
            "baseline_check_p50_ms": round(statistics.median(old_ms), 3),
            "baseline_check_p95_ms": round(statistics.quantiles(old_ms, n=20)[-1], 3),
            "rows_read_per_rating": round(statistics.mean(new_rows), 1),
            "baseline_rows_read_per_rating": round(statistics.mean(old_rows), 1),
        }
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description="Time the unhappy-share rule per rating.")
    parser.add_argument("--ratings", type=int, default=20_000, help="ratings in the last 24 h")
    parser.add_argument("--n", type=int, default=200, help="arriving ratings to time")
    parser.add_argument("--db", choices=("auto", "sqlite", "postgresql"), default="auto")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    if args.db in ("auto", "sqlite"):
        workdir = Path(tempfile.mkdtemp(prefix="bench-unhappy-"))
        try:
            url = f"sqlite:///{workdir / 'clinic.db'}"
            results["sqlite"] = run(url, ratings=args.ratings, n=args.n)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.db in ("auto", "postgresql"):
        problem = postgres_problem()
        if problem is None:
            name = create_database("clinic_bench_unhappy_")
            try:
                results["postgresql"] = run(pg_url(name), ratings=args.ratings, n=args.n)
            finally:
                drop_database(name)
        elif args.db == "postgresql":
            print(f"PostgreSQL not reachable: {problem}", file=sys.stderr)
            return 2
        else:
            print(f"PostgreSQL skipped: {problem}")
    for database, r in results.items():
        print(
            f"{database}: {r['ratings_24h']} ratings in 24 h, {r['checks']} arrivals; "
            f"rule now p50 {r['unhappy_check_p50_ms']} ms / p95 {r['unhappy_check_p95_ms']} ms "
            f"reading {r['rows_read_per_rating']} ratings; before p50 "
            f"{r['baseline_check_p50_ms']} ms / p95 {r['baseline_check_p95_ms']} ms reading "
            f"{r['baseline_rows_read_per_rating']} ratings"
        )
    summary: dict[str, Any] = {}
    for key in ("unhappy_check_p50_ms", "baseline_check_p50_ms", "rows_read_per_rating"):
        # The slower database's figure (the one a deployment should plan for).
        summary[key] = max((r[key] for r in results.values()), default=None)
    summary["by_database"] = results
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
