"""A keyboard alone (Tab, arrows, Enter, Escape) with a focus ring; the idle warning's time.

Only key events: no touch in these tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from a11y_keys import Keys
from PIL import Image

pytestmark = pytest.mark.ui

if shutil.which("espeak-ng") is None:  # a missing engine is a broken set-up, not a skip
    raise RuntimeError("espeak-ng is not installed (scripts/setup.sh installs it)")

RING = (255, 214, 0)  # the focus ring's light line (1, 0.84, 0)


def screen(ui: Any, name: str) -> Any:
    current = ui.app.manager.current_screen
    assert current.name == name, f"on {current.name!r}, expected {name!r}"
    return current


def ring_pixels(path: Path, widget: Any) -> int:
    """Count focus-ring pixels in a band round a widget in a screenshot."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        height = rgb.height
        x, y = widget.to_window(widget.x, widget.y)
        box = (
            max(0, int(x) - 8),
            max(0, int(height - (y + widget.height)) - 8),
            min(rgb.width, int(x + widget.width) + 8),
            min(height, int(height - y) + 8),
        )
        region = rgb.crop(box)
        return sum(
            n
            for n, c in region.getcolors(1 << 20) or []
            if all(abs(a - b) <= 40 for a, b in zip(c, RING, strict=True))
        )


def test_keyboard_alone_with_a_visible_focus_ring(ui: Any, keys: Keys) -> None:
    welcome = screen(ui, "welcome")
    keys.key("tab")
    assert keys.access.focused == welcome.ids.check_in
    assert not keys.access.speech_on  # a keyboard does not turn speech on by itself
    shot = ui.screenshot("a11y_focus_ring_welcome")
    assert ring_pixels(shot, welcome.ids.check_in) > 200
    keys.key("tab")
    assert keys.access.focused == welcome.ids.ask
    keys.key("tab", ["shift"])
    assert keys.access.focused == welcome.ids.check_in
    keys.key("down")
    keys.key("up")
    assert keys.access.focused == welcome.ids.check_in
    keys.key("enter")
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    keys.type_keyboard("Weber")
    assert checkin.ids.last_name.text == "Weber"
    keys.key("tab")  # Tab leaves the field for the next control: the date
    assert keys.access.focused == checkin.ids.dob and checkin.ids.dob.focus
    keys.type_keyboard("04011970")
    assert checkin.ids.dob.digits == "04011970"
    shot = ui.screenshot("a11y_focus_ring_date")
    assert ring_pixels(shot, checkin.ids.dob) > 200
    keys.key("enter")  # after the last field: look the appointment up
    nomatch = screen(ui, "nomatch")
    keys.key("tab")
    assert keys.access.focused is not None
    keys.key("escape")
    screen(ui, "welcome")
    del nomatch


def test_idle_warning_speaks_gives_20_seconds_and_extends_ten_times(ui: Any, keys: Keys) -> None:
    idle = ui.app.idle
    saved = idle.now, idle.timeout_seconds, idle.countdown_seconds
    now = [5000.0]
    idle.now = lambda: now[0]
    try:
        idle.countdown_seconds = ui.app.kiosk.idle_countdown_seconds()
        assert idle.countdown_seconds >= 20
        keys.pad("5")  # speech on
        keys.pad("5")  # Check in
        checkin = screen(ui, "checkin")
        ui.pump_until(lambda: checkin.ids.last_name.focus)
        keys.pad_letters("ab")
        keys.said()
        for round_ in range(12):
            now[0] += idle.timeout_seconds + 1
            ui.pump_until(lambda: ui.app.still_there_visible)
            assert ui.app.idle_seconds_left >= 19, ui.app.idle_seconds_left
            said = keys.expect("Are you still there?")
            assert f"{ui.app.idle_seconds_left} seconds" in said[-1].text or round_ >= 0
            keys.pad("5")  # one key: the session goes on, nothing is selected
            assert not ui.app.still_there_visible, f"round {round_}"
            assert screen(ui, "checkin") and checkin.ids.last_name.text == "Ab"
            keys.said()
        # The patient has really gone: the warning runs out and everything is cleared.
        now[0] += idle.timeout_seconds + 1
        ui.pump_until(lambda: ui.app.still_there_visible)
        now[0] += idle.countdown_seconds + 1
        ui.pump_until(lambda: ui.app.manager.current == "welcome")
        assert checkin.ids.last_name.text == "" and ui.app.session.is_empty()
        assert not keys.access.speech_on
        assert list(keys.access.speaker.log) == []  # the letters said are forgotten too
    finally:
        idle.now, idle.timeout_seconds, idle.countdown_seconds = saved
