"""Timing helpers for bench/kiosk.py (no Kivy): check-in commit latency on a real file.

    from kiosk.benchmarks import check_in_commit_latency
    print(check_in_commit_latency(Path("/tmp/bench-kiosk"), count=500))
    # {"check_in_commit_p50_ms": ..., "check_in_commit_p99_ms": ..., "count": 500}

Each sample is one `Kiosk.check_in` call: validation, one BEGIN IMMEDIATE transaction
(queue number, check-in row, outbox row) and the fsyncs of a WAL commit with
synchronous=FULL. The data directory should be on the disk the kiosk will use.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from kiosk.config import KioskSettings
from kiosk.demo import seed_bench_appointments
from kiosk.services import Kiosk


def percentile(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile (fraction in 0..1) of the samples."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def check_in_commit_latency(
    data_dir: Path, *, count: int = 500, settings: KioskSettings | None = None
) -> dict[str, Any]:
    """Time `count` check-ins on a fresh demo database in `data_dir`; return ms figures."""
    base = settings or KioskSettings.load(environ={}, demo=True)
    kiosk = Kiosk.open(base.replace(data_dir=Path(data_dir), db_path=None, demo=True))
    try:
        refs = seed_bench_appointments(kiosk, count)
        samples: list[float] = []
        for ref in refs:
            started = time.perf_counter()
            kiosk.check_in(ref, "en")
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        kiosk.close()
    return {
        "check_in_commit_p50_ms": round(statistics.median(samples), 3),
        "check_in_commit_p99_ms": round(percentile(samples, 0.99), 3),
        "check_in_commit_max_ms": round(max(samples), 3),
        "count": count,
    }


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        print(json.dumps(check_in_commit_latency(Path(tmp))))
