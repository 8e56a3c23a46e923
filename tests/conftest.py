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
    "test_deploy_frozen_ui.py",
    "test_deploy_install.py",
    "test_sync_crash.py",
    "test_axe_pages.py",
    "test_i18n_screens.py",
    "test_staff_accounts.py",
    "test_staff_throttle.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the long modules first (a stable sort: each module keeps its own order)."""
    items.sort(key=lambda item: item.path.name not in LONG_MODULES)
