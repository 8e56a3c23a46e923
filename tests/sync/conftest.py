"""Fixtures for sync tests: a real clinic server process on loopback, real kiosks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serverproc import ServerProcess  # tests/sync is on sys.path (rootdir conftest)

#: Fast retry settings so faults cost fractions of a second in tests.
FAST_WORKER: dict[str, Any] = {
    "batch_size": 100,
    "pull_interval": 2.0,
    "heartbeat_interval": 2.0,
    "poll_interval": 0.05,
    "auth_recheck_interval": 0.5,
    "timeout": (1.0, 2.0),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One clinic server per test module, on a fresh SQLite database."""
    proc = ServerProcess(tmp_path_factory.mktemp("clinic"))
    proc.migrate()
    proc.start()
    yield proc
    proc.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pair_kiosk(kiosk: Any, server_url: str, code: str) -> None:
    """Pair through kiosk.syncing (the admin screen's path) and wait for the answer."""
    from kiosk import syncing

    done = threading.Event()
    answer: list[str | None] = []

    def on_done(message: str | None) -> None:
        answer.append(message)
        done.set()

    syncing.request_pairing(kiosk, server_url, code, on_done)
    assert done.wait(20), "pairing never answered"
    assert answer == [None], f"pairing failed: {answer}"


def open_kiosk(data_dir: Path, **settings: Any) -> Any:
    """Open a real kiosk (services + SQLite store) in data_dir, no demo data."""
    from kiosk.config import KioskSettings
    from kiosk.services import Kiosk

    values: dict[str, Any] = {"data_dir": data_dir, "demo": True}
    values.update(settings)
    return Kiosk.open(KioskSettings(**values), seed_demo=False)
