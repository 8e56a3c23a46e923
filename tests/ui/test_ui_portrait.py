"""Portrait screens (480x800 and 800x1280): every screen readable, the typed field in view.

The same checks as at 800x480 landscape (tests/ui/test_ui_layout.py: no text cut or pushed
out of the window or its layout, buttons' text contrast) on every screen in English and
Spanish, plus a check-in typed on our keyboard with the field above the keys, and a
screenshot of each screen (artifacts/screenshots/portrait_*). Run under Xvfb with a screen
of at least 1920x1080 (taller windows still render off the screen's bottom edge).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from test_ui_layout import SCREENS, fill, layout_problems
from test_ui_redesign import assert_field_in_view, dob_digits, screen

PORTRAIT = [(480, 800), (800, 1280)]


@pytest.fixture(params=PORTRAIT, ids=["480x800", "800x1280"])
def portrait(request: pytest.FixtureRequest, ui: Any) -> Iterator[Any]:
    width, height = request.param
    ui.window.size = (width, height)
    ui.pump_until(lambda: tuple(ui.window.size) == (width, height))
    ui.pump(3)
    yield ui
    ui.app.end_session()
    ui.app.set_language("en")
    ui.window.size = (800, 480)
    ui.pump_until(lambda: tuple(ui.window.size) == (800, 480))
    ui.pump(3)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_screen_is_readable_in_portrait(portrait: Any, lang: str) -> None:
    ui = portrait
    size = f"{ui.window.width}x{ui.window.height}"
    window_box = (0.0, 0.0, float(ui.window.width), float(ui.window.height))
    found: dict[str, list[str]] = {}
    for name in SCREENS:
        ui.app.set_language(lang)
        shown = fill(ui.app, name)
        ui.pump(3)
        problems = layout_problems(shown, window_box) + layout_problems(ui.app.top_bar, window_box)
        if problems:
            found[name] = problems
        ui.screenshot(f"portrait_{shown.name}_{lang}_{size}")
        ui.app.show("welcome")
        ui.app.end_session()
    assert not found, "\n".join(f"{k}: {p}" for k, v in found.items() for p in v)


def test_check_in_by_taps_in_portrait(portrait: Any) -> None:
    ui = portrait
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    assert_field_in_view(ui, checkin.ids.last_name, "last name")
    ui.type_text("Okafor")
    ui.press_enter()
    assert checkin.ids.dob.focus and ui.app.keyboard.mode == "digits"
    assert_field_in_view(ui, checkin.ids.dob, "date of birth")
    ui.type_text(dob_digits(checkin.ids.dob, date(1984, 3, 12)))
    assert checkin.ids.dob.value() == date(1984, 3, 12)
    ui.screenshot(f"portrait_checkin_dob_{ui.window.width}x{ui.window.height}")
    ui.press_enter()
    screen(ui, "confirm")
