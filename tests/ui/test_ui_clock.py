"""The staff corner says so when the kiosk's clock cannot be right."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.ui


def open_admin(ui: Any) -> Any:
    """Open the staff corner through the hidden corner and the PIN pad (demo PIN)."""
    corner = ui.app.top_bar.ids.staff_corner
    ui.tap(corner, times=5)
    pin = ui.app.manager.current_screen
    assert pin.name == "admin_pin"
    keys = {k.key: k for k in pin.ids.pad.walk(restrict=True) if hasattr(k, "key")}
    for digit in "1234":
        ui.tap(keys[digit])
    ui.tap(pin.ids.ok)
    assert ui.app.manager.current == "admin"
    return ui.app.manager.current_screen


def test_staff_corner_warns_of_a_clock_minutes_off_the_server(ui: Any, kiosk: Any) -> None:
    from kiosk.state import StateKey, set_state

    admin = open_admin(ui)
    assert "Clock wrong" not in admin.ids.sync_status.text  # the check below can fail
    ui.app.go_home()
    with kiosk.db.write() as session:  # as the sync worker records it from the Date header
        set_state(StateKey.CLOCK_SKEW_SECONDS, "-1260", session=session)
    try:
        admin = open_admin(ui)
        assert (
            "Clock wrong: 21 min behind the clinic server. Set the time."
            in admin.ids.sync_status.text
        )
        ui.tap(ui.app.top_bar.ids.languages.children[0])  # ES (the buttons are right to left)
        assert "21 min atrasado" in admin.ids.sync_status.text
        ui.screenshot("admin_clock_warning")
    finally:
        with kiosk.db.write() as session:
            set_state(StateKey.CLOCK_SKEW_SECONDS, None, session=session)
