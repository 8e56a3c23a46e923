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
