"""Live dashboard latency: a kiosk's walk-in until its row shows in an open arrivals page.

Starts the real server (`clinic.cli serve --workers 2`) on a fresh PostgreSQL database when
one answers on 127.0.0.1:5432 (else on a SQLite file), pairs a kiosk, signs in as staff in
headless Chromium (Playwright) and opens the arrivals page. Then it sends N walk-ins one at
a time, the way a kiosk does (POST to the ingest path with its bearer token), and times
each from just before the POST until its row is in the page (no reload: the page's event
stream). With two workers the page's stream and the kiosk's request usually meet different
processes, so the event crosses PostgreSQL LISTEN/NOTIFY.

Prints p50/p95/max of that latency and of the POST alone; the last line is one JSON object
with `live_p95_ms` (target <= 2000 ms: issue #13 asks for "within 2 s").

    .venv/bin/python bench/live.py [--n 30] [--db auto|postgresql|sqlite] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

from browser_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    STAFF,
    Server,
    _prepare_database,
    login,
    record,
    start_server,
    stop,
)
from pg_support import create_database, drop_database, pg_url, postgres_problem  # noqa: E402

from sync import protocol  # noqa: E402
from sync.protocol import RecordKind  # noqa: E402

TARGET_P95_MS = 2000.0
#: A row not in the page after this long counts as missed (and as this latency).
ROW_TIMEOUT_S = 15.0
#: Pause between walk-ins, so each is timed on its own and not behind the previous one.
GAP_S = 0.25


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def walk_in(number: str) -> dict[str, Any]:
    """Return one synthetic walk-in record with queue number `number`."""
    return record(
        RecordKind.WALK_IN,
        protocol.WalkInBody(
            first_name="Bench",
            last_name="Synthetic",
            date_of_birth=date(1980, 5, 17),
            reason="Bench visit",
            arrived_at=datetime.now(UTC),
            queue_number=number,
            follow_up_token=protocol.new_follow_up_token(),
            language="en",
        ),
    )


def pair(base_url: str, code: str) -> str:
    """Pair a kiosk with a pairing code; return its bearer token."""
    response = httpx.post(
        base_url + protocol.PAIR_PATH,
        json={"code": code, "kiosk_name": "Bench kiosk", "app_version": "1.0.0"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def measure(server: Server, n: int) -> tuple[list[float], list[float], int]:
    """Open the arrivals page and time n walk-ins; return (row ms, POST ms, missed)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    visible: list[float] = []
    posts: list[float] = []
    missed = 0
    with sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.set_default_timeout(20_000)
            login(page, server.base_url, STAFF)
            page.locator("body[data-live-state=open]").wait_for(state="attached")
            reloads: list[str] = []
            page.on("framenavigated", lambda frame: reloads.append(frame.url))
            for i in range(n):
                number = f"B{i:03d}"
                sent = time.perf_counter()
                server.ingest(walk_in(number))
                posted = time.perf_counter()
                try:
                    page.locator("#arrivals tbody tr", has_text=number).wait_for(
                        timeout=ROW_TIMEOUT_S * 1000
                    )
                    seen = time.perf_counter()
                except PlaywrightTimeout:
                    missed += 1
                    seen = sent + ROW_TIMEOUT_S
                posts.append((posted - sent) * 1000)
                visible.append((seen - sent) * 1000)
                print(f"{number}: post {posts[-1]:7.1f} ms, row visible {visible[-1]:7.1f} ms")
                time.sleep(GAP_S)
            if reloads:
                print(f"warning: the page navigated {len(reloads)} times (expected no reload)")
        finally:
            browser.close()
    return visible, posts, missed


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Time a walk-in until its row shows in an open arrivals page."
    )
    parser.add_argument("--n", type=int, default=30, help="walk-ins to time (default 30)")
    parser.add_argument("--db", choices=("auto", "postgresql", "sqlite"), default="auto")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    problem = postgres_problem() if args.db != "sqlite" else "not asked for"
    if args.db == "postgresql" and problem:
        print(f"PostgreSQL not reachable: {problem}", file=sys.stderr)
        return 2
    use_pg = problem is None
    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    pg_name = create_database("clinic_bench_live_") if use_pg else None
    database_url = pg_url(pg_name) if pg_name else f"sqlite:///{workdir / 'clinic.db'}"
    database = "postgresql" if use_pg else "sqlite"
    print(f"database: {database}; workers: {args.workers}; walk-ins: {args.n}")
    if not use_pg and args.workers > 1:
        # docs/live.md: on SQLite live events stay in the process that stored the record.
        print(
            "warning: on SQLite live events do not cross worker processes; a page whose "
            "stream another worker serves misses them (use --workers 1 or PostgreSQL)"
        )
    process = None
    try:
        code = _prepare_database(database_url)
        process, base_url = start_server(
            workdir,
            {
                "CLINIC_DATABASE_URL": database_url,
                "CLINIC_ENVIRONMENT": "test",
                "CLINIC_TIMEZONE": "UTC",
            },
            command=["-m", "clinic.cli", "serve", "--workers", str(args.workers)],
        )
        time.sleep(1.0)  # every worker up (the health check may have reached only one)
        server = Server(base_url, database_url, pair(base_url, code), process)
        visible, posts, missed = measure(server, args.n)
    finally:
        if process is not None:
            stop(process)
        if pg_name:
            drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)

    summary = {
        "live_p95_ms": round(percentile(visible, 95), 1),
        "live_p50_ms": round(statistics.median(visible), 1),
        "live_max_ms": round(max(visible), 1),
        "post_p50_ms": round(statistics.median(posts), 1),
        "post_p95_ms": round(percentile(posts, 95), 1),
        "missed": missed,
        "n": args.n,
        "database": database,
        "workers": args.workers,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "target_p95_ms": TARGET_P95_MS,
        "target_met": percentile(visible, 95) <= TARGET_P95_MS and missed == 0,
    }
    print(
        f"ingest-to-row-visible: p50 {summary['live_p50_ms']} ms, "
        f"p95 {summary['live_p95_ms']} ms, max {summary['live_max_ms']} ms "
        f"(POST alone p50 {summary['post_p50_ms']} ms, p95 {summary['post_p95_ms']} ms); "
        f"missed {missed}; target p95 <= {TARGET_P95_MS:.0f} ms: "
        f"{'met' if summary['target_met'] else 'NOT met'}"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
