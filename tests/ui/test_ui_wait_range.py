"""The receipt shows a wait range when the kiosk pulled one, in the patient's language."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from kiosk.state import StateKey, set_datetime, set_state


def test_receipt_shows_the_pulled_walk_in_range(ui: Any, kiosk: Any) -> None:
    with kiosk.db.write() as session:
        ranges = {"walk_in": [15, 40], "clinicians": {}}
        set_state(StateKey.QUEUE_WAIT_RANGES, json.dumps(ranges), session=session)
        set_datetime(StateKey.QUEUE_UPDATED_AT, kiosk.now(), session=session)
    try:
        receipt = kiosk.register_walk_in(
            "Rana", "Rangeview", date(1988, 8, 8), "Cough", None, "en"
        )
        assert (receipt.estimated_wait_minutes, receipt.estimated_wait_high_minutes) == (15, 40)
        ui.app.show_receipt("check_in", receipt)
        ui.pump_until(lambda: ui.app.manager.current == "receipt")
        screen = ui.app.manager.current_screen
        ui.pump(3)
        assert screen.ids.wait.text == "Estimated wait: about 15-40 minutes"
        ui.screenshot("receipt_wait_range")
        ui.app.set_language("es")
        ui.pump(3)
        assert "15-40" in screen.ids.wait.text
        assert "Estimated" not in screen.ids.wait.text
    finally:
        with kiosk.db.write() as session:
            set_state(StateKey.QUEUE_WAIT_RANGES, None, session=session)
        ui.app.go_home()
        ui.pump(3)
