"""Benchmark the kiosk's background sync against a real local clinic server.

    python bench/sync.py [--records 10000] [--batch 100] [--faults]

Measures, in one run on one fresh SQLite server:
- raw_insert_rps: the server's batched insert rate, records/s, when one client posts
  pre-built batches back to back (no kiosk database involved): the ceiling. Measured
  before and after the drain (half the records each) and averaged;
- drain_rps: how fast the kiosk's worker drains a backlog of `--records` outbox rows to
  that server (claim, send, ack in the kiosk database), and drain_ratio = drain / raw;
- frame_ms_p50/p99: intervals between frames of a minimal Kivy window (offscreen when no
  display), running in the same process as the worker while it drains;
- with --faults: the same backlog drained through the fault-injecting proxy (500/503,
  429 + Retry-After, stalls, resets, two server restarts): time, requests, violations.

Targets: drain >= 1,000 records/s, ratio >= 0.5, frame p99 <= 50 ms.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sync"))

from kivy_env import configure_kivy  # noqa: E402  (bench/, the script's folder)

TARGETS = {"drain_rps_min": 1000.0, "drain_ratio_min": 0.5, "frame_ms_p99_max": 50.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def question_bodies(count: int) -> list[dict[str, Any]]:
    from sync.protocol import QuestionBody, dump_body, new_follow_up_token

    now = datetime.now(UTC)
    return [
        dump_body(
            QuestionBody(
                text=f"Synthetic question {i}",
                asked_at=now,
                follow_up_token=new_follow_up_token(),
                language="en",
            )
        )
        for i in range(count)
    ]


def raw_insert_rate(server: Any, records: int, batch: int) -> float:
    """Post pre-built batches straight to the server; return records/s."""
    from sync.client import KioskClient
    from sync.protocol import RecordKind, WireRecord

    client = KioskClient(server.url, timeout=(3.0, 60.0))
    client.pair(server.pairing_code(), "bench-raw", "bench")
    now = datetime.now(UTC)
    wires = [
        WireRecord(id=uuid.uuid4(), kind=RecordKind.QUESTION.value, created_at=now, body=body)
        for body in question_bodies(records)
    ]
    started = time.perf_counter()
    for i in range(0, len(wires), batch):
        results = client.send_batch(wires[i : i + batch])
        assert all(r.outcome == "stored" for r in results), results[:1]
    elapsed = time.perf_counter() - started
    client.close()
    return records / elapsed


def fill_backlog(kiosk: Any, count: int) -> None:
    from sync import outbox
    from sync.protocol import RecordKind

    now = datetime.now(UTC)
    with kiosk.db.write() as session:
        for body in question_bodies(count):
            outbox.enqueue(RecordKind.QUESTION, body, session=session, now=now)


def backlog(kiosk: Any) -> int:
    status = kiosk.sync_status()
    return int(status.pending)


def drain_with_window(kiosk: Any, batch: int) -> dict[str, Any]:
    """Run a Kivy window while the worker drains; return drain time and frame intervals."""
    from kivy.animation import Animation
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from kiosk import syncing

    if os.environ.get("SDL_VIDEODRIVER") == "offscreen":
        from kivy.graphics.opengl import glFinish

        Window.bind(on_flip=lambda *_a: glFinish())

    frames: list[float] = []
    idle_frames: list[float] = []
    result: dict[str, Any] = {}
    total = backlog(kiosk)

    class DrainApp(App):
        def build(self) -> Label:
            label = Label(
                text="Draining...",
                font_size="32sp",
                size_hint=(None, None),
                size=(400, 100),
                pos=(0, 190),
            )
            anim = Animation(x=400, duration=0.5) + Animation(x=0, duration=0.5)
            anim.repeat = True
            anim.start(label)
            self.label = label
            return label

        def on_start(self) -> None:
            self.last = time.perf_counter()
            Clock.schedule_interval(self.tick, 0)
            # Let the window settle, then measure idle frames as a baseline, then drain.
            Clock.schedule_once(lambda _dt: result.setdefault("settled", True), 0.5)
            Clock.schedule_once(self.begin, 2.5)

        def tick(self, _dt: float) -> None:
            now = time.perf_counter()
            if "started" in result and "finished" not in result:
                frames.append((now - self.last) * 1000)
            elif "settled" in result and "started" not in result:
                idle_frames.append((now - self.last) * 1000)
            self.last = now

        def begin(self, _dt: float) -> None:
            result["started"] = time.perf_counter()
            settings = syncing.worker_settings(kiosk, batch_size=batch, poll_interval=0.05)
            syncing.start_sync(kiosk, settings=settings, purge_interval=None)
            threading.Thread(target=self.watch, daemon=True).start()

        def watch(self) -> None:
            while backlog(kiosk):
                time.sleep(0.1)
            result["finished"] = time.perf_counter()
            Clock.schedule_once(lambda _dt: self.stop(), 0.2)

    DrainApp().run()
    syncing.stop_sync(kiosk)
    seconds = result["finished"] - result["started"]
    return {
        "drain_seconds": round(seconds, 3),
        "drain_rps": round(total / seconds, 1),
        "frames": len(frames),
        "frame_ms_p50": round(percentile(frames, 50), 2),
        "frame_ms_p99": round(percentile(frames, 99), 2),
        "frame_ms_max": round(max(frames), 2) if frames else None,
        "idle_frame_ms_p50": round(percentile(idle_frames, 50), 2),
        "idle_frame_ms_p99": round(percentile(idle_frames, 99), 2),
    }


def faults_run(work: Path, records: int) -> dict[str, Any]:
    """Drain `records` through the fault proxy with two server restarts."""
    from collections import Counter

    from conftest import FAST_WORKER, open_kiosk, pair_kiosk
    from faultproxy import FaultPlan, FaultProxy, retry_after_violations
    from serverproc import ServerProcess
    from test_sync_faults import PLAN
    from test_sync_faults import fill_backlog as fill_ids

    from kiosk import syncing
    from kiosk.state import StateKey, set_state

    server = ServerProcess(work / "faults-server")
    server.migrate()
    server.start()
    kiosk = open_kiosk(work / "faults-kiosk", server_url=server.url)
    pair_kiosk(kiosk, server.url, server.pairing_code())
    ids = fill_ids(kiosk, records)
    proxy = FaultProxy(server.port, FaultPlan(weights=PLAN, stall_seconds=1.5, seed=9)).start()
    with kiosk.db.write() as session:
        set_state(StateKey.SERVER_URL, proxy.url, session=session)
    started = time.perf_counter()
    syncing.start_sync(
        kiosk,
        settings=syncing.worker_settings(kiosk, **{**FAST_WORKER, "timeout": (1.0, 1.0)}),
        purge_interval=None,
    )
    for kill in (True, False, True):
        time.sleep(3.0)
        server.stop(kill=kill)
        time.sleep(0.8)
        server.start()
    while backlog(kiosk):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    syncing.stop_sync(kiosk)
    proxy.close()
    stored = Counter(server.received_ids())
    out = {
        "fault_records": records,
        "fault_seconds": round(seconds, 1),
        "fault_requests": len(proxy.events),
        "fault_injected": sum(1 for e in proxy.events if e.fault != "pass"),
        "fault_delivered_once": set(stored) == ids and max(stored.values()) == 1,
        "fault_retry_after_violations": len(retry_after_violations(proxy.events)),
        "fault_parked": kiosk.sync_status().failed,
    }
    kiosk.close()
    server.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--faults", action="store_true", help="also drain through faults")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    configure_kivy(work / "kivy", maxfps=60, kiosk_mode=False)
    from conftest import open_kiosk, pair_kiosk
    from serverproc import ServerProcess

    server = ServerProcess(work / "server")
    try:
        server.migrate()
        server.start()
        # Raw rate before and after the drain (half the records each), so a change in the
        # machine's load during the run weighs on both sides of the ratio alike.
        raw_before = raw_insert_rate(server, args.records // 2, args.batch)
        kiosk = open_kiosk(work / "kiosk", server_url=server.url)
        pair_kiosk(kiosk, server.url, server.pairing_code())
        fill_backlog(kiosk, args.records)
        drained = drain_with_window(kiosk, args.batch)
        kiosk.close()
        raw_after = raw_insert_rate(server, args.records // 2, args.batch)
        raw = (raw_before + raw_after) / 2
        print(f"raw batched insert: {raw_before:.0f} / {raw_after:.0f} records/s", file=sys.stderr)
        print(f"drain: {drained}", file=sys.stderr)
        report: dict[str, Any] = {
            "records": args.records,
            "batch": args.batch,
            "raw_insert_rps": round(raw, 1),
            "raw_insert_rps_before_after": [round(raw_before, 1), round(raw_after, 1)],
            **drained,
            "drain_ratio": round(drained["drain_rps"] / raw, 3),
        }
        if args.faults:
            report.update(faults_run(work, args.records))
        report["targets"] = TARGETS
        report["meets_targets"] = (
            report["drain_rps"] >= TARGETS["drain_rps_min"]
            and report["drain_ratio"] >= TARGETS["drain_ratio_min"]
            and report["frame_ms_p99"] <= TARGETS["frame_ms_p99_max"]
        )
        report["cpus"] = os.cpu_count()
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
