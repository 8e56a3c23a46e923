"""Kivy set-up shared by the benches that open a window (kiosk.py, patient.py, sync.py).

Imported by the bench scripts as a sibling module (the script's folder is on sys.path);
it imports Kivy only when called, after the environment it sets.
"""

from __future__ import annotations

import os
from pathlib import Path


def configure_kivy(home: str | Path, *, maxfps: int | None = None, kiosk_mode: bool = True) -> None:
    """Configure Kivy as the tests do: no argv parsing, a private home, 800x480, no input devices.

    maxfps: Kivy's frame cap (None: Kivy's default); kiosk_mode: apply the kiosk app's
    window settings (kiosk.app.configure_kiosk_mode) as the real kiosk does.
    """
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ["KIVY_HOME"] = str(home)
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    from kivy.config import Config

    Config.set("graphics", "width", "800")
    Config.set("graphics", "height", "480")
    if maxfps is not None:
        Config.set("graphics", "maxfps", str(maxfps))
    if kiosk_mode:
        from kiosk.app import configure_kiosk_mode

        configure_kiosk_mode()
    for key, _ in Config.items("input"):
        Config.remove_option("input", key)
