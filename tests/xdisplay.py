"""An X display of the test process's own (Xvfb), for parallel workers.

Under pytest-xdist every worker process starts its own Xvfb before Kivy is imported, so
workers never share a screen: windows do not overlap (screenshots read what this worker
drew), and display-wide settings such as the screensaver or the clipboard are the
worker's alone. Without xdist the suite runs on xvfb-run's display (scripts/test.sh).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess

#: The same screen as scripts/test.sh gives xvfb-run: room for every tested window size.
SCREEN = "1920x1080x24"


def start_own_display() -> str | None:
    """Start Xvfb on a free display number, point DISPLAY at it; return it (None: no Xvfb)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return None
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()  # written once the server accepts clients
    if not number:
        server.kill()
        raise RuntimeError("Xvfb did not start")
    atexit.register(_stop, server)
    display = f":{number}"
    os.environ["DISPLAY"] = display
    os.environ.pop("XAUTHORITY", None)  # no auth on a private, local-only server
    return display


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
