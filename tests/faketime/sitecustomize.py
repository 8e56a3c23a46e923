"""Make Python's sleeps work under Debian's faketime with a real monotonic clock.

CI runs the kiosk and UI suites under `faketime` with `FAKETIME_DONT_FAKE_MONOTONIC=1`
(only the wall clock is faked: a faked monotonic clock makes every timed wait on a lock,
such as `threading.Event.wait(timeout)`, hang). In that mode libfaketime 0.9.10 answers
CPython 3.11's absolute-deadline `clock_nanosleep` with EINVAL, so `time.sleep` (and
`subprocess.Popen.wait`, which sleeps) fail. On PYTHONPATH only for those runs, this module
puts a `select()`-based sleep (a relative timeout, which libfaketime passes through) in
its place, in the test process and in every Python process it starts.
"""

from __future__ import annotations

import os
import select
import time

if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":

    def _sleep(seconds: float) -> None:
        """Sleep with relative select() timeouts until `seconds` of monotonic time passed."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
