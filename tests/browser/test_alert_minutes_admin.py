"""An admin edits the timed alert rules' minutes on the admin page, in headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import ADMIN, Server, login, shoot
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.browser

FORM = "form[action='/dashboard/admin/alert-minutes']"


def _stored(server: Server) -> tuple[Any, ...]:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT alert_question_unanswered_minutes, alert_patient_waiting_minutes,"
                    " alert_kiosk_silent_minutes FROM clinic_settings WHERE id = 1"
                )
            ).one()
            audits = conn.execute(
                text("SELECT action FROM audit_log WHERE action LIKE 'settings.alert_minutes%'")
            ).scalars()
            return (*row, sorted(audits))
    finally:
        engine.dispose()


def test_admin_edits_alert_minutes_with_server_side_checks(server: Server, context: Any) -> None:
    page = context.new_page()
    login(page, server.base_url, ADMIN)
    page.goto(server.base_url + "/dashboard/admin")
    form = page.locator(FORM)
    # The server's settings are shown to begin with (15, 45 and 10 minutes by default).
    assert form.locator("#alert-question-unanswered").input_value() == "15"
    assert form.locator("#alert-kiosk-silent").input_value() == "10"
    assert form.locator("button[name=use_server_settings]").count() == 0

    # Refused: too short for a kiosk's silence, and not whole minutes.
    form.locator("#alert-kiosk-silent").fill("2")
    form.locator("#alert-question-unanswered").fill("1.5")
    with page.expect_response(lambda r: r.url.endswith("/alert-minutes")) as answer:
        form.locator("button", has_text="Save alert times").click()
    assert answer.value.status == 422
    silent_error = page.locator("#alert-kiosk-silent-error")
    assert "2 minutes is too short" in silent_error.inner_text()
    assert "from 3 to 600" in silent_error.inner_text()
    assert page.locator("#alert-kiosk-silent").get_attribute("aria-invalid") == "true"
    assert "alert-kiosk-silent-error" in (
        page.locator("#alert-kiosk-silent").get_attribute("aria-describedby") or ""
    )
    assert (
        "'1.5' is not a whole number"
        in page.locator("#alert-question-unanswered-error").inner_text()
    )
    assert page.locator("#alert-question-unanswered").input_value() == "1.5"  # kept to correct
    assert page.locator("#alert-patient-waiting").get_attribute("aria-invalid") is None
    assert (
        page.locator("p.error[role=alert]")
        .inner_text()
        .startswith("The alert times were not saved")
    )
    shoot(page, "admin-alert-minutes-refused")
    assert _stored(server) == (None, None, None, [])

    # Accepted: the page says so and shows the saved values; the change is audited.
    form = page.locator(FORM)
    form.locator("#alert-question-unanswered").fill("5")
    form.locator("#alert-patient-waiting").fill("0")
    form.locator("#alert-kiosk-silent").fill("3")
    form.locator("button", has_text="Save alert times").click()
    page.wait_for_url("**ok=alert-minutes")
    assert "Alert times saved" in page.locator("p.notice[role=status]").inner_text()
    assert page.locator("#alert-question-unanswered").input_value() == "5"
    assert page.locator("#alert-patient-waiting").input_value() == "0"
    assert _stored(server) == (5, 0, 3, ["settings.alert_minutes"])
    shoot(page, "admin-alert-minutes-saved")

    # Back to the server's settings.
    page.locator(FORM).locator("button[name=use_server_settings]").click()
    page.wait_for_url("**ok=alert-minutes-reset")
    assert page.locator("#alert-question-unanswered").input_value() == "15"
    assert _stored(server) == (
        None,
        None,
        None,
        ["settings.alert_minutes", "settings.alert_minutes_reset"],
    )
