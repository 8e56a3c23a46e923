"""A real clinic server process on loopback, a paired kiosk, and headless Debian Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    clinic_server,
)


def _midday_timezone() -> str:
    """Return a fixed-offset zone where it is about noon now.

    "Today" on the arrivals page is the clinic's day; a check-in made 25 minutes ago must
    fall on it whatever time the suite runs (a run at 00:10 UTC would split the day).
    """
    shift = max(-12, min(14, 12 - datetime.now(UTC).hour))
    return "UTC" if shift == 0 else f"Etc/GMT{-shift:+d}"  # POSIX sign: Etc/GMT-5 is UTC+5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start `uvicorn clinic.app:create_app` on a fresh SQLite file; pair one kiosk.

    One per test module: a module's counts never include what another module recorded,
    whatever order or worker the modules run in."""
    workdir = tmp_path_factory.mktemp("clinic-server")
    with clinic_server(
        workdir,
        f"sqlite:///{workdir / 'clinic.db'}",
        _midday_timezone(),
        # The follow-up page reloads itself this often (20 s in production), so a test can
        # watch it change without waiting long.
        CLINIC_FOLLOW_UP_REFRESH_SECONDS="2",
    ) as srv:
        yield srv


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
