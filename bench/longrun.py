"""Benchmark a kiosk after a year in a busy clinic: status cost, commits, file size, purge.

    .venv/bin/python bench/longrun.py [--records 1000000] [--days 365]

Builds a kiosk database holding a year of history (1,000,000 records acknowledged by the
server, identifying fields already erased, as an older kiosk that never deleted anything
would hold), with bulk inserts through the real schema (triggers and indexes included).
Then measures, before and after retention (kiosk/purge.py, `sent_retention_days`):
- the UI's status refresh (`Kiosk.sync_status`, what the sync mark reads), and for
  comparison the old way of counting by scanning the outbox;
- check-in commit latency (`Kiosk.check_in`: one BEGIN IMMEDIATE transaction,
  synchronous=FULL) while nothing else runs, and DURING the purge running in its thread;
- the file size (database + WAL).
Targets: status refresh <= 2 ms whatever the history, commit p99 <= 20 ms during a purge,
file <= 50 MB after retention. Prints progress lines, then one JSON object on the last line.
Synthetic data only.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The benchmark's "now": a weekday afternoon a year into the kiosk's life (UTC clinic).
NOW = datetime(2027, 11, 30, 15, 0, tzinfo=UTC)
#: Most check-ins measured while the purge runs.
DURING_PURGE = 8000
#: Share of each record kind in a busy clinic's day (sums to 1).
MIX = (
    ("check_in", 0.40),
    ("rating", 0.30),
    ("question", 0.10),
    ("walk_in", 0.08),
    ("rating_detail", 0.08),
    ("contact_update", 0.04),
)


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def file_mb(path: Path) -> float:
    """Return the size of the database file plus its WAL, in MB."""
    wal = path.with_name(path.name + "-wal")
    return (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 1e6


def _payload(kind: str, i: int, at: str) -> str:
    token = f"{i:024d}"
    bodies: dict[str, dict[str, Any]] = {
        "check_in": {
            "appointment_ref": f"hist-{i}",
            "checked_in_at": at,
            "queue_number": f"A{i % 1000:03d}",
            "follow_up_token": token,
            "language": "en",
        },
        "rating": {"face": 1 + i % 5, "rated_at": at, "follow_up_token": token, "language": "en"},
        "question": {
            "asked_at": at,
            "emergency_flag": False,
            "follow_up_token": token,
            "language": "en",
        },
        "walk_in": {
            "arrived_at": at,
            "queue_number": f"A{i % 1000:03d}",
            "follow_up_token": token,
            "language": "en",
        },
        "rating_detail": {"rating_id": str(uuid.UUID(int=i)), "ease_of_contact": 4},
        "contact_update": {"check_in_id": str(uuid.UUID(int=i)), "updated_at": at},
    }
    return json.dumps(bodies[kind], separators=(",", ":"))


def build_history(path: Path, records: int, days: int, rng: random.Random) -> None:
    """Insert `records` acknowledged, already-erased records spread over `days` days."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # building the fixture, not measuring it
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    start = NOW - timedelta(days=days)
    step = timedelta(days=days) / records
    chunk = 50_000
    made = 0
    t0 = time.perf_counter()
    while made < records:
        outbox_rows: list[tuple[Any, ...]] = []
        domain: dict[str, list[tuple[Any, ...]]] = {k: [] for k in kinds}
        for i in range(made, min(records, made + chunk)):
            kind = rng.choices(kinds, weights)[0]
            at = start + step * i
            # Acked within seconds, not yet deleted: an outbox that never forgot anything.
            sent = at + timedelta(seconds=5)
            text = at.strftime("%Y-%m-%d %H:%M:%S.%f")
            rid = str(uuid.UUID(int=rng.getrandbits(128)))
            outbox_rows.append(
                (
                    rid,
                    kind,
                    _payload(kind, i, at.isoformat()),
                    text,
                    text,
                    sent.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    text,
                )
            )
            token = f"{i:024d}"
            if kind == "check_in":
                domain[kind].append((rid, f"hist-{i}", text, f"A{i % 1000:03d}", 10, token, "en"))
            elif kind == "walk_in":
                domain[kind].append((rid, f"{i:064x}", text, f"A{i % 1000:03d}", 10, token, "en"))
            elif kind == "rating":
                domain[kind].append((rid, 1 + i % 5, None, text, token, "en"))
            elif kind == "question":
                domain[kind].append((rid, text, 0, token, "en"))
            elif kind == "contact_update":
                domain[kind].append((rid, str(uuid.UUID(int=i)), text, 1, 0))
            # rating_detail rows point at a rating; history keeps only their outbox rows
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO outbox (id, kind, payload, status, attempts, created_at, "
            "next_attempt_at, sent_at, last_error, purged_at) "
            "VALUES (?, ?, ?, 'sent', 1, ?, ?, ?, NULL, ?)",
            outbox_rows,
        )
        conn.executemany(
            "INSERT INTO check_ins (id, appointment_ref, checked_in_at, queue_number, "
            "estimated_wait_minutes, follow_up_token, language) VALUES (?, ?, ?, ?, ?, ?, ?)",
            domain["check_in"],
        )
        conn.executemany(
            "INSERT INTO walk_ins (id, identity_key, arrived_at, queue_number, "
            "estimated_wait_minutes, follow_up_token, language) VALUES (?, ?, ?, ?, ?, ?, ?)",
            domain["walk_in"],
        )
        conn.executemany(
            "INSERT INTO ratings (id, face, appointment_ref, rated_at, follow_up_token, "
            "language) VALUES (?, ?, ?, ?, ?, ?)",
            domain["rating"],
        )
        conn.executemany(
            "INSERT INTO questions (id, asked_at, emergency_flag, follow_up_token, language) "
            "VALUES (?, ?, ?, ?, ?)",
            domain["question"],
        )
        conn.executemany(
            "INSERT INTO contact_updates (id, check_in_id, updated_at, has_phone, has_email) "
            "VALUES (?, ?, ?, ?, ?)",
            domain["contact_update"],
        )
        conn.execute("COMMIT")
        made += len(outbox_rows)
        print(f"  history: {made:,} records ({time.perf_counter() - t0:.0f} s)", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def status_refresh_ms(kiosk: Any, repeat: int = 300) -> tuple[float, float]:
    """Return the median and p99 (ms) of the UI's status read."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        kiosk.sync_status()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), pct(times, 99)


def scan_status_ms(kiosk: Any) -> float:
    """Return the cost (ms) of counting the outbox by scanning it (the old sync mark)."""
    from sync import outbox

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        with kiosk.db.read_session() as session:
            outbox.scan_counts(session=session)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def check_in_times(
    kiosk: Any, refs: list[str], stop: threading.Event | None = None, gap: float = 0.01
) -> list[float]:
    """Check patients in one after another, `gap` s apart; return each commit's ms."""
    times = []
    for ref in refs:
        if stop is not None and stop.is_set():
            break
        t0 = time.perf_counter()
        kiosk.check_in(ref, "en")
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(gap)  # patients arrive one by one, not in a tight loop
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--retention-days", type=int, default=14)
    parser.add_argument("--commits", type=int, default=300)
    args = parser.parse_args()

    from kiosk.config import KioskSettings
    from kiosk.demo import seed_bench_appointments
    from kiosk.purge import BATCH_PAUSE_SECONDS as BATCH_PAUSE
    from kiosk.purge import purge
    from kiosk.services import Kiosk

    rng = random.Random(2027)
    with tempfile.TemporaryDirectory(prefix="longrun-") as tmp:
        settings = KioskSettings(
            data_dir=Path(tmp),
            demo=True,
            server_url="https://clinic.example.test",
            sent_retention_days=args.retention_days,
        )
        clock = lambda: NOW  # noqa: E731 - the kiosk's injected clock
        Kiosk.open(settings, clock=clock, seed_demo=False).close()
        t0 = time.perf_counter()
        build_history(settings.database_path, args.records, args.days, rng)
        build_s = time.perf_counter() - t0
        kiosk = Kiosk.open(settings, clock=clock)
        # During the purge a check-in every 0.1 s (a busy clinic has one a minute): enough
        # for a p99 over the whole purge without adding a day's worth of records to the file.
        refs = seed_bench_appointments(kiosk, 3 * args.commits + DURING_PURGE)
        counts = kiosk.sync_status()
        print(f"built {args.records:,} records in {build_s:.0f} s; pending={counts.pending}")

        before_mb = file_mb(settings.database_path)
        before_status = status_refresh_ms(kiosk)
        before_scan = scan_status_ms(kiosk)
        before_commits = check_in_times(kiosk, refs[: args.commits])
        print(
            f"before retention: file {before_mb:.1f} MB, status refresh median "
            f"{before_status[0]:.3f} ms p99 {before_status[1]:.3f} ms (scanning: "
            f"{before_scan:.1f} ms), check-in commit p50 {statistics.median(before_commits):.1f}"
            f" ms p99 {pct(before_commits, 99):.1f} ms"
        )

        # The purge runs in its own thread, as the kiosk's purge loop does; patients keep
        # checking in meanwhile.
        report: list[Any] = []
        done = threading.Event()

        steps: list[float] = []  # time between two pauses: one batch or vacuum step

        def timed_pause(seconds: float) -> None:
            steps.append(time.perf_counter())
            time.sleep(seconds)

        def run_purge() -> None:
            start = time.perf_counter()
            steps.append(start)
            report.append(
                purge(
                    kiosk.db.engine,
                    kiosk.db.sessions,
                    tz=settings.tz,
                    sent_retention=timedelta(days=args.retention_days),
                    now=NOW,
                    sleep=timed_pause,
                    # As kiosk.syncing does: patients' commits go before each batch.
                    step_aside=kiosk.db.gate.background,
                )
            )
            done.set()

        purge_thread = threading.Thread(target=run_purge, name="purge")
        t0 = time.perf_counter()
        purge_thread.start()
        during = check_in_times(
            kiosk, refs[args.commits : args.commits + DURING_PURGE], stop=done, gap=0.1
        )
        purge_thread.join()
        purge_s = time.perf_counter() - t0
        during_status = status_refresh_ms(kiosk, 50)
        step_ms = [(b - a) * 1000 for a, b in zip(steps, steps[1:], strict=False)]
        print(
            f"purge: deleted {report[0].deleted:,} records, compacted={report[0].compacted} in "
            f"{purge_s:.0f} s; {len(during)} check-ins during it: p50 "
            f"{statistics.median(during):.1f} ms p99 {pct(during, 99):.1f} ms max "
            f"{max(during):.1f} ms; purge steps (batch or vacuum step + {1000 * BATCH_PAUSE:.0f} "
            f"ms pause): p50 {statistics.median(step_ms):.1f} ms p99 {pct(step_ms, 99):.1f} ms "
            f"max {max(step_ms):.1f} ms over {len(step_ms)} steps"
        )

        after_mb = file_mb(settings.database_path)
        after_status = status_refresh_ms(kiosk)
        after_commits = check_in_times(kiosk, refs[-args.commits :])
        print(
            f"after retention: file {after_mb:.1f} MB, status refresh median "
            f"{after_status[0]:.3f} ms p99 {after_status[1]:.3f} ms, check-in commit p50 "
            f"{statistics.median(after_commits):.1f} ms p99 {pct(after_commits, 99):.1f} ms"
        )
        kiosk.close()

    result = {
        "records": args.records,
        "retention_days": args.retention_days,
        # The cost of one refresh: the median; p99 below shows the machine's noise.
        "status_refresh_ms": round(max(before_status[0], after_status[0]), 3),
        "status_refresh_p99_ms_before": round(before_status[1], 3),
        "status_refresh_p99_ms_after": round(after_status[1], 3),
        "status_refresh_median_ms_before": round(before_status[0], 3),
        "status_refresh_median_ms_after": round(after_status[0], 3),
        "status_by_scanning_ms_before": round(before_scan, 1),
        "commit_p99_ms": round(pct(during, 99), 1),
        "commit_p99_ms_before": round(pct(before_commits, 99), 1),
        "commit_p99_ms_after": round(pct(after_commits, 99), 1),
        "commit_max_ms_during_purge": round(max(during), 1),
        "commits_during_purge": len(during),
        "purge_seconds": round(purge_s, 1),
        "purge_step_p99_ms": round(pct(step_ms, 99), 1),
        "purge_step_max_ms": round(max(step_ms), 1),
        "status_refresh_ms_during_purge_p99": round(during_status[1], 3),
        "file_mb_before_retention": round(before_mb, 1),
        "file_mb_after_retention": round(after_mb, 1),
        "build_seconds": round(build_s, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
