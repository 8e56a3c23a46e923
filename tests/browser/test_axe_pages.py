"""axe-core's WCAG 2.2 A/AA rules on every web page, in every state, in headless Chromium.

The dashboard's pages are found by crawling from its header (so a page added to the
navigation is checked without changing this file); the login pages, the account page's
two-step and forced-password states and every state of the patient's follow-up page are
listed here. Each test collects all violations before failing, so one run shows them all;
artifacts/axe/<test>.json has them by rule and artifacts/screenshots/browser/ a PNG of
every page checked.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from axe_support import AxeLog, crawl
from browser_support import ADMIN, STAFF, Server, clinic_server, record, shoot
from sqlalchemy import update

from clinic.models import FollowUpToken
from clinic.security import hash_token
from sync import protocol
from sync.protocol import RecordKind

pytestmark = pytest.mark.browser

PG_HOST = os.environ.get("CLINIC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CLINIC_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"
LOCUM = ("locum-okafor", "saffron kettle harbour")
TEMP = ("temp-lindqvist", "marble lantern orchard")


def _midday_timezone() -> str:
    """Return a fixed-offset zone where it is about noon now, so "today" holds every arrival."""
    shift = max(-12, min(14, 12 - datetime.now(UTC).hour))
    return "UTC" if shift == 0 else f"Etc/GMT{-shift:+d}"


def _postgres_problem() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def axe_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A clinic server of its own (the pages' data is this module's), on SQLite or PostgreSQL."""
    workdir = tmp_path_factory.mktemp(f"axe-{request.param}")
    if request.param == "sqlite":
        with clinic_server(
            workdir, f"sqlite:///{workdir / 'clinic.db'}", _midday_timezone()
        ) as srv:
            yield srv
        return
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL at {PG_HOST}:{PG_PORT}: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")
    name = f"clinic_axe_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        with clinic_server(workdir, url, _midday_timezone()) as srv:
            yield srv
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def _sign_in(page: Any, base_url: str, user: tuple[str, str]) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _csv_import(page: Any, base_url: str) -> None:
    page.goto(base_url + "/dashboard/admin")
    starts = (_now() + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    rows = "".join(
        f"APT-{n},Pat{n},Synthetic,1980-02-0{n % 9 + 1},{starts},Dr Example\n" for n in range(1, 6)
    )
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "appointments.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "ref,first_name,last_name,date_of_birth,starts_at,clinician\n"
                    + rows
                    + "APT-9,Bob,Broken,not-a-date,2026-01-01T09:00,Dr Example\n"
                ).encode(),
            }
        ],
    )
    page.click("form[action='/dashboard/admin/appointments/import'] button")
    page.wait_for_selector("#import-report")


@pytest.fixture(scope="module")
def seeded(axe_server: Server, browser: Any) -> dict[str, Any]:
    """Fill the clinic with a day's data in every state; return the patients' tokens."""
    server = axe_server
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _sign_in(page, server.base_url, ADMIN)
    _csv_import(page, server.base_url)
    for user in (LOCUM, TEMP):
        form = page.locator("form[action='/dashboard/admin/staff']")
        form.locator("input[name=username]").fill(user[0])
        form.locator("input[name=password]").fill(user[1])
        form.locator("button").click()
        page.wait_for_url("**ok=staff")

    tokens: dict[str, str] = {}
    records = []
    for n, status_name in enumerate(("waiting", "called_in", "seen", "no_show"), start=1):
        tokens[f"check_in_{status_name}"] = protocol.new_follow_up_token()
        records.append(
            record(
                RecordKind.CHECK_IN,
                protocol.CheckInBody(
                    appointment_ref=f"APT-{n}",
                    checked_in_at=_now() - timedelta(minutes=40 - n),
                    queue_number=f"A0{n}",
                    follow_up_token=tokens[f"check_in_{status_name}"],
                    language="en",
                ),
            )
        )
    tokens["check_in_es"] = protocol.new_follow_up_token()
    records.append(
        record(
            RecordKind.CHECK_IN,
            protocol.CheckInBody(
                appointment_ref="APT-5",
                checked_in_at=_now() - timedelta(minutes=3),
                queue_number="A05",
                follow_up_token=tokens["check_in_es"],
                language="es",
            ),
        )
    )
    tokens["walk_in"] = protocol.new_follow_up_token()
    records.append(
        record(
            RecordKind.WALK_IN,
            protocol.WalkInBody(
                first_name="Testa",
                last_name="Synthetic",
                date_of_birth="1990-01-01",
                reason="Sore throat",
                arrived_at=_now() - timedelta(minutes=5),
                queue_number="W01",
                follow_up_token=tokens["walk_in"],
                language="en",
            ),
        )
    )
    for key, text in (
        ("question_answered", "Where can I park my bicycle?"),
        ("question_open", "Is there a pharmacy nearby?"),
        ("question_done", "Can I bring my dog?"),
    ):
        tokens[key] = protocol.new_follow_up_token()
        records.append(
            record(
                RecordKind.QUESTION,
                protocol.QuestionBody(
                    text=text,
                    asked_at=_now() - timedelta(minutes=3),
                    follow_up_token=tokens[key],
                    language="en",
                ),
            )
        )
    ratings = []
    for n, face in enumerate((1, 1, 2, 1, 4, 5)):
        tokens[f"rating_{n}"] = protocol.new_follow_up_token()
        body = protocol.RatingBody(
            face=face,
            rated_at=_now() - timedelta(minutes=2 + n),
            follow_up_token=tokens[f"rating_{n}"],
            language="es" if n == 5 else "en",
        )
        ratings.append(record(RecordKind.RATING, body))
    # A rating from a past day gives the charts more than one point.
    ratings.append(
        record(
            RecordKind.RATING,
            protocol.RatingBody(
                face=3,
                rated_at=_now() - timedelta(days=3),
                follow_up_token=protocol.new_follow_up_token(),
                language="en",
            ),
        )
    )
    server.ingest(*records, *ratings)
    server.ingest(
        record(
            RecordKind.RATING_DETAIL,
            protocol.RatingDetailBody(
                rating_id=ratings[4]["id"], politeness=5, would_recommend=9, comment="Friendly"
            ),
        )
    )

    page.goto(server.base_url + "/dashboard/arrivals")
    for number, label in (("A02", "Call in"), ("A03", "Seen"), ("A04", "No-show")):
        row = page.locator("#arrivals tbody tr", has_text=number)
        row.locator("button", has_text=label).first.click()
        page.wait_for_url("**ok=status")
    page.goto(server.base_url + "/dashboard/questions")
    card = page.locator("article", has_text="bicycle")
    card.locator("textarea").fill("Bicycle racks are left of the main door.")
    card.locator("button", has_text="Save answer").click()
    page.wait_for_url("**ok=answered")
    card = page.locator("article", has_text="dog")
    card.locator("textarea").fill("Only assistance dogs, sorry.")
    card.locator("button", has_text="Save and mark done").click()
    page.wait_for_url("**ok=*")
    ctx.close()
    return tokens


def _finish(log: AxeLog) -> None:
    path = log.write()
    assert log.pages, "no page was checked"
    assert not log.violations, (
        f"{len(log.violations)} axe violations on {len(log.pages)} pages, by rule "
        f"{log.by_rule()} (details: {path}):\n{log.summary()}"
    )


def test_axe_dashboard_pages_for_an_admin(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """Every page the admin's header leads to, and the admin page in each of its states."""
    server = axe_server
    log = AxeLog("dashboard-admin")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    try:
        _sign_in(page, server.base_url, ADMIN)
        assert page.locator(".alert-banner").count() >= 1, "the unhappy-feedback alert shows"
        pages = crawl(page, server.base_url)
        paths = {urlparse(u).path for u in pages}
        assert {
            "/dashboard/arrivals",
            "/dashboard/questions",
            "/dashboard/feedback",
            "/dashboard/kiosks",
            "/dashboard/admin",
            "/account",
        } <= paths, paths
        for n, url in enumerate(pages):
            page.goto(url)
            log.check(page, f"{n:02d}-{_slug(url, server.base_url)}")

        # The admin page's one-off states: import report, pairing code, temporary password,
        # an error message, the EHR section with a configured link and a refused message.
        _csv_import(page, server.base_url)
        log.check(page, "admin-import-report")
        page.click("#new-pairing-code")
        page.wait_for_selector("#pairing-code")
        log.check(page, "admin-pairing-code")
        page.locator(f"tr#staff-{TEMP[0]} button[name=reset-password]").click()
        page.wait_for_selector("#temporary-password")
        log.check(page, "admin-temporary-password")
        form = page.locator("form[action='/dashboard/admin/staff']")
        form.locator("input[name=username]").fill("short-pw")
        form.locator("input[name=password]").fill("too short")
        form.locator("input[name=password]").evaluate("e => e.removeAttribute('minlength')")
        form.locator("button").click()
        page.wait_for_selector("main .error")
        log.check(page, "admin-error")
        ehr = page.locator("form[action='/dashboard/admin/ehr/settings']")
        ehr.locator("input[name=fhir_base_url]").fill("http://127.0.0.1:9/fhir")
        ehr.locator("input[name=hl7_host]").fill("127.0.0.1")
        ehr.locator("input[name=hl7_port]").fill("9")
        ehr.locator("button").click()
        page.wait_for_url("**ok=ehr-saved*")
        log.check(page, "admin-ehr-configured")
        page.goto(server.base_url + "/dashboard/kiosks")
        page.wait_for_selector("#ehr-link")
        log.check(page, "kiosks-ehr-link")
        page.goto(server.base_url + "/dashboard/feedback?face=unhappy")
        log.check(page, "feedback-filtered")
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/dashboard/arrivals", "/dashboard/feedback"):
            page.goto(server.base_url + path)
            log.check(page, f"phone-{_slug(server.base_url + path, server.base_url)}")
    finally:
        ctx.close()
    _finish(log)


def test_axe_dashboard_pages_for_staff(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """Every page a staff member's (non-admin) header leads to."""
    server = axe_server
    log = AxeLog("dashboard-staff")
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    page = ctx.new_page()
    try:
        _sign_in(page, server.base_url, STAFF)
        pages = crawl(page, server.base_url)
        assert "/dashboard/admin" not in {urlparse(u).path for u in pages}
        for n, url in enumerate(pages):
            page.goto(url)
            log.check(page, f"{n:02d}-{_slug(url, server.base_url)}")
    finally:
        ctx.close()
    _finish(log)


def test_axe_sign_in_account_and_two_step_pages(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """Login (empty, refused), forced password change, two-step set-up and its second factor."""
    server = axe_server
    log = AxeLog("sign-in")
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    page = ctx.new_page()
    try:
        page.goto(server.base_url + "/login")
        log.check(page, "login")
        page.fill("input[name=username]", LOCUM[0])
        page.fill("input[name=password]", "wrong password here")
        page.click("main button[type=submit]")
        page.wait_for_selector("main .error")
        log.check(page, "login-refused")

        _sign_in(page, server.base_url, LOCUM)
        page.goto(server.base_url + "/account")
        log.check(page, "account")
        page.locator("#totp-start").click()
        page.wait_for_selector("#totp-qr")
        log.check(page, "account-two-step-setup")
        secret = page.locator("#totp-secret").inner_text().strip()
        page.fill("#two-step input[name=code]", "000000")
        page.locator("#totp-confirm").click()
        page.wait_for_selector("main .error")
        log.check(page, "account-two-step-wrong-code")
        secret = page.locator("#totp-secret").inner_text().strip()
        page.fill("#two-step input[name=code]", pyotp.TOTP(secret).at(time.time()))
        page.locator("#totp-confirm").click()
        page.wait_for_selector("#recovery-codes")
        log.check(page, "account-recovery-codes")
        page.goto(server.base_url + "/account")
        log.check(page, "account-two-step-on")
        page.fill("#change-password input[name=current_password]", "not my password")
        page.fill("#change-password input[name=new_password]", "walnut glacier sonnet")
        page.fill("#change-password input[name=repeat_password]", "walnut glacier sonnet")
        page.locator("#change-password-submit").click()
        page.wait_for_selector("main .error")
        log.check(page, "account-password-refused")
        ctx.clear_cookies()

        _sign_in(page, server.base_url, LOCUM)
        page.wait_for_selector("input[name=code]")
        log.check(page, "login-second-factor")
        page.fill("input[name=code]", "123")
        page.click("main form[method=post] button[type=submit]")
        page.wait_for_selector("main .error")
        log.check(page, "login-second-factor-refused")
        ctx.clear_cookies()

        admin = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            apage = admin.new_page()
            _sign_in(apage, server.base_url, ADMIN)
            apage.goto(server.base_url + "/dashboard/admin")
            apage.locator(f"tr#staff-{TEMP[0]} button[name=reset-password]").click()
            temporary = apage.locator("#temporary-password code").inner_text().strip()
        finally:
            admin.close()
        _sign_in(page, server.base_url, (TEMP[0], temporary))
        page.wait_for_selector("#password-change-required")
        log.check(page, "account-forced-password-change")
    finally:
        ctx.close()
    _finish(log)


def _expire(server: Server, token: str) -> None:
    engine = sa.create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(FollowUpToken)
                .where(FollowUpToken.token_hash == hash_token(token))
                .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
    finally:
        engine.dispose()


def test_axe_follow_up_page_in_every_state(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """The patient's page: queue states, question open and answered, survey, call-back, errors."""
    server = axe_server
    log = AxeLog("follow-up")
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    base = server.base_url

    def visit(label: str, token: str, *, status: int = 200) -> None:
        response = page.goto(base + protocol.FOLLOW_UP_PATH.format(token=token))
        assert response is not None and response.status == status, (label, response)
        log.check(page, label)

    try:
        for key in (
            "check_in_waiting",
            "check_in_called_in",
            "check_in_seen",
            "check_in_no_show",
            "check_in_es",
            "walk_in",
        ):
            visit(key, seeded[key])
        visit("question-answered", seeded["question_answered"])
        visit("question-unanswered", seeded["question_open"])
        visit("question-done", seeded["question_done"])

        visit("rating", seeded["rating_0"])
        # A score the scale does not have (a tampered form) is refused with a message.
        page.locator("#survey input[type=radio]").first.evaluate("e => { e.value = '9'; }")
        page.locator("#survey input[type=radio]").first.check(force=True)
        page.click("#survey button[type=submit]")
        page.wait_for_selector("main .error")
        log.check(page, "rating-survey-refused")
        survey = page.locator("#survey")
        for name in survey.locator("input[type=radio]").evaluate_all(
            "els => [...new Set(els.map(e => e.name))]"
        ):
            survey.locator(f"input[name={name}]").last.check(force=True)
        survey.locator("textarea").fill("Quick and kind")
        survey.locator("button[type=submit]").click()
        page.wait_for_url("**saved=survey*")
        log.check(page, "rating-survey-saved")
        page.fill("#phone", "x")
        page.locator("#callback button[type=submit]").click()
        page.wait_for_selector("main .error")
        log.check(page, "rating-callback-refused")
        page.fill("#phone", "+1 555 0100 123")
        page.locator("#callback button[type=submit]").click()
        page.wait_for_url("**saved=callback*")
        log.check(page, "rating-both-done")
        visit("rating-callback-only", seeded["rating_1"])
        page.fill("#phone", "+1 555 0100 124")
        page.locator("#callback button[type=submit]").click()
        page.wait_for_url("**saved=callback*")
        log.check(page, "rating-callback-saved")
        visit("rating-es", seeded["rating_5"])

        visit("pending", protocol.new_follow_up_token())
        visit("unknown", "not-a-token", status=404)
        _expire(server, seeded["rating_3"])
        visit("expired", seeded["rating_3"], status=410)
        httpx_status = httpx.get(
            base + protocol.FOLLOW_UP_PATH.format(token="not-a-token"),
            headers={"Accept-Language": "es"},
            timeout=10,
        ).status_code
        assert httpx_status == 404
        page.set_extra_http_headers({"Accept-Language": "es"})
        visit("unknown-es", "not-a-token", status=404)
    finally:
        ctx.close()
    _finish(log)


def _slug(url: str, base_url: str) -> str:
    rest = url[len(base_url) :].strip("/") or "root"
    return re.sub(r"[^A-Za-z0-9]+", "-", rest).strip("-")[:60]


def test_axe_finds_what_it_must_find(browser: Any) -> None:
    """On a page with known faults axe reports them: a zero elsewhere means it really ran."""
    log = AxeLog("self-check")
    page = browser.new_page()
    try:
        page.set_content(
            "<!doctype html><html><head><title>t</title></head><body><main><h1>Import</h1>"
            "<input type=file name=file><table><tr><th></th><td>1</td></tr></table>"
            "<p style='color:#999;background:#fff'>pale text</p><a href='/x'></a>"
            "</main></body></html>"
        )
        log.check(page, "faults", screenshot=False)
    finally:
        page.close()
    rules = log.by_rule()
    assert {"label", "color-contrast", "link-name", "html-has-lang"} <= set(rules), rules
    assert "meta-refresh" not in rules


_FOCUS_STATE = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || e.value || '').trim(),
          outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
          x: r.x, y: r.y, w: r.width, h: r.height,
          key: e.tagName + '|' + (e.id || '') + '|' + (e.getAttribute('href') || e.name || '')
               + '|' + Array.prototype.indexOf.call(document.querySelectorAll('*'), e)};
}"""

_TABBABLE = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]
  .filter(e => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length > 0
               && getComputedStyle(e).visibility !== 'hidden'
               && !(e.closest('details:not([open])') && e.tagName !== 'SUMMARY'))
  .map(e => e.tagName + '|' + (e.id || '') + '|' + (e.getAttribute('href') || e.name || '')
            + '|' + Array.prototype.indexOf.call(document.querySelectorAll('*'), e))"""


def _ring_pixels(page: Any, box: dict[str, float], colour: tuple[int, int, int]) -> int:
    """Count pixels of the focus ring's colour in a screenshot around the focused element."""
    from io import BytesIO

    from PIL import Image

    pad = 8
    clip = {
        "x": max(0, box["x"] - pad),
        "y": max(0, box["y"] - pad),
        "width": box["w"] + 2 * pad,
        "height": box["h"] + 2 * pad,
    }
    image = Image.open(BytesIO(page.screenshot(clip=clip))).convert("RGB")
    return sum(
        1
        for px in image.getdata()
        if all(abs(int(a) - b) <= 40 for a, b in zip(px, colour, strict=True))
    )


def test_axe_dashboard_works_from_the_keyboard_with_a_visible_focus_ring(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """Tab reaches every control in order, each with a 2px+ ring; the skip link skips the header."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        _sign_in(page, axe_server.base_url, ADMIN)
        page.goto(axe_server.base_url + "/dashboard/feedback")
        tabbable = page.evaluate(_TABBABLE)
        page.keyboard.press("Tab")
        first = page.evaluate(_FOCUS_STATE)
        assert first["text"] == "Skip to main content"
        assert first["y"] >= 0 and first["w"] > 0, "the skip link shows when focused"
        page.keyboard.press("Tab")
        nav = page.evaluate(_FOCUS_STATE)
        assert nav["tag"] == "a" and nav["text"] == "Arrivals", nav
        assert _ring_pixels(page, nav, (0xFF, 0xD3, 0x4D)) > 40, "no yellow ring on the dark header"
        shoot(page, "axe-keyboard-focus-nav")

        seen: list[str] = [first["key"], nav["key"]]
        no_ring: list[dict[str, Any]] = []
        for _ in range(3 * len(tabbable)):
            page.keyboard.press("Tab")
            state = page.evaluate(_FOCUS_STATE)
            if state["tag"] == "body" or state["key"] == seen[0]:
                break
            if state["key"] == seen[-1]:
                continue  # Tab moves between a date input's day, month and year
            assert state["key"] not in seen, f"focus came back to {state} before the end"
            seen.append(state["key"])
            if state["outline"] in ("none", "") or state["width"] < 2:
                no_ring.append(state)
        assert not no_ring, f"focused without a visible ring: {no_ring[:5]}"
        # Radio groups take one tab stop; the feedback page has none, so all are reached.
        assert seen == tabbable, set(tabbable) ^ set(seen)
        button = page.locator("#filters button[type=submit]")
        button.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        box = page.evaluate(_FOCUS_STATE)
        assert box["text"] == "Filter"
        assert _ring_pixels(page, box, (0x0B, 0x5C, 0xAD)) > 40

        # The skip link moves focus past the header to the page's content.
        page.keyboard.press("Control+Home")
        page.goto(axe_server.base_url + "/dashboard/arrivals")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "() => !!document.activeElement.closest('main') && document.activeElement.tagName"
        )
        assert inside, "the next Tab after the skip link lands inside <main>"
    finally:
        ctx.close()


def test_axe_follow_up_scale_works_with_arrow_keys(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """On the patient's survey, Tab reaches a scale, arrows choose, the chosen box is ringed."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        page.goto(axe_server.base_url + protocol.FOLLOW_UP_PATH.format(token=seeded["rating_2"]))
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.type") == "radio":
                break
        radio = page.evaluate("() => [document.activeElement.name, document.activeElement.value]")
        assert radio[1] == "1", radio
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        checked = page.locator(f"#survey input[name={radio[0]}]:checked")
        assert checked.get_attribute("value") == "3"
        ring = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement.nextElementSibling);"
            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
        )
        assert ring[0] == "solid" and ring[1] >= 2, ring
        shoot(page, "axe-keyboard-follow-up-scale")
    finally:
        ctx.close()


def test_axe_charts_have_their_numbers_as_a_table(
    axe_server: Server, seeded: dict[str, Any], browser: Any
) -> None:
    """Each chart is a named image and its figure holds a table of the same days' values."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        _sign_in(page, axe_server.base_url, ADMIN)
        page.goto(axe_server.base_url + "/dashboard/feedback")
        figures = page.locator("figure.chart-figure")
        assert figures.count() == 3
        for i in range(3):
            figure = figures.nth(i)
            svg = figure.locator("svg.chart")
            assert svg.get_attribute("role") == "img"
            title = figure.locator("figcaption").inner_text()
            assert svg.get_attribute("aria-label") == title
            figure.locator("summary").focus()
            page.keyboard.press("Enter")  # a <details> opens from the keyboard
            table = figure.get_by_role("table", name=title)
            assert table.is_visible()
            days = table.locator("tbody tr")
            assert days.count() >= 4  # the rating three days ago starts the range
        first = figures.nth(0).locator("tbody tr")
        today = first.nth(first.count() - 1).locator("td")
        # Today's faces 1, 1, 2, 1, 4, 5: the average 2.3, four of six unhappy.
        assert today.nth(0).inner_text() == "2.3"
        assert today.nth(1).inner_text() == "67%"
        assert first.nth(1).locator("td").nth(0).inner_text() == "no data"
        shoot(page, "axe-charts-with-numbers")
    finally:
        ctx.close()
