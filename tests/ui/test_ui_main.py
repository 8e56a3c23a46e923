"""`python -m kiosk --demo --windowed` starts the real app and keeps running (kiosk mode)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def test_console_entry_starts_the_demo_kiosk_and_stays_up(tmp_path: Path) -> None:
    # Without a display SDL falls back to its offscreen driver, so this runs everywhere.
    env = dict(os.environ)
    env.update(
        KIOSK_DATA_DIR=str(tmp_path / "data"),
        KIVY_HOME=str(tmp_path / "kivy"),
        KIVY_LOG_MODE="PYTHON",
        KIVY_NO_FILELOG="1",
    )
    env.pop("KIOSK_CONFIG", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--demo", "--windowed", "--size", "800x480"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        database = tmp_path / "data" / "kiosk.sqlite3"
        deadline = time.monotonic() + 30
        while not database.exists() and time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            time.sleep(0.2)
        time.sleep(3)  # long enough to build the app and draw frames
        assert child.poll() is None, "the kiosk exited by itself"
        with sqlite3.connect(database) as db:
            (appointments,) = db.execute("SELECT count(*) FROM appointments").fetchone()
        assert appointments >= 10  # the demo people were seeded
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
