"""Fixtures for the kiosk core: real SQLite files in tmp_path and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kiosk_core_helpers import Clock

from kiosk.config import KioskSettings
from kiosk.services import Kiosk


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> KioskSettings:
    return KioskSettings.load(environ={}, data_dir=tmp_path / "kiosk", demo=True)


@pytest.fixture
def kiosk(settings: KioskSettings, clock: Clock) -> Iterator[Kiosk]:
    """A demo kiosk (seeded relative to the fixed clock) on a fresh SQLite file."""
    opened = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    yield opened
    opened.close()


@pytest.fixture
def empty_kiosk(settings: KioskSettings, clock: Clock) -> Iterator[Kiosk]:
    """A kiosk with no demo data at all (no hash key, no appointments)."""
    opened = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic, seed_demo=False)
    yield opened
    opened.close()
