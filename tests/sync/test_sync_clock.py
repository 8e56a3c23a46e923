"""The kiosk measures its clock against the real server's HTTP Date header and reports it."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import FAST_WORKER, open_kiosk, pair_kiosk, wait_for
from serverproc import ServerProcess

from kiosk import syncing
from sync.outbox import utcnow


def test_a_kiosk_clock_minutes_off_is_flagged_on_the_kiosk_and_the_server(
    server: ServerProcess, tmp_path: Path
) -> None:
    kiosk: Any = open_kiosk(tmp_path / "kiosk", server_url=server.url)
    kiosk.core.clock = lambda: utcnow() + timedelta(minutes=7)  # a kiosk whose clock runs ahead
    pair_kiosk(kiosk, server.url, server.pairing_code())
    syncing.start_sync(
        kiosk, settings=syncing.worker_settings(kiosk, **FAST_WORKER), purge_interval=None
    )
    try:
        wait_for(lambda: kiosk.sync_status().clock_problem == "skewed", 20, "skew measured")
        skew = kiosk.sync_status().clock_skew_seconds
        assert skew is not None and 400 <= skew <= 440

        def server_sees_it() -> bool:
            with sqlite3.connect(server.db_path) as conn:
                rows = conn.execute(
                    "SELECT clock_problem, clock_skew_seconds FROM kiosks WHERE clock_problem "
                    "IS NOT NULL"
                ).fetchall()
            return any(problem == "skewed" and 400 <= value <= 440 for problem, value in rows)

        wait_for(server_sees_it, 20, "the heartbeat's clock report")
        kiosk.core.clock = utcnow  # clock fixed (e.g. NTP back): the warning goes away
        wait_for(lambda: kiosk.sync_status().clock_problem is None, 20, "skew cleared")
    finally:
        syncing.stop_sync(kiosk)
        kiosk.close()
