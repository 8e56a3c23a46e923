"""The receipt shows a wait range when the service gave one, in the patient's language.

(How the kiosk computes the range from the pull: tests/kiosk/test_kiosk_wait_range.py.)
"""

from __future__ import annotations

from typing import Any

from kiosk.facade import CheckInReceipt


def test_receipt_shows_a_wait_range_and_a_single_figure_without_one(ui: Any) -> None:
    ranged = CheckInReceipt(
        check_in_id="00000000-0000-4000-8000-000000000001",
        queue_number="A901",
        estimated_wait_minutes=15,
        follow_up_url="https://clinic.example.test/f/AAAAAAAAAAAAAAAAAAAAAAAA",
        estimated_wait_high_minutes=40,
    )
    try:
        ui.app.show_receipt("check_in", ranged)
        ui.pump_until(lambda: ui.app.manager.current == "receipt")
        screen = ui.app.manager.current_screen
        ui.pump(3)
        assert screen.ids.wait.text == "Estimated wait: about 15-40 minutes"
        ui.screenshot("receipt_wait_range")
        ui.app.set_language("es")
        ui.pump(3)
        assert "15-40" in screen.ids.wait.text and "Estimated" not in screen.ids.wait.text
        ui.app.set_language("en")
        single = CheckInReceipt(
            check_in_id="00000000-0000-4000-8000-000000000002",
            queue_number="A902",
            estimated_wait_minutes=20,
            follow_up_url="https://clinic.example.test/f/BBBBBBBBBBBBBBBBBBBBBBBB",
        )
        ui.app.show_receipt("check_in", single)
        ui.pump(3)
        assert screen.ids.wait.text == "Estimated wait: about 20 minutes"
    finally:
        ui.app.go_home()
        ui.pump(3)
