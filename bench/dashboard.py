"""Time each dashboard page and the follow-up page on a large database (SQLite, PostgreSQL).

Fills a fresh database with 1,000,000 ratings (a year of them, a third with the detailed
answers) and 100,000 questions, starts the real server (uvicorn) on loopback, logs in as an
admin and requests every page N times, printing p50/p95 per page. The last line of output is
one JSON object. Target: p95 <= 300 ms on SQLite.

    .venv/bin/python bench/dashboard.py                # both databases, full size
    .venv/bin/python bench/dashboard.py --ratings 100000 --questions 10000 --db sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

from browser_support import start_server  # noqa: E402

from clinic.accounts import create_user  # noqa: E402
from clinic.config import Settings  # noqa: E402
from clinic.db import Database, migrate  # noqa: E402
from clinic.followup.models import FollowUpResponse  # noqa: E402
from clinic.models import (  # noqa: E402
    Arrival,
    ClinicConfig,
    FollowUpToken,
    Kiosk,
    Question,
    Rating,
    StaffRole,
)
from clinic.security import hash_token  # noqa: E402

ADMIN = ("bench-admin", "bench password 123")
CHUNK = 20_000
COMMENTS = [
    "The receptionist was very kind.",
    "Waited too long without any update.",
    "Clean waiting room, thank you.",
    "Parking was hard to find.",
    "=SUM(A1:A9) (formula-looking text)",
]


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ratings(
    n: int, kiosks: list[uuid.UUID], now: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    span = 365 * 24 * 3600
    faces = [1, 2, 3, 4, 4, 5, 5, 5]
    for _ in range(n):
        rated = now - timedelta(seconds=rng.randrange(span) + 3600)
        detailed = rng.random() < 0.33
        row: dict[str, Any] = {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "kiosk_id": rng.choice(kiosks),
            "face": rng.choice(faces),
            "appointment_ref": None,
            "rated_at": rated,
            "received_at": rated,
            "language": "es" if rng.random() < 0.3 else "en",
            "ease_of_contact": None,
            "waiting_time": None,
            "politeness": None,
            "kept_informed": None,
            "overall": None,
            "would_recommend": None,
            "comment": None,
            "consent_to_contact": False,
            "contact_phone": None,
            "detail_at": None,
            "review_state": "new",
            "staff_note": None,
            "reviewed_by_id": None,
            "reviewed_at": None,
        }
        if detailed:
            for dim in (
                "ease_of_contact",
                "waiting_time",
                "politeness",
                "kept_informed",
                "overall",
            ):
                row[dim] = rng.randint(1, 5)
            row["would_recommend"] = rng.randint(0, 10)
            row["detail_at"] = rated
            if rng.random() < 0.15:
                row["comment"] = rng.choice(COMMENTS)
        yield row


def _questions(
    n: int, kiosks: list[uuid.UUID], now: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    span = 365 * 24 * 3600
    for i in range(n):
        asked = now - timedelta(seconds=rng.randrange(span) + 60)
        is_open = i % 50 == 0  # 2% still open
        yield {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "kiosk_id": rng.choice(kiosks),
            "text": f"Synthetic question number {i}: where is the pharmacy?",
            "contact_name": None,
            "contact_phone": None,
            "contact_email": None,
            "emergency": rng.random() < 0.01,
            "language": "en",
            "asked_at": asked,
            "received_at": asked,
            "answer": None if is_open else "Ground floor, next to the lifts.",
            "answered_by_id": None,
            "answered_at": None if is_open else asked + timedelta(minutes=20),
            "done": not is_open,
            "done_at": None if is_open else asked + timedelta(minutes=20),
        }


def _naive(row: dict[str, Any]) -> dict[str, Any]:
    """Return the row with aware datetimes as naive UTC (how the server stores them)."""
    return {
        k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
        for k, v in row.items()
    }


def _copy_rows(engine: Any, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    """Bulk-load rows into PostgreSQL with COPY (psycopg 3)."""
    columns = [c.name for c in table.columns]
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([_naive(row)[c] for c in columns])
        raw.commit()
    finally:
        raw.close()


def populate(database_url: str, n_ratings: int, n_questions: int) -> dict[str, Any]:
    """Migrate and fill the database; return tokens to request and timings."""
    started = time.perf_counter()
    migrate(database_url)
    settings = Settings(database_url=database_url, environment="test")
    db = Database(settings)
    rng = random.Random(42)
    now = datetime.now(UTC)
    kiosks = [uuid.uuid4() for _ in range(4)]
    with db.writer.begin() as session:
        ClinicConfig.of(session).name = "Bench Clinic"
        create_user(session=session, username=ADMIN[0], password=ADMIN[1], role=StaffRole.ADMIN)
        for i, kid in enumerate(kiosks):
            session.add(
                Kiosk(
                    id=kid,
                    name=f"Kiosk {i + 1}",
                    token_hash=secrets.token_hex(32),
                    last_seen_at=now,
                    app_version="1.0.0",
                    backlog=i,
                    failed=0,
                )
            )
    fill_started = time.perf_counter()
    engine = db.engine
    for table, rows in (
        (Rating.__table__, _ratings(n_ratings, kiosks, now, rng)),
        (Question.__table__, _questions(n_questions, kiosks, now, rng)),
    ):
        if engine.dialect.name == "postgresql":
            _copy_rows(engine, table, rows)
            continue
        for batch in _chunks(rows):
            with engine.begin() as conn:
                conn.execute(insert(table), batch)  # Core executemany, no ORM objects
    fill_seconds = time.perf_counter() - fill_started
    tokens: dict[str, str] = {}
    with db.writer.begin() as session:
        # Today's queue: 60 arrivals, a third already called in.
        start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        first_arrival = None
        for i in range(60):
            arrived = min(now, start_of_day + timedelta(minutes=5 * i))
            aid = uuid.uuid4()
            called = arrived + timedelta(minutes=15) if i < 20 else None
            session.add(
                Arrival(
                    id=aid,
                    kiosk_id=kiosks[0],
                    walk_in=i % 5 == 0,
                    queue_number=f"A{i:03d}",
                    status="called_in" if called else "waiting",
                    arrived_at=arrived,
                    called_at=called,
                    language="en",
                    first_name="Synthetic",
                    last_name=f"Patient{i}",
                    reason="Check-up" if i % 5 == 0 else None,
                )
            )
            if i == 40:
                first_arrival = aid
        last_rating = session.execute(
            text("SELECT id FROM ratings ORDER BY rated_at DESC LIMIT 1")
        ).scalar_one()
        last_question = session.execute(
            text("SELECT id FROM questions ORDER BY asked_at DESC LIMIT 1")
        ).scalar_one()
        for kind, target in (
            ("check_in", first_arrival),
            ("question", last_question),
            ("rating", last_rating),
        ):
            token = secrets.token_urlsafe(18)
            tokens[kind] = token
            target_id = target if isinstance(target, uuid.UUID) else uuid.UUID(str(target))
            session.add(
                FollowUpToken(
                    token_hash=hash_token(token),
                    kind=kind,
                    target_id=target_id,
                    language="en",
                    created_at=now,
                    expires_at=now + timedelta(days=2),
                )
            )
    assert FollowUpResponse  # the table exists (migration 0101)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    db.dispose()
    return {
        "tokens": tokens,
        "fill_seconds": round(fill_seconds, 1),
        "setup_seconds": round(time.perf_counter() - started, 1),
    }


def _start_server(database_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        "CLINIC_DATABASE_URL": database_url,
        "CLINIC_ENVIRONMENT": "test",
        "CLINIC_FOLLOW_UP_REQUESTS_PER_MINUTE": "100000",
    }
    return start_server(workdir, env, timeout=60)


def _login(client: httpx.Client) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login page"
    response = client.post(
        "/login",
        data={
            "username": ADMIN[0],
            "password": ADMIN[1],
            "csrf_token": token.group(1),
            "next": "/dashboard/arrivals",
        },
    )
    assert response.status_code == 303, response.text[:500]


def measure(base: str, tokens: dict[str, str], repeats: int) -> dict[str, dict[str, float]]:
    """Request every page `repeats` times; return p50/p95 milliseconds per page."""
    today = datetime.now(UTC).date()
    pages = {
        "arrivals": "/dashboard/arrivals",
        "questions_open": "/dashboard/questions",
        "questions_done": "/dashboard/questions?view=done",
        "feedback_30_days": "/dashboard/feedback",
        "feedback_filtered": "/dashboard/feedback?face=unhappy&has_comment=1&politeness=1",
        "feedback_365_days": f"/dashboard/feedback?date_from={today - timedelta(days=364)}",
        "kiosks": "/dashboard/kiosks",
        "admin": "/dashboard/admin",
        "follow_up_check_in": f"/f/{tokens['check_in']}",
        "follow_up_question": f"/f/{tokens['question']}",
        "follow_up_rating": f"/f/{tokens['rating']}",
    }
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60, headers={"Accept": "text/html"}) as client:
        _login(client)
        # The first year-long view sums every closed day once (bulk-loaded rows have no
        # stored day sums yet); reported apart, as a one-off cost after an import.
        t0 = time.perf_counter()
        client.get(pages["feedback_365_days"])
        results["first_feedback_365_days_view"] = {
            "p50_ms": round((time.perf_counter() - t0) * 1000, 1),
            "p95_ms": round((time.perf_counter() - t0) * 1000, 1),
        }
        first = client.get("/dashboard/feedback")
        older = re.search(r'href="(/dashboard/feedback\?[^"]*before=[^"]+)"', first.text)
        if older:
            pages["feedback_page_2"] = older.group(1).replace("&amp;", "&")
        for name, path in pages.items():
            client.get(path)  # warm up caches, as a page a clinic keeps open
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (
                    name,
                    response.status_code,
                    response.text[:300],
                )
            times.sort()
            results[name] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[max(0, int(len(times) * 0.95 + 0.5) - 1)], 1),
            }
            print(
                f"  {name:22s} p50 {results[name]['p50_ms']:7.1f} ms  "
                f"p95 {results[name]['p95_ms']:7.1f} ms",
                flush=True,
            )
    return results


def run_one(kind: str, n_ratings: int, n_questions: int, repeats: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-dashboard-{kind}-"))
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'clinic.db'}"
    else:
        pg_name = f"clinic_bench_{secrets.token_hex(4)}"
        admin = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    print(f"{kind}: filling {n_ratings:,} ratings and {n_questions:,} questions ...", flush=True)
    info = populate(url, n_ratings, n_questions)
    print(f"{kind}: filled in {info['fill_seconds']} s; measuring ...", flush=True)
    print(f"{kind}: load average before measuring {os.getloadavg()[0]:.2f}", flush=True)
    process, base = _start_server(url, workdir)
    try:
        pages = measure(base, info["tokens"], repeats)
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)
        if pg_name:
            admin = create_engine(
                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
    one_off = pages.pop("first_feedback_365_days_view")
    worst = max(p["p95_ms"] for p in pages.values())
    return {
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "fill_seconds": info["fill_seconds"],
        "first_year_view_ms": one_off["p50_ms"],
        "pages": pages,
        "worst_p95_ms": worst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    result: dict[str, Any] = {
        "ratings": args.ratings,
        "questions": args.questions,
        "repeats": args.repeats,
        "target_p95_ms_sqlite": 300,
        "cpus": os.cpu_count(),
    }
    for kind in kinds:
        result[kind] = run_one(kind, args.ratings, args.questions, args.repeats)
    if "sqlite" in result:
        result["sqlite_meets_target"] = result["sqlite"]["worst_p95_ms"] <= 300
    print(json.dumps(result))


if __name__ == "__main__":
    main()
