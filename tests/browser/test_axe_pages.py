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
from axe_support import AxeLog, clinic_server, crawl
from browser_support import ADMIN, STAFF, Server, record
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
        if page.locator("#ehr-admin").count():
            ehr = page.locator("form[action='/dashboard/admin/ehr/settings']")
            ehr.locator("input[name=fhir_base_url]").fill("http://127.0.0.1:9/fhir")
            ehr.locator("input[name=hl7_host]").fill("127.0.0.1")
            ehr.locator("input[name=hl7_port]").fill("9")
            ehr.locator("button").click()
            page.wait_for_load_state()
            log.check(page, "admin-ehr-configured")
            page.goto(server.base_url + "/dashboard/kiosks")
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
