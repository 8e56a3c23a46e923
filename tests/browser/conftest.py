"""A real clinic server process on loopback, a paired kiosk, and headless Debian Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    Server,
    _free_port,
    _prepare_database,
)

from sync import protocol


def _midday_timezone() -> str:
    """Return a fixed-offset zone where it is about noon now.

    "Today" on the arrivals page is the clinic's day; a check-in made 25 minutes ago must
    fall on it whatever time the suite runs (a run at 00:10 UTC would split the day).
    """
    shift = max(-12, min(14, 12 - datetime.now(UTC).hour))
    return "UTC" if shift == 0 else f"Etc/GMT{-shift:+d}"  # POSIX sign: Etc/GMT-5 is UTC+5


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start `uvicorn clinic.app:create_app` on a fresh SQLite file; pair one kiosk."""
    workdir = tmp_path_factory.mktemp("clinic-server")
    database_url = f"sqlite:///{workdir / 'clinic.db'}"
    code = _prepare_database(database_url)
    port = _free_port()
    env = {
        **os.environ,
        "CLINIC_DATABASE_URL": database_url,
        "CLINIC_ENVIRONMENT": "test",
        "CLINIC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CLINIC_TIMEZONE": _midday_timezone(),
        # The follow-up page reloads itself this often (20 s in production), so a test can
        # watch it change without waiting long.
        "CLINIC_FOLLOW_UP_REFRESH_SECONDS": "2",
    }
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "clinic.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(base_url + protocol.HEALTH_PATH, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("server did not start within 30 s")
        time.sleep(0.1)
    paired = httpx.post(
        base_url + protocol.PAIR_PATH,
        json={"code": code, "kiosk_name": "Lobby kiosk", "app_version": "1.0.0"},
        timeout=10,
    )
    assert paired.status_code == 201, paired.text
    token = paired.json()["token"]
    heartbeat = httpx.post(
        base_url + protocol.HEARTBEAT_PATH,
        json={"app_version": "1.0.0", "backlog": 3, "failed": 1, "last_error": "timeout"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert heartbeat.status_code == 200, heartbeat.text
    srv = Server(base_url=base_url, database_url=database_url, kiosk_token=token, process=process)
    try:
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch Debian's headless Chromium (FAIL instead of skip when REQUIRE_BROWSER=1)."""
    required = os.environ.get("REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        if required:
            pytest.fail(f"playwright is not installed: {exc}")
        pytest.skip("playwright is not installed")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser"
        manager.stop()
        if required:
            pytest.fail(f"Chromium cannot launch ({CHROMIUM}): {exc}")
        pytest.skip(f"Chromium cannot launch: {exc}")
    try:
        yield chromium
    finally:
        chromium.close()
        manager.stop()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test, tablet-sized."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, accept_downloads=True)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()
