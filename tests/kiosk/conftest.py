"""Fixtures for the kiosk core: real SQLite files in tmp_path and a clock the test moves."""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database seeded once at the fixed clock; each test gets its own copy."""
    directory = tmp_path_factory.mktemp("demo-template")
    clock = Clock()
    settings = KioskSettings.load(environ={}, data_dir=directory, demo=True)
    Kiosk.open(settings, clock=clock, monotonic=clock.monotonic).close()  # checkpoints WAL
    return settings.database_path


@pytest.fixture
def kiosk(settings: KioskSettings, clock: Clock, demo_template: Path) -> Iterator[Kiosk]:
    """A demo kiosk (seeded relative to the fixed clock) on its own SQLite file."""
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_template, settings.database_path)
    opened = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic, seed_demo=False)
    yield opened
    opened.close()


@pytest.fixture
def empty_kiosk(settings: KioskSettings, clock: Clock) -> Iterator[Kiosk]:
    """A kiosk with no demo data at all (no hash key, no appointments)."""
    opened = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic, seed_demo=False)
    yield opened
    opened.close()
