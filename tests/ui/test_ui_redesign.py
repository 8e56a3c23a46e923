"""The redesigned patient screens: our keyboard, the date of birth as digits, the field in
view above the keyboard at every size, the receipt that clears itself, one tap = one record."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from kiosk.models import CheckIn, Question, Rating


def screen(ui: Any, name: str) -> Any:
    current = ui.app.manager.current_screen
    assert current.name == name, f"on {current.name!r}, expected {name!r}"
    return current


def count(kiosk: Any, model: Any) -> int:
    with kiosk.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def dob_digits(field: Any, dob: date) -> str:
    parts = {"d": f"{dob.day:02d}", "M": f"{dob.month:02d}", "y": f"{dob.year:04d}"}
    return "".join(parts[p] for p in field.order())


def window_rect(widget: Any) -> tuple[float, float, float, float]:
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return x0, y0, x1, y1


def assert_field_in_view(ui: Any, field: Any, where: str) -> None:
    """The field is inside the window, inside its form's visible area, above the keyboard."""
    from screens.widgets import FormArea

    ui.pump(4)  # the form follows the focus on the next frames
    board = ui.app.keyboard
    target = board.target
    assert board.visible and target is not None and target.uid == field.uid, where
    left, bottom, right, top = window_rect(field)
    kb_top = window_rect(board)[3]
    # Sub-pixel tolerance: dp sizes and the form's shift land on fractions of a pixel.
    assert bottom >= kb_top - 1.0, f"{where}: the keyboard covers the field ({bottom} < {kb_top})"
    assert top <= ui.window.height + 1.5 and left >= -1.5 and right <= ui.window.width + 1.5
    node = field.parent
    while node is not None and node is not node.parent:
        if isinstance(node, FormArea):
            area = window_rect(node)
            assert bottom >= area[1] - 1.5 and top <= area[3] + 1.5, f"{where}: clipped"
            break
        node = node.parent


#: One demo person per size: each is checked in once in the shared kiosk.
PEOPLE = {800: ("O'Brien-Walsh", date(1988, 8, 8)), 1280: ("Kim", date(2001, 1, 15))}


def test_check_in_by_taps_on_our_keyboard_at_both_sizes(sized: Any, kiosk: Any) -> None:
    ui = sized
    name, dob = PEOPLE[ui.window.width]
    before = count(kiosk, CheckIn)
    taps_before = len(ui.tap_key.__globals__["KEY_TAPS"])
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    assert_field_in_view(ui, checkin.ids.last_name, "last name")
    ui.type_text(name)
    assert checkin.ids.last_name.text == name
    ui.press_enter()
    assert checkin.ids.dob.focus and ui.app.keyboard.mode == "digits"
    assert_field_in_view(ui, checkin.ids.dob, "date of birth")
    ui.type_text(dob_digits(checkin.ids.dob, dob))
    assert checkin.ids.dob.value() == dob
    ui.screenshot(f"redesign_checkin_dob_{ui.window.width}")
    ui.press_enter()  # the last field: Enter looks the appointment up
    ui.tap(screen(ui, "confirm").ids.yes)
    assert count(kiosk, CheckIn) == before + 1
    ui.tap(screen(ui, "contact").ids.skip)
    receipt = screen(ui, "receipt")
    assert receipt.ids.queue_number.text.startswith("Please take a seat. We will call A")
    ui.tap(receipt.ids.done)
    screen(ui, "welcome")
    keys = ui.tap_key.__globals__["KEY_TAPS"][taps_before:]
    # Capitals after the start, an apostrophe or a hyphen come from the automatic Shift:
    # one key per character of the name, then Enter, the 8 digits and Enter.
    assert keys == [*name.lower(), "enter", *dob_digits(checkin.ids.dob, dob), "enter"]


def test_shift_gives_capitals_and_the_accents_page_gives_accented_letters(ui: Any) -> None:
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    board = ui.app.keyboard
    assert board.shift  # a name starts with a capital
    ui.tap_key("m")
    assert not board.shift  # one capital, then small letters
    ui.tap_key("c")
    ui.tap_key("shift")
    ui.tap_key("d")
    ui.type_text("onald-Núñez")
    assert checkin.ids.last_name.text == "McDonald-Núñez"
    ui.tap_key("backspace")
    assert checkin.ids.last_name.text == "McDonald-Núñe"
    ui.app.set_language("es")
    ui.pump(2)
    assert board.key_for("ñ") is not None  # Spanish has ñ on the letters page
    ui.app.set_language("en")


def test_phone_fields_get_the_digit_pad(ui: Any) -> None:
    ui.tap(screen(ui, "welcome").ids.ask)
    ui.tap(screen(ui, "questions").ids.ask_staff)
    ask = screen(ui, "ask")
    ui.tap(ask.ids.contact_phone)
    board = ui.app.keyboard
    assert board.mode == "digits"
    assert {b.key for b in board.all_keys()} >= set("0123456789+")
    ui.type_text("+1 555 0123")
    assert ask.ids.contact_phone.text == "+1 555 0123"
    ui.press_enter()  # on to the email field
    assert ask.ids.contact_email.focus
    assert board.mode == "letters" and board.key_for("@") is not None


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_the_field_being_typed_in_never_overlaps_the_keyboard(sized: Any, large: bool) -> None:
    ui = sized
    from tests.ui.test_ui_layout import fill

    checked = 0
    for name in ("checkin", "contact", "walkin", "ask", "rate_details", "admin"):
        ui.app.set_language("es")
        ui.app.set_accessibility(large)
        screen_ = fill(ui.app, name)
        if name == "rate_details":
            screen_.consent = True  # the phone field is enabled only then (it takes the focus)
            ui.pump(3)
            screen_.ids.contact_phone.focus = False
        ui.pump(3)
        fields = [f for f in screen_.typing_fields() if not f.disabled]
        # The first by a tap, the others as a patient reaches them: Enter on the keyboard.
        ui.tap(fields[0])
        ui.pump(2)
        for index, field in enumerate(fields):
            if index:
                ui.press_enter()
                ui.pump(2)
            assert field.focus, f"{name}: field {index} not reached by Enter"
            assert_field_in_view(ui, field, f"{name} field {index}")
            checked += 1
        ui.app.end_session()
        ui.pump(2)
    ui.app.set_language("en")
    assert checked >= 14


def test_no_scrolling_list_in_the_check_in_path(ui: Any) -> None:
    from kivy.uix.recycleview import RecycleView
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.spinner import Spinner

    for name in (
        "welcome",
        "checkin",
        "verify_phone",
        "nomatch",
        "confirm",
        "contact",
        "walkin",
        "frontdesk",
        "receipt",
    ):
        found = [
            w.__class__.__name__
            for w in ui.app.screen(name).walk(restrict=True)
            if isinstance(w, ScrollView | RecycleView | Spinner)
        ]
        assert not found, f"{name}: {found}"


def test_the_receipt_goes_back_to_welcome_by_itself_and_leaves_nothing(ui: Any) -> None:
    ui.app.receipt_seconds = 2  # the setting (20 s by default), short for the test
    try:
        ui.tap(screen(ui, "welcome").ids.rate)
        ui.tap(screen(ui, "rate").face(5))
        ui.tap(screen(ui, "rate_details").ids.skip)
        receipt = screen(ui, "receipt")
        assert receipt.follow_up_url
        assert receipt.ids.closes_in.text.startswith("This screen closes in ")
        ui.pump_until(lambda: ui.app.manager.current == "welcome", timeout=8)
        assert receipt.follow_up_url == "" and receipt.queue_number == ""
        assert ui.app.session.is_empty()
    finally:
        ui.app.receipt_seconds = 20
    assert ui.app.kiosk.settings.receipt_seconds == 20  # the default kiosk setting


def test_exit_kiosk_asks_for_confirmation(ui: Any) -> None:
    stopped: list[bool] = []
    ui.app.admin_unlocked = True
    ui.app.show("admin")
    ui.pump(3)
    admin = screen(ui, "admin")
    original = ui.app.exit_kiosk
    ui.app.exit_kiosk = lambda: stopped.append(True)  # type: ignore[method-assign]
    try:
        ui.tap(admin.ids.exit)
        view = admin.confirm_view
        assert view.parent is not None and not stopped  # asked, not closed
        ui.tap(view.ids.stay)
        assert view.parent is None and not stopped
        ui.tap(admin.ids.exit)
        ui.tap(admin.confirm_view.ids.confirm_exit)
        assert stopped == [True]
    finally:
        ui.app.exit_kiosk = original  # type: ignore[method-assign]


# --- one tap, one record ---------------------------------------------------------------
def press(button: Any) -> None:
    """Release a button the way a finger does (a second tap that arrives at once)."""
    button.dispatch("on_press")
    button.dispatch("on_release")


def test_a_double_tap_makes_one_record(ui: Any, kiosk: Any) -> None:
    # Counted at the service's door: its own rating de-duplication must not hide a second call.
    real = kiosk.rate_visit
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    kiosk.rate_visit = counted
    try:
        ui.tap(screen(ui, "welcome").ids.rate)
        face = screen(ui, "rate").face(2)
        ui.tap(face)
        press(face)  # the second tap of the double tap, on a screen already left
        ui.pump(2)
    finally:
        kiosk.rate_visit = real
    assert calls == [1] and count(kiosk, Rating) >= 1
    screen(ui, "rate_details")


def test_a_tap_during_a_slow_commit_makes_one_record(ui: Any, kiosk: Any) -> None:
    before = count(kiosk, Question)
    ui.tap(screen(ui, "welcome").ids.ask)
    ui.tap(screen(ui, "questions").ids.ask_staff)
    ask = screen(ui, "ask")
    ui.tap(ask.ids.question)
    ui.type_text("Where is room 4")
    real = kiosk.ask_question
    calls: list[int] = []

    def slow_commit(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the patient taps Send again while the first one commits
            press(ask.ids.send)
        return real(*args, **kwargs)

    kiosk.ask_question = slow_commit
    try:
        ui.tap(ask.ids.send)
    finally:
        kiosk.ask_question = real
    assert calls == [1]
    assert count(kiosk, Question) == before + 1
    screen(ui, "receipt")


def test_a_tap_on_a_screen_already_leaving_makes_one_record(ui: Any, kiosk: Any) -> None:
    from kiosk.models import WalkIn

    before = count(kiosk, WalkIn)
    ui.app.show("walkin")
    ui.pump(3)
    walkin = screen(ui, "walkin")
    ui.tap(walkin.ids.first_name)
    ui.type_text("Lea")
    ui.press_enter()
    ui.type_text("Vingt")
    ui.press_enter()
    ui.type_text(dob_digits(walkin.ids.dob, date(1991, 1, 2)))
    ui.press_enter()
    ui.press_enter()  # no phone
    ui.type_text("Cough")
    real_show = ui.app.show_receipt

    def leave_then_tap(*args: Any) -> None:
        real_show(*args)  # the screen is being left...
        press(walkin.ids.register)  # ...and a tap on its button still arrives

    ui.app.show_receipt = leave_then_tap
    try:
        ui.tap(walkin.ids.register)
    finally:
        del ui.app.show_receipt
    screen(ui, "receipt")
    assert count(kiosk, WalkIn) == before + 1


def test_a_second_tap_right_after_a_screen_change_is_dropped(ui: Any) -> None:
    from kivy.tests.common import UnitTestTouch

    ui.app.settle_seconds = 10  # long enough to cover the test on a slow machine
    try:
        ui.app.show("rate")  # a screen change, as after a first tap
        ui.pump(2)
        rate = screen(ui, "rate")
        x, y = rate.face(3).to_window(*rate.face(3).center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        ui.pump(2)
        screen(ui, "rate")  # the tap landed in the settling time: nothing happened
    finally:
        ui.app.settle_seconds = 0
