"""Every patient screen rendered at 800x480, 1280x800 and 1920x1080 (docs/screenshots/).

Each PNG is checked to be drawn (not blank) and the receipt's QR code to decode; the
repository's copies are these files reduced to 64 colours. Run under Xvfb with a screen of
at least 1920x1080: SDL's offscreen driver keeps its first framebuffer size when the window
is resized.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import zxingcpp
from PIL import Image

SIZES = [(800, 480), (1280, 800), (1920, 1080)]


@pytest.mark.parametrize("sized", SIZES, indirect=True, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_screen_at_every_size(sized: Any) -> None:
    from tests.ui.test_ui_layout import fill

    ui = sized
    size = f"{ui.window.width}x{ui.window.height}"

    def shot(name: str) -> Any:
        ui.pump(4)
        return ui.screenshot(f"kiosk-{name}-{size}")

    shot("welcome")
    ui.tap(ui.app.screen("welcome").ids.check_in)
    checkin = ui.app.manager.current_screen
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    ui.type_text("Okafor")
    shot("checkin-keyboard")
    ui.press_enter()
    ui.type_text("0312198")
    shot("checkin-dob")
    ui.type_text("4")
    checkin.ids.dob.focus = False
    shot("checkin")
    assert checkin.ids.dob.value() == date(1984, 3, 12)
    for name in (
        "confirm",
        "contact",
        "walkin",
        "verify_phone",
        "nomatch",
        "frontdesk",
        "questions",
        "ask",
        "rate",
        "rate_details",
        "admin_pin",
    ):
        ui.app.end_session()
        fill(ui.app, name)
        if name in ("confirm", "contact", "walkin", "ask", "rate_details"):
            ui.app.manager.current_screen.errors = {}
        shot(name)
    ui.app.end_session()
    ui.app.show_receipt("check_in", screen_receipt())
    path = shot("receipt")
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(path))] == [
        "https://clinic.example.test/f/abcdefghijklmnopqrstuv"
    ]
    ui.app.end_session()
    ui.app.set_language("es")
    shot("welcome-es")
    ui.app.set_accessibility(True)
    shot("welcome-high-contrast")
    ui.app.set_accessibility(False)
    ui.app.set_language("en")
    ui.app.admin_unlocked = True
    ui.app.show("admin")
    ui.pump(2)
    view = ui.app.confirm_exit()
    shot("admin-exit")
    view.dismiss(animation=False)


def screen_receipt() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        queue_number="A002",
        estimated_wait_minutes=15,
        follow_up_url="https://clinic.example.test/f/abcdefghijklmnopqrstuv",
    )
