"""CPU cost of each kiosk endpoint: server + PostgreSQL CPU time per request.

On a shared, loaded machine latency is noise; CPU time per request is not. This starts
`clinic-server serve` (as bench/fleet.py does: fresh PostgreSQL database, kiosks written
straight to it), then for each kind (an unchanged pull with If-None-Match, a heartbeat
that reports nothing new, a one-record ingest) sends --requests requests spread over
--kiosks kiosks, --concurrency at a time, and divides the CPU the server's processes and its
PostgreSQL backends used by the number of requests. The last line is one JSON object.

    .venv/bin/python bench/kiosk_cost.py [--requests 2000] [--kiosks 500] [--workers 2]

`--profile KIND` instead runs the app in this process (TestClient, same database set-up)
and prints cProfile's top functions for that kind.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fleet  # noqa: E402

from sync import protocol  # noqa: E402

KINDS = ("pull", "heartbeat", "ingest")
HEARTBEAT = {"app_version": "1.0.0", "backlog": 0, "failed": 0}


async def _send(
    client: httpx.AsyncClient, kind: str, token: str, etag: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if kind == "pull":
        if etag:
            headers["If-None-Match"] = etag
        return await client.get(protocol.PULL_PATH, headers=headers)
    if kind == "heartbeat":
        return await client.post(protocol.HEARTBEAT_PATH, json=HEARTBEAT, headers=headers)
    return await client.post(
        protocol.INGEST_PATH, json={"records": fleet._records()}, headers=headers
    )


async def _run_kind(
    url: str, kind: str, tokens: list[str], requests: int, concurrency: int, etag: str | None
) -> dict[str, int]:
    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(i: int) -> None:
            async with gate:
                response = await _send(client, kind, tokens[i % len(tokens)], etag)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(one(i) for i in range(requests)))
    return {str(k): v for k, v in sorted(statuses.items())}


def measure(args: argparse.Namespace) -> None:
    name = fleet._create_database()
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    log_dir = Path(tempfile.mkdtemp(prefix="kiosk-cost-"))
    proc, url = fleet._start_server(database_url, args.workers, log_dir / "server.log", "auto")
    rows: dict[str, Any] = {}
    try:
        tokens = fleet._register_kiosks(database_url, args.kiosks)
        etag = httpx.get(
            url + protocol.PULL_PATH, headers={"Authorization": f"Bearer {tokens[0]}"}
        ).headers.get("ETag")
        for kind in args.kinds.split(","):
            # A warm-up round: every kiosk once (first touch, first heartbeat, pools filled).
            asyncio.run(_run_kind(url, kind, tokens, len(tokens), args.concurrency, etag))
            pids = fleet._server_pids(proc.pid, name)
            before = fleet._cpu_seconds(pids)
            wall = time.monotonic()
            statuses = asyncio.run(
                _run_kind(url, kind, tokens, args.requests, args.concurrency, etag)
            )
            wall = time.monotonic() - wall
            pids = sorted(set(pids) | set(fleet._server_pids(proc.pid, name)))
            cpu = fleet._cpu_seconds(pids) - before
            rows[kind] = {
                "cpu_ms_per_request": round(cpu * 1000 / args.requests, 2),
                "statuses": statuses,
                "wall_s": round(wall, 1),
            }
            print(f"{kind:>9}: {rows[kind]['cpu_ms_per_request']:6.2f} ms CPU/request  "
                  f"{statuses}  load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001
            proc.kill()
        fleet._drop_database(name)
    print(json.dumps({"workers": args.workers, "requests": args.requests, "kinds": rows}))


def profile(args: argparse.Namespace) -> None:
    import anyio.to_thread

    from clinic.app import create_app
    from clinic.config import Settings
    from clinic.db import migrate

    async def inline(func: Any, *fargs: Any, **_kw: Any) -> Any:
        return func(*fargs)

    # Sync routes and dependencies run on this thread, where cProfile sees them.
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    name = fleet._create_database()
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        migrate(database_url)
        tokens = fleet._register_kiosks(database_url, args.kiosks)
        settings = Settings(
            environment="test", database_url=database_url, public_base_url="http://testserver"
        )
        app = create_app(settings)

        async def run() -> tuple[cProfile.Profile, float]:
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
            ):
                first = await _send(client, "pull", tokens[0], None)
                etag = first.headers.get("ETag")
                for token in tokens:
                    await _send(client, args.profile, token, etag)
                profiler = cProfile.Profile(time.process_time)
                started = time.process_time()
                profiler.enable()
                for i in range(args.requests):
                    await _send(client, args.profile, tokens[i % len(tokens)], etag)
                profiler.disable()
                return profiler, time.process_time() - started

        profiler, cpu = asyncio.run(run())
        print(f"{args.profile}: {cpu * 1000 / args.requests:.2f} ms process CPU/request (profiled)")
        stats = pstats.Stats(profiler)
        stats.sort_stats(args.sort).print_stats(args.top)
    finally:
        fleet._drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--kiosks", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--profile", choices=KINDS)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args()
    if args.profile:
        profile(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
