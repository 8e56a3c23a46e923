"""The README's demo: a real server and a real kiosk app, paired; a check-in reaches the server.

`python -m scripts.demo` starts the clinic server and the kiosk app (its own process, in
the test's display or SDL's offscreen driver), pairs them through the real pairing
endpoint, and the kiosk app's background sync delivers what is saved on the kiosk.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

from serverproc import ROOT, free_port


def wait_for(condition, timeout: float, what: str, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, f"the demo exited ({child.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.2)


def kiosk_app_running(demo_pid: int) -> bool:
    found = subprocess.run(["pgrep", "-a", "-P", str(demo_pid)], capture_output=True, text=True)
    return any("-m kiosk --demo" in line for line in found.stdout.splitlines())


def test_demo_starts_a_paired_kiosk_whose_check_in_reaches_the_server(tmp_path: Path) -> None:
    from kiosk.config import KioskSettings
    from kiosk.facade import MatchStatus
    from kiosk.services import Kiosk

    port = free_port()
    env = dict(os.environ)
    env.update(
        DEMO_DATA_DIR=str(tmp_path / "demo"),
        KIVY_HOME=str(tmp_path / "kivy"),
        KIVY_NO_ARGS="1",
        KIVY_LOG_MODE="PYTHON",
        KIVY_NO_FILELOG="1",
    )
    env.pop("KIOSK_CONFIG", None)
    log = (tmp_path / "demo.log").open("w+")
    child = subprocess.Popen(
        [sys.executable, "-m", "scripts.demo", "--fresh", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: "is paired with it" in Path(log.name).read_text(), 60, "pairing", child)
        wait_for(lambda: kiosk_app_running(child.pid), 30, "kiosk app", child)
        config = tmp_path / "demo" / "kiosk.toml"
        kiosk = Kiosk.open(KioskSettings.load(config))
        try:
            # The paired kiosk app pulls today's appointments from the server (keyed hashes).
            def okafor_known() -> bool:
                found = kiosk.find_appointment("Okafor", date(1984, 3, 12))
                return found.status is MatchStatus.MATCHED

            wait_for(okafor_known, 30, "appointments pulled from the server", child)
            ref = kiosk.find_appointment("Okafor", date(1984, 3, 12)).appointment_ref
            receipt = kiosk.check_in(ref, "en")  # saved on the kiosk's disk, as the app does
        finally:
            kiosk.close()
        server_db = tmp_path / "demo" / "clinic.db"

        def arrived() -> bool:
            with sqlite3.connect(server_db) as db:
                row = db.execute(
                    "SELECT queue_number FROM arrivals WHERE id = ?",
                    (uuid.UUID(receipt.check_in_id).hex,),
                ).fetchone()
            return row is not None and row[0] == receipt.queue_number

        # Delivered by the kiosk app's own sync worker (the test process runs none).
        wait_for(arrived, 30, "arrival on the server", child)
        assert child.poll() is None, "the demo stopped by itself"
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()
    assert not kiosk_app_running(child.pid)
