"""Calling a patient: their follow-up page changes in place; the paired display shows it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from browser_support import ADMIN, Server, login, record, shoot
from playwright.sync_api import expect

from sync import protocol
from sync.protocol import RecordKind

pytestmark = pytest.mark.browser


def _walk_in(number: str, token: str, minutes_ago: float) -> dict[str, Any]:
    return record(
        RecordKind.WALK_IN,
        protocol.WalkInBody(
            first_name="Quinn",
            last_name=f"Queuetest{number}",
            date_of_birth="1970-02-03",
            reason="Twisted ankle",
            arrived_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
            queue_number=number,
            follow_up_token=token,
            language="en",
        ),
    )


def test_calling_a_patient_updates_their_page_and_the_display(
    server: Server, browser: Any, context: Any
) -> None:
    first_token = protocol.new_follow_up_token()
    second_token = protocol.new_follow_up_token()
    # Long ago enough to be first in the walk-in queue whatever else is waiting.
    server.ingest(_walk_in("Q71", first_token, 600), _walk_in("Q72", second_token, 599))

    # The patient's phone: waiting, with a wait range; the page will not reload.
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(server.base_url + f"/f/{first_token}")
    assert phone.locator("#queue-status").get_attribute("data-status") == "waiting"
    assert "min" in phone.locator("#queue-wait").inner_text()
    # No reload with JavaScript; without it, a refresh inside <noscript> and a link.
    html = httpx.get(server.base_url + f"/f/{first_token}", timeout=10).text
    assert '<noscript><meta http-equiv="refresh"' in html and html.count("http-equiv") == 1
    assert phone.locator("#queue-reload").is_visible()
    phone.evaluate("window.__sameDocument = true")

    # The admin pairs a waiting-room display with a one-time code.
    staff = context.new_page()
    login(staff, server.base_url, ADMIN)
    staff.goto(server.base_url + "/dashboard/displays")
    staff.click("#new-display-code")
    code = staff.locator("#display-pairing-code b").inner_text().strip()
    tv_context = browser.new_context(viewport={"width": 1920, "height": 1080})
    tv_context.set_default_timeout(10_000)
    try:
        tv = tv_context.new_page()
        tv.goto(server.base_url + "/display")
        tv.fill("#code", "WRONG-CODE1")
        tv.click("#pair")
        assert tv.locator("#pair-error").is_visible()
        tv.fill("#code", code)
        tv.fill("#name", "Lobby TV")
        tv.click("#pair")
        tv.wait_for_selector("#calls")
        # The same code does not pair a second screen.
        again = httpx.post(
            server.base_url + "/display/pair",
            data={"code": code, "name": "Thief"},
            follow_redirects=False,
            timeout=10,
        )
        assert again.headers["location"].endswith("error=1") and "set-cookie" not in again.headers

        # Staff call the next walk-in to Room 3 from the arrivals page.
        staff.goto(server.base_url + "/dashboard/arrivals")
        staff.select_option("#call-next-queue", value="")
        staff.fill("#call-next-room", "Room 3")
        staff.locator("#call-next button[type=submit]").click()
        staff.wait_for_url("**/dashboard/arrivals?ok=called")
        row = staff.locator("#arrivals tbody tr", has_text="Q71")
        assert "Called in" in row.inner_text() and "Room 3" in row.inner_text()

        # The phone says where to go, without a reload.
        expect(phone.locator("#queue-status")).to_contain_text("Room 3", timeout=15_000)
        assert phone.evaluate("window.__sameDocument") is True
        assert "please go to Room 3" in phone.locator("#queue-status").inner_text()
        assert phone.locator("#queue-place-row").is_hidden()
        shoot(phone, "queue-followup-called")

        # The display shows the number and the room, and never a name or a reason.
        tv.wait_for_selector("#calls li[data-number=Q71]", timeout=15_000)
        line = tv.locator("#calls li[data-number=Q71]").inner_text()
        assert "Q71" in line and "Room 3" in line
        text = tv.locator("body").inner_text()
        assert "Queuetest" not in text and "Quinn" not in text and "Twisted" not in text
        state = tv.evaluate("fetch('/display/state').then(r => r.text())")
        assert "Queuetest" not in state and "Twisted" not in state and "Quinn" not in state
        assert int(tv.locator("#waiting").inner_text()) >= 1
        shoot(tv, "queue-display")

        # A recall chimes again on the open display (no reload).
        tv.evaluate("window.__sameDocument = true")
        staff.locator("#arrivals tbody tr", has_text="Q71").locator(
            "button", has_text="Recall"
        ).click()
        staff.wait_for_url("**/dashboard/arrivals?ok=recall")
        expect(tv.locator("body")).to_have_attribute(
            "data-chimes", re.compile(r"^[1-9]"), timeout=15_000
        )
        assert tv.evaluate("window.__sameDocument") is True

        # Revoked: the display's state is refused and the screen goes back to pairing.
        staff.goto(server.base_url + "/dashboard/displays")
        staff.locator("#displays tbody tr", has_text="Lobby TV").locator(
            "button", has_text="Revoke"
        ).click()
        tv.wait_for_selector("#code", timeout=15_000)
        refused = tv.evaluate("fetch('/display/state').then(r => r.status)")
        assert refused == 401
    finally:
        tv_context.close()
