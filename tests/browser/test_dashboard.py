"""The staff dashboard and the patient follow-up page in headless Chromium, real server."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import ADMIN, STAFF, Server, login, record, shoot
from sqlalchemy import create_engine, text, update

from clinic.models import FollowUpToken
from clinic.security import hash_token
from sync import protocol
from sync.protocol import RecordKind

pytestmark = pytest.mark.browser

XSS_COMMENT = '<script>window.__pwned = 1; alert("x")</script> & <b>bold</b>'


def _now() -> datetime:
    return datetime.now(UTC)


def _token() -> str:
    return protocol.new_follow_up_token()


def _rating(face: int, *, minutes_ago: float = 1, token: str | None = None) -> dict[str, Any]:
    body = protocol.RatingBody(
        face=face,
        rated_at=_now() - timedelta(minutes=minutes_ago),
        follow_up_token=token or _token(),
        language="en",
    )
    return record(RecordKind.RATING, body)


def _detail(rating: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return record(
        RecordKind.RATING_DETAIL, protocol.RatingDetailBody(rating_id=rating["id"], **fields)
    )


def test_staff_sees_synced_records_and_answers_a_question(server: Server, context: Any) -> None:
    """Log in; a synced check-in, walk-in, question and rating show; the answer reaches /f/."""
    question_token = _token()
    check_in_token = _token()
    walk_in_token = _token()
    rating = _rating(4, minutes_ago=120)
    page = context.new_page()
    login(page, server.base_url, ADMIN)

    # The admin imports today's appointments from CSV; a bad row is reported, not fatal.
    page.click("nav >> text=Admin")
    starts = (_now() + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "appointments.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "ref,first_name,last_name,date_of_birth,starts_at,clinician\n"
                    f"APT-1001,Ada,Testperson,1980-02-03,{starts},Dr Example\n"
                    "APT-1002,Bob,Broken,not-a-date,2026-01-01T09:00,Dr Example\n"
                ).encode(),
            }
        ],
    )
    page.click("form[action='/dashboard/admin/appointments/import'] button")
    report = page.locator("#import-report").inner_text()
    assert "1 appointments imported" in report
    assert "date_of_birth" in report

    # Records arrive the way a kiosk sends them.
    server.ingest(
        record(
            RecordKind.CHECK_IN,
            protocol.CheckInBody(
                appointment_ref="APT-1001",
                checked_in_at=_now() - timedelta(minutes=25),
                queue_number="A07",
                follow_up_token=check_in_token,
                language="es",
            ),
        ),
        record(
            RecordKind.WALK_IN,
            protocol.WalkInBody(
                first_name="Testa",
                last_name="Synthetic",
                date_of_birth="1990-01-01",
                reason="Sore throat",
                arrived_at=_now() - timedelta(minutes=5),
                queue_number="W01",
                follow_up_token=walk_in_token,
                language="en",
            ),
        ),
        record(
            RecordKind.QUESTION,
            protocol.QuestionBody(
                text="Where can I park my bicycle?",
                asked_at=_now() - timedelta(minutes=3),
                follow_up_token=question_token,
                language="en",
            ),
        ),
        rating,
    )
    server.ingest(_detail(rating, politeness=5, would_recommend=9, comment="Friendly staff"))
    page.click("nav >> text=Arrivals")

    # Arrivals: both patients in arrival order, walk-in flagged, time waited shown.
    rows = page.locator("#arrivals tbody tr")
    assert rows.count() == 2
    assert "A07" in rows.nth(0).inner_text()
    assert "Ada Testperson" in rows.nth(0).inner_text()
    assert "Dr Example" in rows.nth(0).inner_text()
    assert "W01" in rows.nth(1).inner_text()
    assert "Walk-in" in rows.nth(1).inner_text()
    waited = int(re.search(r"(\d+) min", rows.nth(0).locator(".waited").inner_text()).group(1))
    assert 24 <= waited <= 30
    shoot(page, "dashboard-arrivals")

    # The check-in's follow-up page (Spanish, from the kiosk record): place in the queue.
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(server.base_url + f"/f/{check_in_token}")
    assert phone.locator("html").get_attribute("lang") == "es"
    assert phone.locator("#queue-number").inner_text() == "A07"
    assert phone.locator("#queue-place").inner_text() == "0"
    assert "Synthetic" not in phone.content()
    shoot(phone, "followup-check-in")

    # Call the first patient in: their page says so, the second patient moves up.
    rows.nth(0).locator("button", has_text="Call in").click()
    page.wait_for_url("**/dashboard/arrivals?ok=status")
    assert "Called in" in page.locator("#arrivals tbody tr").nth(0).inner_text()
    phone.goto(server.base_url + f"/f/{check_in_token}")
    assert "Es su turno" in phone.locator("#queue-status").inner_text()
    phone.goto(server.base_url + f"/f/{walk_in_token}")
    assert phone.locator("#queue-place").inner_text() == "0"

    # Questions: answer it; the patient's page shows the answer.
    phone.goto(server.base_url + f"/f/{question_token}")
    assert phone.locator("#no-answer").is_visible()
    page.click("nav >> text=Questions")
    card = page.locator("article", has_text="Where can I park my bicycle?")
    card.locator("textarea").fill("Bicycle racks are left of the main door.")
    card.locator("button", has_text="Save answer").click()
    page.wait_for_url("**/dashboard/questions?ok=answered")
    shoot(page, "dashboard-questions")
    phone.goto(server.base_url + f"/f/{question_token}")
    assert phone.locator("#answer-text").inner_text() == "Bicycle racks are left of the main door."
    assert phone.locator("#question-text").inner_text() == "Where can I park my bicycle?"
    shoot(phone, "followup-question")
    page.locator("article", has_text="Where can I park my bicycle?").get_by_role(
        "button", name="Mark done", exact=True
    ).click()
    page.wait_for_url("**/dashboard/questions?ok=done")
    assert page.locator("article", has_text="bicycle").count() == 0
    page.goto(server.base_url + "/dashboard/questions?view=done")
    assert page.locator("article", has_text="Bicycle racks are left").count() == 1
    shoot(page, "dashboard-questions-done")

    # Feedback: the synced rating and its detail, with a review state and note.
    page.click("nav >> text=Feedback")
    row = page.locator("#ratings tbody tr", has_text="Friendly staff")
    assert row.count() == 1
    row.locator("select[name=state]").select_option("acknowledged")
    row.locator("input[name=note]").fill("Thanked the team")
    row.locator("button", has_text="Save").click()
    page.wait_for_url("**ok=reviewed")
    row = page.locator("#ratings tbody tr", has_text="Friendly staff")
    assert "acknowledged" in row.inner_text()
    assert "Thanked the team" in row.inner_text()
    assert page.locator("svg.chart").count() == 3
    shoot(page, "dashboard-feedback")

    # Kiosks: the paired kiosk's health from its heartbeat.
    page.click("nav >> text=Kiosks")
    kiosk_row = page.locator("#kiosks tbody tr", has_text="Lobby kiosk")
    cells = kiosk_row.locator("td")
    assert cells.nth(2).inner_text() == "1.0.0"
    assert cells.nth(3).inner_text() == "3"
    assert "1" in cells.nth(4).inner_text()
    shoot(page, "dashboard-kiosks")


def test_rating_follow_up_survey_and_call_back(server: Server, context: Any) -> None:
    """The rating's page takes the longer survey and a call-back request; staff see it."""
    token = _token()
    server.ingest(_rating(5, minutes_ago=200, token=token))
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(server.base_url + f"/f/{token}")
    shoot(phone, "followup-rating")
    phone.locator("#survey input[name=overall][value='4'] + span").click()
    phone.locator("#survey input[name=would_recommend][value='10'] + span").click()
    phone.fill("#comment", "Nice waiting room")
    phone.locator("#survey button").click()
    phone.wait_for_url("**?saved=survey")
    assert phone.locator("#survey").count() == 0
    phone.fill("#phone", "not a phone")
    phone.locator("#callback button").click()
    assert phone.locator(".error").is_visible()
    phone.fill("#phone", "+1 555 0100")
    phone.locator("#callback button").click()
    phone.wait_for_url("**?saved=callback")
    assert phone.locator("#callback").count() == 0

    page = context.new_page()
    login(page, server.base_url, STAFF)
    page.goto(server.base_url + "/dashboard/feedback?face=5")
    table = page.locator("#ratings").inner_text()
    assert "+1 555 0100" in table
    assert "Nice waiting room" in table
    assert "would recommend 10" in table


def test_alert_raised_and_acknowledged(server: Server, context: Any) -> None:
    """Four responses within 15 minutes, half unhappy: an alert on every page until acked."""
    server.ingest(
        _rating(1, minutes_ago=2),
        _rating(2, minutes_ago=3),
        _rating(5, minutes_ago=4),
        _rating(4, minutes_ago=5),
    )
    page = context.new_page()
    login(page, server.base_url, STAFF)
    banner = page.locator(".alert-banner")
    assert banner.count() == 1
    assert "2 of 4" in banner.inner_text()
    page.click("nav >> text=Kiosks")
    assert page.locator(".alert-banner").count() == 1
    shoot(page, "dashboard-alert")
    page.locator(".alert-banner a", has_text="See them").click()
    faces = page.locator("#ratings .face").all_inner_texts()
    assert len(faces) >= 2 and set(faces) <= {"1", "2"}  # the burst's unhappy responses
    page.locator(".alert-banner button", has_text="Acknowledge").click()
    page.wait_for_url("**ok=acknowledged")
    assert page.locator(".alert-banner").count() == 0
    page.click("nav >> text=Feedback")
    assert page.locator(".alert-banner").count() == 0


def test_patient_text_is_shown_as_text(server: Server, context: Any) -> None:
    """A comment holding <script> appears verbatim and never runs."""
    rating = _rating(3, minutes_ago=300)
    server.ingest(rating)
    server.ingest(_detail(rating, comment=XSS_COMMENT))
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, server.base_url, STAFF)
    page.goto(server.base_url + "/dashboard/feedback?has_comment=1")
    cell = page.locator("#ratings td.comment", has_text="window.__pwned")
    assert cell.inner_text() == XSS_COMMENT
    assert page.evaluate("window.__pwned") is None
    csp = page.request.get(server.base_url + "/dashboard/feedback").headers
    assert "script-src 'self'" in csp["content-security-policy"]
    assert page.locator("#ratings b", has_text="bold").count() == 0
    assert dialogs == []


def test_form_without_csrf_token_is_refused(server: Server, context: Any) -> None:
    """A dashboard form posted without its CSRF token gets 403 and changes nothing."""
    page = context.new_page()
    login(page, server.base_url, STAFF)
    token = _token()
    server.ingest(
        record(
            RecordKind.QUESTION,
            protocol.QuestionBody(
                text="CSRF probe question", asked_at=_now(), follow_up_token=token, language="en"
            ),
        )
    )
    page.goto(server.base_url + "/dashboard/questions")
    card = page.locator("article", has_text="CSRF probe question")
    card.locator("input[name=csrf_token]").first.evaluate("el => el.remove()")
    card.locator("textarea").fill("forged")
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        card.locator("button", has_text="Save answer").click()
    assert info.value.status == 403
    page.goto(server.base_url + f"/f/{token}")
    assert page.locator("#no-answer").is_visible()


def test_csv_export(server: Server, context: Any) -> None:
    """An admin downloads the feedback CSV; formulas in comments are neutralised."""
    rating = _rating(2, minutes_ago=400)
    server.ingest(rating)
    server.ingest(_detail(rating, comment='=HYPERLINK("http://evil")'))
    page = context.new_page()
    login(page, server.base_url, ADMIN)
    page.click("nav >> text=Admin")
    shoot(page, "dashboard-admin")
    with page.expect_download() as info:
        page.click("#export-feedback")
    download = info.value
    assert download.suggested_filename.startswith("feedback-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    mine = [r for r in rows if r["id"] == rating["id"]]
    assert len(mine) == 1
    assert mine[0]["face"] == "2"
    assert mine[0]["comment"] == '\'=HYPERLINK("http://evil")'
    assert all(not r["comment"].startswith("=") for r in rows)
    with page.expect_download() as info:
        page.click("#export-questions")
    questions_csv = Path(info.value.path()).read_text(encoding="utf-8")
    assert questions_csv.startswith("id,asked_at,language,emergency,text")
    # Both exports are in the append-only audit log, with who made them.
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action, actor FROM audit_log WHERE action LIKE 'export.%' ORDER BY id")
        ).all()
    engine.dispose()
    assert [tuple(a) for a in actions][-2:] == [
        ("export.feedback", "admin"),
        ("export.questions", "admin"),
    ]


def test_staff_cannot_open_admin(server: Server, context: Any) -> None:
    """A staff (non-admin) user gets 403 on the admin page and sees no Admin link."""
    page = context.new_page()
    login(page, server.base_url, STAFF)
    assert page.locator("nav >> text=Admin").count() == 0
    response = page.goto(server.base_url + "/dashboard/admin")
    assert response is not None and response.status == 403


def test_follow_up_token_states(server: Server, context: Any) -> None:
    """Expired token: 410; malformed: 404; well-formed but not received yet: 'recording'."""
    expired = _token()
    server.ingest(_rating(4, minutes_ago=60 * 24 * 5, token=expired))
    # A link's lifetime counts from the server's receipt, never from the kiosk's clock:
    # age the stored token to make it expired.
    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        conn.execute(
            update(FollowUpToken)
            .where(FollowUpToken.token_hash == hash_token(expired))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    engine.dispose()
    page = context.new_page()
    response = page.goto(server.base_url + f"/f/{expired}")
    assert response is not None and response.status == 410
    assert "expired" in page.locator("h1").inner_text()
    shoot(page, "followup-expired")
    response = page.goto(server.base_url + "/f/not-a-token")
    assert response is not None and response.status == 404
    shoot(page, "followup-not-found")
    response = page.goto(server.base_url + f"/f/{_token()}")
    assert response is not None and response.status == 200
    assert "recording your visit" in page.locator("h1").inner_text()
    # Updates in place with JavaScript (no meta refresh for axe to flag); <noscript> refreshes.
    assert page.locator("main[data-refresh-seconds]").count() == 1
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    shoot(page, "followup-pending")


def test_unauthenticated_dashboard_redirects_to_login(server: Server, context: Any) -> None:
    """No session: an HTML request goes to the login page, nothing leaks."""
    page = context.new_page()
    page.goto(server.base_url + "/dashboard/questions")
    assert "/login" in page.url
    assert page.locator("input[name=password]").is_visible()
    shoot(page, "login")
    response = httpx.get(
        server.base_url + "/dashboard/feedback", headers={"Accept": "text/html"}, timeout=10
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_admin_pairs_and_revokes_a_kiosk(server: Server, context: Any) -> None:
    """A pairing code made on the admin page pairs a kiosk; revoking it stops its token."""
    page = context.new_page()
    login(page, server.base_url, ADMIN)
    page.click("nav >> text=Admin")
    page.click("#new-pairing-code")
    code = page.locator("#pairing-code b").inner_text().strip()
    assert len(code) >= 6
    paired = httpx.post(
        server.base_url + protocol.PAIR_PATH,
        json={"code": code, "kiosk_name": "Second floor", "app_version": "0.9.1"},
        timeout=10,
    )
    assert paired.status_code == 201, paired.text
    token = paired.json()["token"]
    beat = {"app_version": "0.9.1", "backlog": 0, "failed": 0}
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.post(server.base_url + protocol.HEARTBEAT_PATH, json=beat, headers=auth).status_code
        == 200
    )
    page.click("nav >> text=Kiosks")
    row = page.locator("#kiosks tbody tr", has_text="Second floor")
    assert "0.9.1" in row.inner_text()
    row.locator("button", has_text="Revoke").click()
    page.wait_for_url("**ok=revoked")
    assert "revoked" in page.locator("#kiosks tbody tr", has_text="Second floor").inner_text()
    assert (
        httpx.post(server.base_url + protocol.HEARTBEAT_PATH, json=beat, headers=auth).status_code
        == 403
    )


def test_admin_settings_reach_the_kiosk_pull(server: Server, context: Any) -> None:
    """FAQ, clinic details and a staff user set on the admin page; bad input is refused."""
    page = context.new_page()
    login(page, server.base_url, ADMIN)
    page.click("nav >> text=Admin")
    faq = page.locator("form[action='/dashboard/admin/faq']")
    faq.locator("input[name=language]").fill("es")
    faq.locator("input[name=question]").fill("¿Dónde está la farmacia?")
    faq.locator("textarea[name=answer]").fill("En la planta baja.")
    faq.locator("button").click()
    page.wait_for_url("**ok=faq")
    assert "¿Dónde está la farmacia?" in page.content()

    clinic = page.locator("form[action='/dashboard/admin/clinic']")
    clinic.locator("input[name=languages]").fill("en, es, Klingon")
    clinic.locator("button").click()
    assert "Languages must be codes" in page.locator(".error").inner_text()
    clinic = page.locator("form[action='/dashboard/admin/clinic']")
    clinic.locator("input[name=languages]").fill("en, es, fr")
    clinic.locator("input[name=phone]").fill("+1 555 0199")
    clinic.locator("button").click()
    page.wait_for_url("**ok=clinic")

    staff = page.locator("form[action='/dashboard/admin/staff']")
    staff.locator("input[name=username]").fill("frontdesk")
    staff.locator("input[name=password]").fill("long enough secret")
    staff.locator("button").click()
    page.wait_for_url("**ok=staff")
    assert "frontdesk" in page.locator("table", has_text="Role").first.inner_text()

    pull = httpx.get(
        server.base_url + protocol.PULL_PATH,
        headers={"Authorization": f"Bearer {server.kiosk_token}"},
        timeout=10,
    )
    assert pull.status_code == 200
    body = pull.json()
    assert body["clinic"]["languages"] == ["en", "es", "fr"]
    assert body["clinic"]["phone"] == "+1 555 0199"
    assert any(e["question"] == "¿Dónde está la farmacia?" for e in body["faq"])


def _walk_in(queue_number: str, token: str, minutes_ago: float) -> dict[str, Any]:
    return record(
        RecordKind.WALK_IN,
        protocol.WalkInBody(
            first_name="Auto",
            last_name=f"Refresh{queue_number}",
            date_of_birth="1985-05-05",
            reason="Check-up",
            arrived_at=_now() - timedelta(minutes=minutes_ago),
            queue_number=queue_number,
            follow_up_token=token,
            language="es",
        ),
    )


def test_queue_place_and_waited_time_update_by_themselves(server: Server, context: Any) -> None:
    """The patient's page moves up when someone ahead is called in, without a reload by
    the patient; the dashboard's "waited" counters tick without a reload by staff."""
    from playwright.sync_api import expect

    ahead_token, behind_token = _token(), _token()
    server.ingest(_walk_in("U01", ahead_token, 4), _walk_in("U02", behind_token, 2))
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(server.base_url + f"/f/{behind_token}")
    # The page polls its JSON status (every 2 s here) instead of reloading itself.
    assert phone.locator("#queue").get_attribute("data-poll-seconds") == "2"
    place = int(phone.locator("#queue-place").inner_text())
    assert place >= 1  # U01 at least is ahead
    assert re.search(r"\d+", phone.locator("#queue-wait").inner_text())
    navigations: list[str] = []
    phone.on("framenavigated", lambda frame: navigations.append(frame.url))

    page = context.new_page()
    login(page, server.base_url, STAFF)
    page.locator("#arrivals tbody tr", has_text="U01").locator("button", has_text="Call in").click()
    page.wait_for_url("**/dashboard/arrivals?ok=status")
    # The test never navigates the phone: the page's own script shows the new place,
    # without a reload.
    expect(phone.locator("#queue-place")).to_have_text(str(place - 1), timeout=15_000)
    assert navigations == []
    phone.goto(server.base_url + f"/f/{ahead_token}")
    assert "Es su turno" in phone.locator("#queue-status").inner_text()
    phone.close()  # it polls every 2 s; not needed any more

    # Staff: the waited counter follows the clock (fake clock moved 10 minutes ahead).
    page.clock.install()
    page.reload()
    waited = page.locator("#arrivals tbody tr", has_text="U02").locator(".waited")
    before = int(re.search(r"(\d+) min", waited.inner_text()).group(1))
    assert 1 <= before <= 4
    page.clock.fast_forward("10:00")
    page.wait_for_function(
        """([sel, at]) => {
            const row = [...document.querySelectorAll('#arrivals tbody tr')]
                .find(r => r.textContent.includes(sel));
            return row && parseInt(row.querySelector('.waited').textContent) >= at;
        }""",
        arg=["U02", before + 10],
        timeout=5_000,
    )


def test_core_actions_work_without_javascript(server: Server, browser: Any) -> None:
    """Log in, call a patient in and answer a question with JavaScript switched off."""
    token = _token()
    server.ingest(
        _walk_in("N01", _token(), 1),
        record(
            RecordKind.QUESTION,
            protocol.QuestionBody(
                text="No-script question", asked_at=_now(), follow_up_token=token, language="en"
            ),
        ),
    )
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 768})
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        login(page, server.base_url, STAFF)
        row = page.locator("#arrivals tbody tr", has_text="N01")
        row.locator("button", has_text="Call in").click()
        page.wait_for_url("**/dashboard/arrivals?ok=status")
        assert "Called in" in page.locator("#arrivals tbody tr", has_text="N01").inner_text()
        page.goto(server.base_url + "/dashboard/questions")
        card = page.locator("article", has_text="No-script question")
        card.locator("textarea").fill("Answered without scripts.")
        card.locator("button", has_text="Save answer").click()
        page.wait_for_url("**/dashboard/questions?ok=answered")
        page.goto(server.base_url + f"/f/{token}")
        assert page.locator("#answer-text").inner_text() == "Answered without scripts."
    finally:
        ctx.close()
