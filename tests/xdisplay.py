"""X displays of the tests' own (Xvfb): one per parallel worker, or one for a single test.

Under pytest-xdist every worker process starts its own Xvfb before Kivy is imported, so
workers never share a screen: windows do not overlap (screenshots read what this worker
drew), and display-wide settings such as the screensaver or the clipboard are the
worker's alone. Without xdist the suite runs on xvfb-run's display (scripts/test.sh). A test
that changes display-wide settings (the screensaver test) takes a display to itself.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess

#: The same screen as scripts/test.sh gives xvfb-run: room for every tested window size.
SCREEN = "1920x1080x24"


class Xvfb:
    """A private Xvfb server on a free display number (local connections only)."""

    def __init__(self) -> None:
        self.display = ""
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the server and wait until it accepts clients; return its DISPLAY."""
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            raise RuntimeError("Xvfb is not installed (scripts/setup.sh installs xvfb)")
        read_end, write_end = os.pipe()
        self._server = subprocess.Popen(
            [xvfb, "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
            pass_fds=(write_end,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()  # written once the server accepts clients
        if not number:
            self.stop()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        return self.display

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def start_own_display() -> str:
    """Give this process a display of its own for its lifetime: start Xvfb, set DISPLAY."""
    server = Xvfb()
    display = server.start()
    atexit.register(server.stop)
    os.environ["DISPLAY"] = display
    os.environ.pop("XAUTHORITY", None)  # no auth on a private, local-only server
    return display
