"""Suite-wide set-up shared by every test directory."""

from __future__ import annotations

import importlib.util
import os

import pytest
from xdisplay import start_own_display

from scripts.compile_catalogs import compile_catalogs

if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("DISPLAY"):
    # A parallel worker: a screen of its own, before any test module imports Kivy.
    start_own_display()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile catalogs edited since the editable install, as the package build would."""
    if importlib.util.find_spec("babel") is None:
        return  # a server-only environment ([server] extra): it has no kiosk to translate
    compile_catalogs()


#: The modules that take longest (pytest --durations), started first: with the suite split
#: by module over parallel workers, a long module picked up last would run on alone at the
#: end while the other workers idle.
LONG_MODULES = (
    "test_sync_faults.py",
    "test_a11y_measure.py",
    "test_ui_redesign.py",
    "test_deploy_frozen_ui.py",
    "test_deploy_install.py",
    "test_ui_fast_checkin.py",
    "test_i18n_screens.py",
    "test_sync_crash.py",
    "test_ui_screenshots.py",
    "test_sync_backup.py",
    "test_retention_purge.py",
    "test_axe_pages.py",
    "test_fuzz_every_route.py",
    "test_staff_accounts.py",
    "test_staff_throttle.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the long modules first, longest first (a stable sort: each module keeps its own
    order of tests, and the others keep theirs)."""
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
