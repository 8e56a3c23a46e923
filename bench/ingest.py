"""Benchmark the clinic server's ingest endpoint against a real server process.

For SQLite and PostgreSQL (when 127.0.0.1:5432 answers), start `clinic-server serve` on a
fresh migrated database, pair 32 kiosks, then for 1, 8 and 32 concurrent kiosks (threads,
one HTTP session each) and batches of 1 and 50 records, send synthetic records (ratings,
questions, check-ins, rating details) for a fixed time. Print records/s and request latency
p50/p99 per cell; the last line is one JSON object.

    .venv/bin/python bench/ingest.py [--duration 4] [--backends sqlite,postgresql]
                                     [--pg-workers 2]

Target on this machine: >= 2,000 records/s batched (50) on SQLite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clinic.config import Settings  # noqa: E402
from clinic.db import Database, migrate  # noqa: E402
from clinic.kiosks import create_pairing_code, pair_kiosk  # noqa: E402
from sync.protocol import INGEST_PATH, new_follow_up_token  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CONCURRENCY = (1, 8, 32)
BATCHES = (1, 50)
TARGET_SQLITE_BATCHED = 2000.0
#: Records/s the pre-built bodies suffice for (a kiosk that runs out stops early).
MAX_EXPECTED_RATE = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def synthetic_records(count: int, seq: list[int]) -> list[dict[str, Any]]:
    """Return `count` wire records cycling through the kinds a busy clinic sends."""
    out = []
    now = datetime.now(UTC).isoformat()
    for _ in range(count):
        seq[0] += 1
        n = seq[0]
        rid = str(uuid.uuid4())
        kind = ("rating", "question", "check_in", "rating")[n % 4]
        if kind == "rating":
            body: dict[str, Any] = {
                "face": 1 + n % 5,
                "rated_at": now,
                "language": "en",
                "follow_up_token": new_follow_up_token(),
            }
        elif kind == "question":
            body = {
                "text": f"Synthetic question {n}",
                "asked_at": now,
                "language": "es",
                "follow_up_token": new_follow_up_token(),
            }
        else:
            body = {
                "appointment_ref": f"bench-{n}",
                "checked_in_at": now,
                "queue_number": f"B{n % 1000:03d}",
                "language": "en",
                "follow_up_token": new_follow_up_token(),
            }
        out.append({"id": rid, "kind": kind, "created_at": now, "body": body})
    return out


def measure(
    base_url: str, tokens: list[str], concurrency: int, batch: int, duration: float
) -> dict[str, float]:
    """Send batches from `concurrency` kiosks for `duration` seconds; return rate/latency."""
    latencies: list[float] = []
    stored = [0]
    failures = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    # Bodies are made before the clock starts, so the clients' CPU goes to HTTP, not to
    # building records (client and server share this machine's cores).
    per_kiosk = math.ceil(MAX_EXPECTED_RATE * duration / (concurrency * batch)) + 5

    def kiosk(token: str) -> None:
        seq = [0]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        session.headers["Content-Type"] = "application/json"
        bodies = [
            json.dumps({"records": synthetic_records(batch, seq)}).encode()
            for _ in range(per_kiosk)
        ]
        mine: list[float] = []
        ok = bad = 0
        start_gate.wait()
        while time.perf_counter() < stop_at[0] and bodies:
            payload = bodies.pop()
            t0 = time.perf_counter()
            response = session.post(base_url + INGEST_PATH, data=payload, timeout=60)
            mine.append(time.perf_counter() - t0)
            if response.status_code == 200:
                ok += sum(r["outcome"] == "stored" for r in response.json()["results"])
            else:
                bad += batch
        session.close()
        with lock:
            latencies.extend(mine)
            stored[0] += ok
            failures[0] += bad

    threads = [threading.Thread(target=kiosk, args=(tokens[i],)) for i in range(concurrency)]
    stop_at[0] = float("inf")
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + duration
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99_index = min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))
    return {
        "records_per_s": round(stored[0] / elapsed, 1),
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else 0.0,
        "p99_ms": round(latencies[p99_index] * 1000, 2) if latencies else 0.0,
        "not_stored": failures[0],
    }


def _cpu_seconds(pid: int) -> float:
    """Return CPU seconds (user + system) used by a process and its direct children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is ppid, fields[11]/[12] utime/stime (stat fields 4, 14, 15).
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class ServerProcess:
    """`clinic-server serve` in a child process on a free loopback port."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "CLINIC_DATABASE_URL": database_url,
            "CLINIC_ENVIRONMENT": "test",
            "CLINIC_KIOSK_REQUESTS_PER_MINUTE": "1000000",
            "CLINIC_KIOSK_BURST": "100000",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clinic.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def pair_kiosks(database_url: str, count: int) -> list[str]:
    """Pair `count` kiosks directly in the database; return their tokens."""
    db = Database(Settings(environment="test", database_url=database_url))
    tokens = []
    with db.writer.begin() as session:
        for i in range(count):
            code, _ = create_pairing_code(session=session, settings=db.settings)
            _, token = pair_kiosk(
                session=session, code=code, kiosk_name=f"bench-{i}", app_version="bench"
            )
            tokens.append(token)
    db.dispose()
    return tokens


def run_backend(database_url: str, workers: int, duration: float) -> dict[str, Any]:
    """Benchmark one database; return the per-cell figures."""
    migrate(database_url)
    tokens = pair_kiosks(database_url, max(CONCURRENCY))
    server = ServerProcess(database_url, workers)
    cells: dict[str, Any] = {"server_workers": workers}
    try:
        measure(server.url, tokens, 4, 10, 1.0)  # warm-up: imports, pools, caches
        for batch in BATCHES:
            for concurrency in CONCURRENCY:
                cpu_before = _cpu_seconds(server.process.pid)
                figures = measure(server.url, tokens, concurrency, batch, duration)
                cpu = _cpu_seconds(server.process.pid) - cpu_before
                stored = figures["records_per_s"] * duration
                figures["server_cpu_ms_per_record"] = round(1000 * cpu / max(stored, 1), 3)
                cells[f"c{concurrency}_b{batch}"] = figures
                print(
                    f"  {concurrency:>2} kiosks, batch {batch:>2}: "
                    f"{figures['records_per_s']:>8.1f} records/s  "
                    f"p50 {figures['p50_ms']:>7.2f} ms  p99 {figures['p99_ms']:>7.2f} ms",
                    flush=True,
                )
    finally:
        server.stop()
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per cell")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--sqlite-workers", type=int, default=1)
    parser.add_argument("--pg-workers", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "duration_s_per_cell": args.duration,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
    }
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp:
            print("SQLite:", flush=True)
            results["sqlite"] = run_backend(
                f"sqlite:///{tmp}/bench.db", args.sqlite_workers, args.duration
            )
    if "postgresql" in backends:
        admin = sa.create_engine(
            PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"clinic_bench_{secrets.token_hex(4)}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.OperationalError as exc:
            results["postgresql"] = {"skipped": f"PostgreSQL not available: {exc.orig}"}
        else:
            try:
                print("PostgreSQL:", flush=True)
                results["postgresql"] = run_backend(
                    f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                    args.pg_workers,
                    args.duration,
                )
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    sqlite = results.get("sqlite", {})
    best = max(
        (sqlite.get(f"c{c}_b50", {}).get("records_per_s", 0.0) for c in CONCURRENCY), default=0.0
    )
    results["sqlite_batched_records_per_s_best"] = best
    results["target_sqlite_batched_records_per_s"] = TARGET_SQLITE_BATCHED
    results["meets_target"] = best >= TARGET_SQLITE_BATCHED
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
