"""The follow-up page in every language (from the kiosk's record, or the phone's
Accept-Language before the record arrives) and interpreter requests, in headless Chromium
against a real server process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from browser_support import Server, login, record, shoot

from sync import protocol
from sync.protocol import RecordKind

pytestmark = pytest.mark.browser

#: What the check-in page says in each language (from the catalogs, written here by hand so
#: that a catalog that lost its translation fails).
CHECKED_IN = {
    "en": ("You are checked in", "Your number", "ltr"),
    "es": ("Llegada registrada", "Su número", "ltr"),
    "zh": ("您已报到成功", "您的号码", "ltr"),
    "vi": ("Quý vị đã báo đã đến", "Số của quý vị", "ltr"),
    "ar": ("تم تسجيل وصولك", "رقمك", "rtl"),
    "ru": ("Вы отметились", "Ваш номер", "ltr"),
}
PENDING = {
    "en": "We are recording your visit",
    "es": "Estamos registrando su visita",
    "zh": "我们正在记录您的就诊信息",
    "vi": "Chúng tôi đang ghi nhận buổi khám của quý vị",
    "ar": "نقوم بتسجيل زيارتك",
    "ru": "Мы регистрируем Ваш визит",
}
INTERPRETER = {
    "en": "An interpreter has been requested for you: Arabic.",
    "es": "Hemos solicitado un intérprete para usted: árabe.",
    "zh": "已为您申请口译员：阿拉伯语。",
    "vi": "Đã yêu cầu thông dịch viên cho quý vị: Tiếng Ả Rập.",
    "ar": "تم طلب مترجم فوري لك: العربية.",
    "ru": "Для Вас запрошен переводчик: арабский.",
}
ACCEPT = {
    "en": "en-US,en;q=0.9",
    "es": "es-MX,es;q=0.9,en;q=0.5",
    "zh": "zh-CN,zh;q=0.9,en;q=0.8",
    "vi": "vi-VN,vi;q=0.9",
    "ar": "ar-EG,ar;q=0.9,en;q=0.4",
    "ru": "ru-RU,ru;q=0.9,en-US;q=0.8",
}


def _check_in(
    server: Server,
    *,
    language: str,
    queue_number: str,
    interpreter: str | None = None,
) -> tuple[str, dict[str, Any]]:
    token = protocol.new_follow_up_token()
    wire = record(
        RecordKind.WALK_IN,
        protocol.WalkInBody(
            first_name="Testa",
            last_name="Synthetic",
            date_of_birth="1991-02-03",
            reason="Cough",
            arrived_at=datetime.now(UTC) - timedelta(minutes=3),
            queue_number=queue_number,
            follow_up_token=token,
            language=language,
            interpreter_language=interpreter,
        ),
    )
    server.ingest(wire)
    return token, wire


@pytest.mark.parametrize("lang", sorted(CHECKED_IN))
def test_follow_up_page_speaks_the_kiosk_records_language(
    server: Server, context: Any, lang: str
) -> None:
    token, _wire = _check_in(server, language=lang, queue_number=f"L{len(lang)}{lang.upper()}")
    phone = context.new_page()
    # The phone asks for English: the patient's choice at the kiosk wins.
    phone.set_extra_http_headers({"Accept-Language": "en-US,en;q=0.9"})
    phone.goto(server.base_url + f"/f/{token}")
    title, number_label, direction = CHECKED_IN[lang]
    html = phone.locator("html")
    assert html.get_attribute("lang") == lang
    assert html.get_attribute("dir") == direction
    assert phone.locator("h1").inner_text() == title
    assert number_label in phone.locator("#queue").inner_text()
    assert phone.locator("#interpreter").count() == 0
    if direction == "rtl":  # the page mirrors: the number label starts at the right
        row = phone.locator("#queue .row").first.bounding_box()
        label = phone.locator("#queue .row span").first.bounding_box()
        assert label["x"] + label["width"] / 2 > row["x"] + row["width"] / 2
    shoot(phone, f"i18n-followup-{lang}")


@pytest.mark.parametrize("lang", sorted(PENDING))
def test_follow_up_page_follows_accept_language_before_the_record(
    server: Server, context: Any, lang: str
) -> None:
    token = protocol.new_follow_up_token()  # not received yet: "we are recording your visit"
    phone = context.new_page()
    phone.set_extra_http_headers({"Accept-Language": ACCEPT[lang]})
    phone.goto(server.base_url + f"/f/{token}")
    assert phone.locator("html").get_attribute("lang") == lang
    assert phone.locator("h1").inner_text() == PENDING[lang]
    shoot(phone, f"i18n-followup-pending-{lang}")


@pytest.mark.parametrize("lang", sorted(INTERPRETER))
def test_follow_up_page_says_an_interpreter_was_requested(
    server: Server, context: Any, lang: str
) -> None:
    token, _wire = _check_in(
        server, language=lang, queue_number=f"I{len(lang)}{lang.upper()}", interpreter="ar"
    )
    phone = context.new_page()
    phone.goto(server.base_url + f"/f/{token}")
    assert phone.locator("#interpreter").inner_text() == INTERPRETER[lang]


def test_interpreter_requested_after_check_in_reaches_staff_and_patient(
    server: Server, context: Any
) -> None:
    token, wire = _check_in(server, language="vi", queue_number="V042")
    # An older kiosk's record (no interpreter field) is still accepted as it always was.
    assert "interpreter_language" not in wire["body"]
    page = context.new_page()
    login(page, server.base_url)
    row = page.locator("tr", has=page.locator("td b", has_text="V042"))
    assert row.locator(".language").inner_text() == "Vietnamese (Tiếng Việt)"
    assert row.locator(".interpreter-request").count() == 0

    server.ingest(
        record(
            RecordKind.CONTACT_UPDATE,
            protocol.ContactUpdateBody(check_in_id=wire["id"], interpreter_language="vi"),
        )
    )
    page.reload()
    row = page.locator("tr", has=page.locator("td b", has_text="V042"))
    assert "Vietnamese (Tiếng Việt)" in row.locator(".interpreter-request").inner_text()
    shoot(page, "i18n-arrivals-interpreter")
    phone = context.new_page()
    phone.goto(server.base_url + f"/f/{token}")
    assert (
        phone.locator("#interpreter").inner_text()
        == "Đã yêu cầu thông dịch viên cho quý vị: Tiếng Việt."
    )


def test_interpreter_request_appears_on_an_open_arrivals_page_without_reload(
    server: Server, context: Any
) -> None:
    page = context.new_page()
    login(page, server.base_url)
    page.evaluate("window.__not_reloaded = true")
    _check_in(server, language="ar", queue_number="R077", interpreter="ar")
    row = page.locator("tr", has=page.locator("td b", has_text="R077"))
    row.locator(".interpreter-request").wait_for(timeout=8_000)
    assert "Arabic (العربية)" in row.locator(".interpreter-request").inner_text()
    assert page.evaluate("window.__not_reloaded") is True


def test_pending_page_turns_into_the_check_in_page_without_reload(
    server: Server, context: Any
) -> None:
    # The phone opens the link before the kiosk's record has reached the server.
    token = protocol.new_follow_up_token()
    phone = context.new_page()
    phone.goto(server.base_url + f"/f/{token}")
    assert phone.locator("h1").inner_text() == PENDING["en"]
    phone.evaluate("window.__not_reloaded = true")
    server.ingest(
        record(
            RecordKind.WALK_IN,
            protocol.WalkInBody(
                first_name="Testa",
                last_name="Synthetic",
                date_of_birth="1991-02-03",
                reason="Cough",
                arrived_at=datetime.now(UTC) - timedelta(minutes=3),
                queue_number="P012",
                follow_up_token=token,
                language="en",
            ),
        )
    )
    phone.locator("h1", has_text="You are checked in").wait_for(timeout=15_000)
    assert phone.locator("#queue-number").inner_text() == "P012"
    assert phone.evaluate("window.__not_reloaded") is True
    assert phone.locator("main[data-refresh-seconds]").count() == 0
