"""Build hook: compile the kiosk's gettext catalogs while the package is built (never at start).

Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from scripts.compile_catalogs import LOCALE_DIR, compile_catalogs  # noqa: E402


class BuildPyWithCatalogs(build_py):
    """Copy the packages, then compile every .po catalog to .mo next to its copy."""

    def run(self) -> None:
        if self.editable_mode:
            # An editable install imports assets/ from the checkout: compile in place.
            compile_catalogs(LOCALE_DIR)
            super().run()
            return
        super().run()
        compile_catalogs(LOCALE_DIR, Path(self.build_lib) / "assets" / "locale")


setup(cmdclass={"build_py": BuildPyWithCatalogs})
