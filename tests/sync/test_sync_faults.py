"""Faults between kiosk and server: all records delivered once, Retry-After obeyed.

A fault-injecting proxy sits between the kiosk's worker and the real server process and
answers 500/503, 429 with Retry-After (seconds and HTTP-date), stalls past the client's
read timeout after the server stored the batch, and resets connections before and after
forwarding; meanwhile the server is killed and restarted. The suite runs 2,000 records
(about 20 s here), enough for every fault and both restarts; the issue's 10,000 run with
`python bench/sync.py --faults` (or SYNC_FAULT_RECORDS=10000 here), outside the CI budget.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conftest import FAST_WORKER, open_kiosk, pair_kiosk, wait_for
from faultproxy import Fault, FaultPlan, FaultProxy, retry_after_violations
from serverproc import ServerProcess

from kiosk import syncing
from kiosk.state import StateKey, set_state
from sync import outbox
from sync.protocol import QuestionBody, RecordKind, dump_body, new_follow_up_token
from sync.retry import RetryPolicy

RECORDS = int(os.environ.get("SYNC_FAULT_RECORDS", "2000"))
# The test is about delivery, not about how long backoff grows (tests/sync/test_sync_retry.py):
# with the default policy (1 s base, 300 s cap) a row that met five faults waited up to a
# minute, and on a loaded machine, where more requests time out, the drain took from 1.5 to
# over 10 minutes. A short cap keeps every fault's path and bounds the wait.
POLICY = RetryPolicy(base_seconds=0.1, cap_seconds=2.0)
# The read timeout leaves a loaded server time to store a batch of 100; a stall outlasts it.
TIMEOUT = (1.0, 3.0)
STALL_SECONDS = 4.0

PLAN = {
    Fault.ERROR_500: 0.07,
    Fault.ERROR_503: 0.07,
    Fault.RATE_LIMIT: 0.04,
    Fault.RATE_LIMIT_DATE: 0.03,
    Fault.STALL_AFTER_FORWARD: 0.03,
    Fault.RESET_BEFORE: 0.04,
    Fault.RESET_AFTER_FORWARD: 0.04,
}


def fill_backlog(kiosk: Any, count: int) -> set[str]:
    """Queue `count` valid question records in one transaction; return their ids (hex)."""
    now = datetime.now(UTC)
    ids = set()
    with kiosk.db.write() as session:
        for i in range(count):
            body = QuestionBody(
                text=f"Synthetic question {i}",
                asked_at=now,
                follow_up_token=new_follow_up_token(),
                language="en",
            )
            row = outbox.enqueue(RecordKind.QUESTION, dump_body(body), session=session, now=now)
            ids.add(uuid.UUID(row.id).hex)
    return ids


def test_all_records_delivered_once_through_faults(tmp_path: Path, server: ServerProcess) -> None:
    kiosk = open_kiosk(tmp_path / "kiosk", server_url=server.url)
    pair_kiosk(kiosk, server.url, server.pairing_code())
    ids = fill_backlog(kiosk, RECORDS)
    before = set(server.received_ids())

    plan = FaultPlan(weights=PLAN, stall_seconds=STALL_SECONDS, seed=5)
    proxy = FaultProxy(server.port, plan).start()
    with kiosk.db.write() as session:
        set_state(StateKey.SERVER_URL, proxy.url, session=session)
    restarts: list[str] = []
    stop_chaos = threading.Event()

    def chaos() -> None:
        # Take the server away twice while the kiosk drains: once killed, once stopped.
        for kill in (True, False):
            if stop_chaos.wait(2.0):
                return
            server.stop(kill=kill)
            time.sleep(0.8)  # down: connections refused -> the proxy resets them
            server.start()
            restarts.append("kill" if kill else "term")

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    try:
        syncing.start_sync(
            kiosk,
            settings=syncing.worker_settings(
                kiosk, **{**FAST_WORKER, "timeout": TIMEOUT, "policy": POLICY}
            ),
            purge_interval=None,
        )
        chaos_thread.start()
        wait_for(lambda: kiosk.sync_status().pending == 0, 480, "backlog drained")
    finally:
        stop_chaos.set()
        chaos_thread.join(30)
        syncing.stop_sync(kiosk)
        proxy.close()

    status = kiosk.sync_status()
    assert status.failed == 0
    stored = Counter(i for i in server.received_ids() if i not in before)
    assert set(stored) == ids
    assert max(stored.values()) == 1
    # The faults really happened, and no request came before a Retry-After deadline.
    seen = Counter(e.fault for e in proxy.events)
    for fault in PLAN:
        assert seen[fault] > 0, f"fault {fault} never injected"
    assert len(restarts) == 2
    assert any(e.status is None and e.fault is Fault.PASS for e in proxy.events), "no downtime"
    violations = retry_after_violations(proxy.events)
    assert not violations, [(v[0].at, v[0].retry_after_deadline, v[1].at) for v in violations[:3]]
    kiosk.close()
