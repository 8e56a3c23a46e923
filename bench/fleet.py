"""How many kiosks one clinic server serves: a simulated fleet against `serve --workers 2`.

Starts `clinic-server serve --workers 2` on a fresh PostgreSQL database, registers the
kiosks (token hashes written straight to the database: pairing is not what is measured),
then runs fleets of growing size. Each simulated kiosk is an asyncio task with a real
kiosk's cadence (sync/worker.py): a pull every 30 s (with If-None-Match, as the kiosk's
ETag cache sends it), a heartbeat every 60 s, and a batch of records (check-in, question,
rating, with follow-up tokens) on average every 120 s (exponential gaps), each kiosk
starting at a random phase so the load is steady from the first second. Kiosks keep their
HTTP connections open between requests, as `requests.Session` does.

For each fleet size the run lasts --step-seconds; a fleet is "served" when no request
failed (transport error or any status but 200/304) and the p99 latency is <= 300 ms. The
load generator shares the machine with the server: its own CPU use and the load average
are printed with each step. The last line is one JSON object with `max_kiosks`.

    .venv/bin/python bench/fleet.py [--sizes 250,500,1000,2000,3000,5000] [--step-seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync import protocol  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PULL_SECONDS = 30.0
HEARTBEAT_SECONDS = 60.0
RECORD_MEAN_SECONDS = 120.0
P99_LIMIT_MS = 300.0


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    sent: int = 0  # every request, the warm-up's included

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _records() -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    kind = random.choice(["rating", "question", "check_in"])
    if kind == "rating":
        body: dict[str, Any] = {"face": random.randint(1, 5), "rated_at": now}
    elif kind == "question":
        body = {"text": "Where is the pharmacy?", "asked_at": now}
    else:
        body = {
            "appointment_ref": f"APT-{random.randint(1, 50_000)}",
            "checked_in_at": now,
            "queue_number": f"A{random.randint(1, 999):03d}",
        }
    body.update(follow_up_token=protocol.new_follow_up_token(), language="en")
    return [{"id": str(uuid.uuid4()), "kind": kind, "created_at": now, "body": body}]


async def _first_pull(client: aiohttp.ClientSession, token: str) -> str | None:
    """Return the pull's ETag, as a kiosk that has been running a while already holds it."""
    async with client.get(
        protocol.PULL_PATH, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        await response.read()
        return response.headers.get("ETag")


async def _kiosk(
    client: aiohttp.ClientSession,
    token: str,
    etag: str | None,
    stats: Stats,
    stop_at: float,
    measure_from: float,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    loop = asyncio.get_running_loop()
    now = loop.time()
    due = {
        "pull": now + random.uniform(0, PULL_SECONDS),
        "heartbeat": now + random.uniform(0, HEARTBEAT_SECONDS),
        "records": now + random.expovariate(1 / RECORD_MEAN_SECONDS),
    }
    while True:
        kind = min(due, key=lambda k: due[k])
        wait = due[kind] - loop.time()
        if due[kind] >= stop_at:
            return
        if wait > 0:
            await asyncio.sleep(wait)
        started = time.perf_counter()
        try:
            if kind == "pull":
                extra = {"If-None-Match": etag} if etag else {}
                request = client.get(protocol.PULL_PATH, headers={**headers, **extra})
                due[kind] += PULL_SECONDS
            elif kind == "heartbeat":
                request = client.post(
                    protocol.HEARTBEAT_PATH,
                    json={"app_version": "1.0.0", "backlog": 0, "failed": 0},
                    headers=headers,
                )
                due[kind] += HEARTBEAT_SECONDS
            else:
                request = client.post(
                    protocol.INGEST_PATH, json={"records": _records()}, headers=headers
                )
                due[kind] += random.expovariate(1 / RECORD_MEAN_SECONDS)
            async with request as response:
                await response.read()
                status = response.status
                if kind == "pull":
                    etag = response.headers.get("ETag", etag)
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = -1
            if loop.time() >= measure_from:
                stats.error(type(exc).__name__)
        elapsed = (time.perf_counter() - started) * 1000
        stats.sent += 1
        if loop.time() >= measure_from and status != -1:
            stats.latencies_ms.append(elapsed)
            stats.by_kind[kind] = stats.by_kind.get(kind, 0) + 1
            if status not in (200, 304):
                stats.error(f"HTTP {status}")


async def _run_fleet(base_url: str, tokens: list[str], seconds: float) -> Stats:
    stats = Stats()
    loop = asyncio.get_running_loop()
    # aiohttp, not httpx: its C parser costs the load generator about a fifth of the CPU
    # per request, and the generator shares the two cores with the server it measures.
    # Idle connections are closed before uvicorn closes them (its keep-alive is 5 s), so a
    # request never goes out on a connection the server is dropping.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3.0)
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=30.0)
    ) as client:
        # The pull is the same for every kiosk (so is its ETag): one warm-up pull stands for
        # the one each running kiosk made before the measurement.
        etag = await _first_pull(client, tokens[0])
        measure_from = loop.time() + 5.0  # phases spread first
        stop_at = loop.time() + 5.0 + seconds
        await asyncio.gather(
            *(_kiosk(client, token, etag, stats, stop_at, measure_from) for token in tokens)
        )
    return stats


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    """Return the user+system CPU seconds the given processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _server_pids(root: int, database: str) -> list[int]:
    """Return the server's processes (parent and workers) and its PostgreSQL backends."""
    pids = [root]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root:
            pids.append(int(stat.parent.name))
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.connect() as conn:
        pids += [
            int(p)
            for p in conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}
            ).scalars()
        ]
    admin.dispose()
    return pids


def _create_database() -> str:
    name = f"clinic_fleet_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return name


def _drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _register_kiosks(database_url: str, count: int) -> list[str]:
    from clinic.config import Settings
    from clinic.db import Database
    from clinic.models import Kiosk
    from clinic.security import hash_token, new_kiosk_token

    db = Database(Settings(environment="test", database_url=database_url))
    tokens = [new_kiosk_token() for _ in range(count)]
    with db.writer.begin() as session:
        session.execute(
            sa.insert(Kiosk),
            [
                {"id": uuid.uuid4(), "name": f"kiosk-{i}", "token_hash": hash_token(t)}
                for i, t in enumerate(tokens)
            ],
        )
    db.dispose()
    return tokens


def _start_server(
    database_url: str, workers: int, log_path: Path, limits: str
) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "CLINIC_ENVIRONMENT": "test",
        "CLINIC_DATABASE_URL": database_url,
        "CLINIC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CLINIC_LIMITS_BACKEND": limits,
    }
    subprocess.run(
        [sys.executable, "-m", "clinic.cli", "migrate"], env=env, cwd=ROOT, check=True,
        capture_output=True,
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "clinic.cli", "serve", "--port", str(port), "--workers",
         str(workers)],
        env=env, cwd=ROOT, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                time.sleep(2)
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250,500,1000,2000,3000,4000,5000,6000")
    parser.add_argument("--step-seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--keep-going", action="store_true", help="run every size even after one failed"
    )
    parser.add_argument(
        "--limits",
        default="auto",
        choices=["auto", "memory"],
        help="memory: per-process limits, to see what the shared ones cost",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # Each kiosk keeps a connection open: raise the descriptor limit for this process.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, max(sizes) * 2 + 100)), hard))

    name = _create_database()
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    log_dir = Path(tempfile.mkdtemp(prefix="fleet-"))
    proc, url = _start_server(database_url, args.workers, log_dir / "server.log", args.limits)
    results: list[dict[str, Any]] = []
    max_kiosks = 0
    failed = False
    try:
        tokens = _register_kiosks(database_url, max(sizes))
        for size in sizes:
            cpu_before = time.process_time()
            wall = time.monotonic()
            server_pids = _server_pids(proc.pid, name)
            server_cpu = _cpu_seconds(server_pids)
            stats = asyncio.run(_run_fleet(url, tokens[:size], args.step_seconds))
            wall = time.monotonic() - wall
            # Backends opened during the step count too (their CPU from their start).
            server_cpu = (
                _cpu_seconds(sorted(set(server_pids) | set(_server_pids(proc.pid, name))))
                - server_cpu
            )
            requests_done = len(stats.latencies_ms)
            # Server + database CPU per request: what the fleet would cost on an idle machine.
            cpu_ms = server_cpu * 1000 / max(1, stats.sent + 1)
            row = {
                "kiosks": size,
                "requests": requests_done,
                "rps": round(requests_done / args.step_seconds, 1),
                "p50_ms": round(_percentile(stats.latencies_ms, 0.50), 1),
                "p99_ms": round(_percentile(stats.latencies_ms, 0.99), 1),
                "errors": stats.errors,
                "by_kind": stats.by_kind,
                "load_generator_cpu_share": round((time.process_time() - cpu_before) / wall, 2),
                "loadavg_1m": round(os.getloadavg()[0], 1),
                "server_db_cpu_ms_per_request": round(cpu_ms, 2),
            }
            row["served"] = not stats.errors and row["p99_ms"] <= P99_LIMIT_MS
            results.append(row)
            print(
                f"{size:>6} kiosks: {row['rps']:>7} req/s  p50 {row['p50_ms']:>7} ms  "
                f"p99 {row['p99_ms']:>7} ms  errors {sum(stats.errors.values()):>5}  "
                f"client cpu {row['load_generator_cpu_share']:.2f}  load {row['loadavg_1m']}  "
                f"server+db cpu/request {row['server_db_cpu_ms_per_request']} ms  "
                f"{'ok' if row['served'] else 'NOT SERVED'}",
                flush=True,
            )
            if row["served"] and not failed:
                max_kiosks = size  # every smaller fleet was served too
                continue
            failed = True
            if not args.keep_going:
                break
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        _drop_database(name)
    # Projection for an idle machine: all cores for the server and PostgreSQL, kept at
    # most half busy so queues (and p99) stay short; a kiosk makes 1/30 + 1/60 + 1/120 req/s.
    per_kiosk_rps = 1 / PULL_SECONDS + 1 / HEARTBEAT_SECONDS + 1 / RECORD_MEAN_SECONDS
    costs = [r["server_db_cpu_ms_per_request"] for r in results if r["requests"]]
    projected = int((os.cpu_count() or 1) * 0.5 * 1000 / min(costs) / per_kiosk_rps) if costs else 0
    print(
        f"projected on an idle {os.cpu_count()}-core machine at 50% CPU: about {projected} "
        f"kiosks ({min(costs) if costs else 0:.1f} ms of server+database CPU per request)"
    )
    print(
        json.dumps(
            {
                "max_kiosks": max_kiosks,
                "projected_kiosks_idle_machine": projected,
                "target_kiosks": 5000,
                "p99_limit_ms": P99_LIMIT_MS,
                "workers": args.workers,
                "limits": args.limits,
                "cpus": os.cpu_count(),
                "steps": results,
            }
        )
    )


if __name__ == "__main__":
    main()
