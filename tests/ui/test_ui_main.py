"""`python -m kiosk --demo --windowed` starts the real app and keeps running (kiosk mode)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

#: systemd's watchdog period the child is given: it pings every third of it from its main
#: loop (kiosk/watchdog.py), so pings mean the loop turns and draws frames.
WATCHDOG_USEC = 300_000


def test_console_entry_starts_the_demo_kiosk_and_stays_up(tmp_path: Path) -> None:
    # Without a display SDL falls back to its offscreen driver, so this runs everywhere.
    # The child reports over sd_notify, as under systemd: READY=1 once the app is built,
    # then WATCHDOG=1 from a Clock interval. A ping after READY comes from a later turn of
    # the main loop, so at least one frame was drawn before it; a sleep would prove nothing.
    with tempfile.TemporaryDirectory(prefix="ui-notify-") as short:  # AF_UNIX paths are short
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(os.path.join(short, "notify"))
        notify.settimeout(60)
        env = dict(os.environ)
        env.update(
            KIOSK_DATA_DIR=str(tmp_path / "data"),
            KIVY_HOME=str(tmp_path / "kivy"),
            KIVY_LOG_MODE="PYTHON",
            KIVY_NO_FILELOG="1",
            NOTIFY_SOCKET=os.path.join(short, "notify"),
            WATCHDOG_USEC=str(WATCHDOG_USEC),
        )
        env.pop("KIOSK_CONFIG", None)
        env.pop("WATCHDOG_PID", None)
        child = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--demo", "--windowed", "--size", "800x480"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            messages: list[str] = []
            while messages.count("WATCHDOG=1") < 3:
                try:
                    messages.append(notify.recv(4096).decode())
                except TimeoutError:
                    raise AssertionError(
                        f"no sign of a running main loop: {messages}; "
                        + (child.stderr.read() if child.poll() is not None and child.stderr else "")
                    ) from None
            assert messages[0] == "READY=1", messages
            assert child.poll() is None, "the kiosk exited by itself"
            database = tmp_path / "data" / "kiosk.sqlite3"
            with sqlite3.connect(database) as db:
                (appointments,) = db.execute("SELECT count(*) FROM appointments").fetchone()
            assert appointments >= 10  # the demo people were seeded
        finally:
            notify.close()
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
