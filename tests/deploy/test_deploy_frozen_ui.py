"""A frozen UI is restarted by the watchdog; the screen does not blank while the kiosk runs.

Real kiosk processes (`python -m kiosk --demo --windowed`) on the suite's X display (Xvfb),
real time with short intervals. There is no systemd here (no PID 1 manager in the test
container), so `Supervisor` does what kiosk.service asks of it and nothing more: it hands
the kiosk a notify socket and WATCHDOG_USEC, kills the process with SIGABRT (systemd's
WatchdogSignal) when no WATCHDOG=1 arrived for that long, and starts it again
(Restart=always). The UI freezes for real: a Kivy Clock callback of the test's launcher
blocks the main loop while every other thread of the kiosk keeps running.

The screen, on an Xvfb of the test's own (no other window may hold the screensaver off
or set it): with the X server's screensaver set to blank after 1 s, the screen blanks
with no kiosk running (so the check can fail), stays on for as long as the kiosk runs, and
blanks again once it has gone. kiosk.service runs the kiosk in cage, which has no idle
blanking of its own; the same SDL code keeps Xwayland's screensaver off there.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from xdisplay import Xvfb

ROOT = Path(__file__).resolve().parents[2]
#: The watchdog period handed to the kiosk (systemd's WatchdogSec; 30 s in kiosk.service).
WATCHDOG_SECONDS = 3.0
#: The launcher blocks the Kivy main loop this long after its first frame.
FREEZE_AFTER_SECONDS = 4.0

LAUNCHER = """
import os, sys, time
os.environ["KIVY_NO_ARGS"] = "1"
from kivy.clock import Clock
freeze_after = float(os.environ.get("TEST_FREEZE_AFTER", "0"))
if freeze_after:
    # From the main loop's first frame, `freeze_after` seconds on: a callback that never
    # returns. The main loop stops turning; the kiosk's other threads go on.
    Clock.schedule_once(
        lambda _dt: Clock.schedule_once(lambda _dt: time.sleep(3600), freeze_after), 0
    )
from kiosk.__main__ import main
sys.exit(main(["--demo", "--windowed"]))
"""


class Supervisor:
    """Start the kiosk as kiosk.service does and apply WatchdogSec and Restart=always."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.socket_path = work / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.socket_path))
        self.sock.settimeout(0.1)
        self.launcher = work / "launch_kiosk.py"
        self.launcher.write_text(LAUNCHER)

    def start(
        self, *, freeze_after: float = 0.0, display: str | None = None
    ) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "NOTIFY_"))}
        if display is not None:
            env["DISPLAY"] = display
            env.pop("XAUTHORITY", None)
        env.update(
            NOTIFY_SOCKET=str(self.socket_path),
            WATCHDOG_USEC=str(int(WATCHDOG_SECONDS * 1_000_000)),
            KIVY_HOME=str(self.work / "kivy"),
            KIVY_NO_FILELOG="1",
            KIOSK_DATA_DIR=str(self.work / "data"),
            PYTHONPATH=str(ROOT),
            TEST_FREEZE_AFTER=str(freeze_after),
        )
        return subprocess.Popen(
            [sys.executable, str(self.launcher)],
            cwd=self.work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "kiosk.log").open("ab"),
        )

    def receive(self) -> bytes | None:
        try:
            return self.sock.recv(64)
        except TimeoutError:
            return None

    def wait_ready(self, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, self.log_tail()
            if self.receive() == b"READY=1":
                return
        raise AssertionError("no READY=1 from the kiosk\n" + self.log_tail())

    def watch(self, process: subprocess.Popen[bytes], limit: float) -> tuple[int, bool]:
        """Count pings until none came for WatchdogSec (then SIGABRT it) or `limit` passes.

        Return (pings received, whether the watchdog fired).
        """
        pings, last, end = 0, time.monotonic(), time.monotonic() + limit
        while time.monotonic() < end:
            message = self.receive()
            now = time.monotonic()
            if message == b"WATCHDOG=1":
                pings, last = pings + 1, now
            elif now - last > WATCHDOG_SECONDS:
                assert process.poll() is None, "the kiosk exited instead of hanging"
                process.send_signal(signal.SIGABRT)
                process.wait(30)
                return pings, True
        return pings, False

    def log_tail(self) -> str:
        path = self.work / "kiosk.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    if not os.environ.get("DISPLAY"):
        pytest.fail("run under Xvfb: xvfb-run -a -s '-screen 0 1920x1080x24' ...")
    made = Supervisor(tmp_path)
    yield made
    made.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_a_frozen_main_loop_is_killed_by_the_watchdog_and_the_kiosk_comes_back(
    supervisor: Supervisor,
) -> None:
    frozen = supervisor.start(freeze_after=FREEZE_AFTER_SECONDS)
    try:
        supervisor.wait_ready(frozen)
        pings, fired = supervisor.watch(frozen, limit=90)
    finally:
        _stop(frozen)
    assert pings >= 2, "the main loop fed the watchdog before it froze"
    assert fired, "the watchdog did not notice the frozen main loop"
    assert frozen.returncode == -signal.SIGABRT

    # Restart=always: the next start comes up and keeps feeding the watchdog.
    again = supervisor.start()
    try:
        supervisor.wait_ready(again)
        pings, fired = supervisor.watch(again, limit=4 * WATCHDOG_SECONDS)
        assert not fired and again.poll() is None, supervisor.log_tail()
        assert pings >= 3
    finally:
        _stop(again)


class _ScreenSaverInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    ]


#: XScreenSaverQueryInfo states (X11/extensions/saver.h).
SCREEN_SAVER_ON = 1


class XScreenSaver:
    """The X server's screensaver through libX11 and libXss (the MIT-SCREEN-SAVER extension)."""

    def __init__(self, display: str) -> None:
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xss = ctypes.CDLL("libXss.so.1")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XSetScreenSaver.argtypes = [ctypes.c_void_p] + [ctypes.c_int] * 4
        self.x11.XResetScreenSaver.argtypes = [ctypes.c_void_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_ScreenSaverInfo)
        self.xss.XScreenSaverQueryInfo.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(_ScreenSaverInfo),
        ]
        self.display = self.x11.XOpenDisplay(display.encode())
        assert self.display, f"cannot open the X display {display}"
        self.info = self.xss.XScreenSaverAllocInfo()

    def blank_after(self, seconds: int) -> None:
        """Set the screensaver to blank the screen after `seconds` without input (0: never)."""
        self.x11.XSetScreenSaver(self.display, seconds, 0, 1, 0)
        self.x11.XResetScreenSaver(self.display)
        self.x11.XFlush(self.display)

    def blanked(self) -> bool:
        """Return whether the screensaver has blanked the screen now."""
        root = self.x11.XDefaultRootWindow(self.display)
        self.xss.XScreenSaverQueryInfo(self.display, root, self.info)
        return bool(self.info.contents.state == SCREEN_SAVER_ON)

    def close(self) -> None:
        self.x11.XCloseDisplay(self.display)


def _blanks_within(saver: XScreenSaver, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if saver.blanked():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def own_display() -> Iterator[str]:
    """A display for this test alone: no other window (such as the UI tests' kiosk, whose
    SDL also holds the screensaver off) may keep the screen lit or blank it."""
    server = Xvfb()
    try:
        yield server.start()
    finally:
        server.stop()


def test_the_screen_never_blanks_while_the_kiosk_runs(
    supervisor: Supervisor, own_display: str
) -> None:
    saver = XScreenSaver(own_display)
    try:
        saver.blank_after(1)
        assert _blanks_within(saver, 5), "the X server's screensaver did not blank at all"
        saver.blank_after(1)  # un-blank; the kiosk starts on a lit screen
        kiosk = supervisor.start(display=own_display)
        try:
            supervisor.wait_ready(kiosk)
            time.sleep(1.0)  # the first frames after READY=1
            assert not _blanks_within(saver, 8), "the screen blanked under the kiosk"
            assert kiosk.poll() is None, supervisor.log_tail()
        finally:
            _stop(kiosk)
        saver.blank_after(1)
        assert _blanks_within(saver, 8), "the screen stayed on after the kiosk had gone"
    finally:
        saver.blank_after(0)
        saver.close()
