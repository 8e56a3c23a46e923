"""Check-in flows, tapped end to end on the real app with the demo people."""

from __future__ import annotations

from datetime import date
from typing import Any

import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from kiosk.models import CheckIn, WalkIn
from sync.outbox import OutboxRecord


def screen(ui: Any, name: str | None = None) -> Any:
    current = ui.app.manager.current_screen
    if name is not None:
        assert current.name == name, f"on {current.name!r}, expected {name!r}"
    return current


def dob_digits(field: Any, dob: date) -> str:
    """Return the 8 digits of a date in the order the field's language writes dates."""
    parts = {"d": f"{dob.day:02d}", "M": f"{dob.month:02d}", "y": f"{dob.year:04d}"}
    return "".join(parts[p] for p in field.order())


def enter_identity(ui: Any, last_name: str, dob: date) -> Any:
    """From the welcome screen: type the last name and the date of birth on our keyboard."""
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)  # focused without a tap
    ui.type_text(last_name)
    ui.press_enter()  # Enter: on to the date of birth, with the digit pad
    return type_date(ui, checkin, dob)


def type_date(ui: Any, holder: Any, dob: date) -> Any:
    field = holder.ids.dob
    if not field.focus:
        ui.tap(field)
    assert field.focus and ui.app.keyboard.mode == "digits"
    ui.type_text(dob_digits(field, dob))
    assert field.value() == dob
    return holder


def count(kiosk: Any, model: Any) -> int:
    with kiosk.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def outbox_check_ins(kiosk: Any) -> int:
    with kiosk.db.sessions() as session:
        return sum(1 for r in session.scalars(select(OutboxRecord)) if r.kind == "check_in")


def decode_qr(path: Any) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path))]


def test_check_in_end_to_end_shows_queue_number_and_scannable_qr(ui: Any, kiosk: Any) -> None:
    before = count(kiosk, CheckIn)
    checkin = enter_identity(ui, "Okafor", date(1984, 3, 12))
    ui.screenshot("checkin")
    assert checkin.ids.last_name.text == "Okafor"  # capital O by the automatic Shift
    assert checkin.ids.dob.echo == "March 12, 1984"  # the month said back in words
    ui.press_enter()  # Enter on the last field looks the appointment up

    confirm = screen(ui, "confirm")
    ui.screenshot("confirm")
    texts = ui.texts(confirm)
    assert "First name starts with: A" in texts
    assert "With: Dr. Rivera" in texts
    assert not any("Okafor" in t or "Ada" in t for t in texts)  # never the full name
    ui.tap(confirm.ids.yes)

    contact = screen(ui, "contact")
    assert count(kiosk, CheckIn) == before + 1  # committed before "done" is shown
    ui.tap(contact.ids.phone)
    assert ui.app.keyboard.mode == "digits"  # a phone field gets the digit pad
    ui.type_text("555 0101")
    ui.tap(contact.ids.save)

    receipt = screen(ui, "receipt")
    with kiosk.db.sessions() as session:
        row = session.scalars(select(CheckIn).order_by(CheckIn.checked_in_at.desc())).first()
        kinds = [r.kind for r in session.scalars(select(OutboxRecord))]
    assert row is not None
    assert "contact_update" in kinds and "check_in" in kinds
    assert receipt.ids.title.title == "You are checked in"
    assert receipt.ids.queue_number.text == (
        f"Please take a seat. We will call {row.queue_number}."
    )
    assert "Estimated wait: about" in receipt.ids.wait.text
    expected_url = f"https://clinic.example.test/f/{row.follow_up_token}"
    assert receipt.follow_up_url == expected_url
    shot = ui.screenshot("receipt_check_in")
    assert decode_qr(shot) == [expected_url]

    ui.tap(receipt.ids.done)
    screen(ui, "welcome")
    assert ui.app.session.is_empty()


def test_wrong_date_of_birth_then_retry_keeps_the_name(ui: Any, kiosk: Any) -> None:
    before = count(kiosk, CheckIn)
    checkin = enter_identity(ui, "Munoz", date(1990, 7, 5))
    ui.tap(checkin.ids.next)
    nomatch = screen(ui, "nomatch")
    ui.screenshot("nomatch")
    assert "We could not find your appointment for today" in ui.texts(nomatch)
    assert count(kiosk, CheckIn) == before

    ui.tap(nomatch.ids.retry)
    checkin = screen(ui, "checkin")
    assert checkin.ids.last_name.text == "Munoz"
    assert checkin.ids.dob.value() == date(1990, 7, 5)  # kept: only one part to fix
    ui.tap(checkin.ids.dob)
    for _ in range(8):
        ui.tap_key("backspace")
    ui.type_text(dob_digits(checkin.ids.dob, date(1990, 7, 4)))
    ui.tap(checkin.ids.next)
    screen(ui, "confirm")


def test_impossible_date_and_missing_name_are_explained_next_to_their_field(ui: Any) -> None:
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.tap(checkin.ids.next)
    assert checkin.ids.last_name_box.ids.error.text == "Please type your last name."
    assert checkin.ids.dob_box.ids.error.text == "Please type your date of birth: 8 digits."
    ui.tap(checkin.ids.last_name)
    ui.type_text("Okafor")
    assert checkin.ids.last_name_box.ids.error.text == ""  # cleared once fixed
    ui.press_enter()
    ui.type_text("0231")  # month 02, day 31 (English order)
    assert checkin.ids.dob.echo == "February"
    ui.type_text("1984")
    assert checkin.ids.dob_box.ids.error.text == "This date does not exist. Please check it."
    ui.tap(checkin.ids.next)
    screen(ui, "checkin")
    ui.tap(checkin.ids.dob)
    ui.tap_key("backspace")
    assert checkin.ids.dob_box.ids.error.text == ""  # cleared as soon as it is being fixed
    for _ in range(7):
        ui.tap_key("backspace")
    ui.type_text("13")
    assert checkin.ids.dob_box.ids.error.text == "There is no such month. Please check the month."


def test_walk_in_from_no_match_registers_and_gives_a_number(ui: Any, kiosk: Any) -> None:
    before = count(kiosk, WalkIn)
    checkin = enter_identity(ui, "Weber", date(1970, 4, 1))
    ui.tap(checkin.ids.next)
    ui.tap(screen(ui, "nomatch").ids.walk_in)

    walkin = screen(ui, "walkin")
    assert walkin.ids.last_name.text == "Weber"  # carried over
    assert walkin.ids.dob.value() == date(1970, 4, 1)
    ui.tap(walkin.ids.register)
    errors = [t for t in ui.texts(walkin) if t.startswith("Please")]
    assert "Please type your first name." in errors
    assert "Please tell us briefly why you came today." in errors
    ui.tap(walkin.ids.first_name)
    ui.type_text("Zoë")  # an accent from the accents page
    ui.screenshot("walkin_keyboard")
    ui.press_enter()  # Enter moves on to the next field, which stays above the keyboard
    assert walkin.ids.last_name.focus
    ui.press_enter()
    assert walkin.ids.dob.focus
    ui.press_enter()
    assert walkin.ids.phone.focus
    ui.type_text("555 0199")
    ui.press_enter()
    assert walkin.ids.reason.focus
    ui.type_text("Sore throat")
    ui.screenshot("walkin")
    ui.press_enter()  # the last field: Enter registers

    receipt = screen(ui, "receipt")
    assert count(kiosk, WalkIn) == before + 1
    with kiosk.db.sessions() as session:
        row = session.scalars(select(WalkIn).order_by(WalkIn.arrived_at.desc())).first()
        assert row is not None
        outbox = session.scalars(select(OutboxRecord).where(OutboxRecord.id == row.id)).one()
    assert outbox.kind == "walk_in"
    assert outbox.payload["last_name"] == "Weber" and outbox.payload["reason"] == "Sore throat"
    assert outbox.payload["first_name"] == "Zoë"
    assert row.queue_number in receipt.ids.queue_number.text


def test_duplicate_check_in_says_so_and_stores_nothing_twice(ui: Any, kiosk: Any) -> None:
    before = count(kiosk, CheckIn)
    queued = outbox_check_ins(kiosk)  # the demo's seeded check-in is local, never queued
    for attempt in range(2):
        checkin = enter_identity(ui, "Dubois", date(1975, 11, 30))
        ui.tap(checkin.ids.next)
        if attempt == 0:
            ui.tap(screen(ui, "confirm").ids.yes)
            ui.tap(screen(ui, "contact").ids.skip)
            first = screen(ui, "receipt").queue_number
            ui.tap(screen(ui, "receipt").ids.done)
    receipt = screen(ui, "receipt")
    ui.screenshot("receipt_already")
    assert receipt.ids.title.title == "You are already checked in"
    assert receipt.queue_number == first
    with kiosk.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == before + 1
        kinds = [r.kind for r in session.scalars(select(OutboxRecord))]
    assert kinds.count("check_in") == queued + 1


def test_same_name_and_birth_date_asks_for_phone_digits(ui: Any) -> None:
    checkin = enter_identity(ui, "Smith", date(1980, 6, 1))
    ui.tap(checkin.ids.next)
    verify = screen(ui, "verify_phone")
    ui.screenshot("verify_phone")
    pad = verify.ids.pad
    keys = {k.key: k for k in pad.walk(restrict=True) if hasattr(k, "key")}
    for digit in "0142":
        ui.tap(keys[digit])
    assert pad.ids.display.text == "0142"
    ui.tap(verify.ids.next)
    confirm = screen(ui, "confirm")
    assert "First name starts with: H" in ui.texts(confirm)
    assert "With: Dr. Rivera" in ui.texts(confirm)


def test_too_early_sends_to_the_front_desk(ui: Any, kiosk: Any) -> None:
    before = count(kiosk, CheckIn)
    checkin = enter_identity(ui, "Petrova", date(1968, 5, 22))
    ui.tap(checkin.ids.next)
    desk = screen(ui, "frontdesk")
    ui.screenshot("frontdesk")
    assert desk.ids.title.title == "Please see the front desk"
    # What to do next, with the time check-in opens (the appointment's time minus the
    # check-in window) in the clinic's zone.
    from babel.dates import format_time

    match = kiosk.find_appointment("Petrova", date(1968, 5, 22))
    assert match.check_in_opens_at is not None
    opens = format_time(match.check_in_opens_at.astimezone(ui.app.clinic_tz), "short", locale="en")
    assert desk.ids.reason.text == (
        f"You are early. Check-in opens at {opens}. Please take a seat until then."
    )
    assert count(kiosk, CheckIn) == before


def test_right_to_left_and_odd_names_do_not_crash(ui: Any) -> None:
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    ui.type_text("Haddad")
    # Scripts the kiosk keyboard has no keys for come from a hardware keyboard.
    for ch in " حداد שמיר\u200b'); DROP TABLE check_ins;--":
        ui.window.dispatch("on_textinput", ch)
    ui.pump(1)
    ui.press_enter()  # on to the date of birth
    type_date(ui, checkin, date(1959, 9, 9))
    ui.screenshot("checkin_rtl")
    ui.tap(checkin.ids.next)
    assert ui.app.manager.current in ("nomatch", "checkin")
    if ui.app.manager.current == "checkin":
        assert any(t.startswith("Please") for t in ui.texts(checkin))  # a message, no crash
