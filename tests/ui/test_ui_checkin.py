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


def enter_identity(ui: Any, last_name: str, dob: date) -> Any:
    """From the welcome screen: type the last name and pick the date of birth."""
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.tap(checkin.ids.last_name)
    assert checkin.ids.last_name.focus
    ui.type_text(last_name)
    return pick_date(ui, checkin, dob)


def pick_date(ui: Any, holder: Any, dob: date) -> Any:
    picker = holder.ids.dob
    # Close the docked keyboard first, as Enter does, so the lists are uncovered.
    for field in holder.text_inputs():
        field.focus = False
    ui.pump(2)
    ui.choose(picker.ids.day, str(dob.day))
    ui.choose(picker.ids.month, picker.month_names(ui.app.lang)[dob.month - 1])
    ui.choose(picker.ids.year, str(dob.year))
    assert picker.value() == dob
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
    assert "Okafor" in checkin.ids.last_name.text
    ui.tap(checkin.ids.next)

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
    ui.type_text("555 0101")
    ui.tap(contact.ids.save)

    receipt = screen(ui, "receipt")
    with kiosk.db.sessions() as session:
        row = session.scalars(select(CheckIn).order_by(CheckIn.checked_in_at.desc())).first()
        kinds = [r.kind for r in session.scalars(select(OutboxRecord))]
    assert row is not None
    assert "contact_update" in kinds and "check_in" in kinds
    assert receipt.ids.title.text == "You are checked in"
    assert receipt.ids.queue_number.text == f"Your number: {row.queue_number}"
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
    ui.choose(checkin.ids.dob.ids.day, "4")
    ui.tap(checkin.ids.next)
    screen(ui, "confirm")


def test_impossible_date_and_missing_name_are_explained(ui: Any) -> None:
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.tap(checkin.ids.next)
    assert checkin.ids.error.text == "Please type your last name."
    ui.tap(checkin.ids.last_name)
    ui.type_text("Okafor")
    pick_date(ui, checkin, date(1984, 2, 1))
    ui.choose(checkin.ids.dob.ids.day, "31")  # 31 February
    ui.tap(checkin.ids.next)
    screen(ui, "checkin")
    assert checkin.ids.error.text == "That date does not exist. Please check the day and month."


def test_walk_in_from_no_match_registers_and_gives_a_number(ui: Any, kiosk: Any) -> None:
    checkin = enter_identity(ui, "Weber", date(1970, 4, 1))
    ui.tap(checkin.ids.next)
    ui.tap(screen(ui, "nomatch").ids.walk_in)

    walkin = screen(ui, "walkin")
    assert walkin.ids.last_name.text == "Weber"  # carried over
    assert walkin.ids.dob.value() == date(1970, 4, 1)
    ui.tap(walkin.ids.register)
    assert walkin.ids.error.text == "Please type your first and last name."
    ui.tap(walkin.ids.first_name)
    ui.type_text("Jonas")
    ui.screenshot("walkin_keyboard")  # the docked keyboard leaves Register visible
    ui.press_enter()  # Enter moves on to the next field, which the keyboard uncovers
    assert walkin.ids.last_name.focus
    ui.press_enter()
    assert walkin.ids.reason.focus
    ui.type_text("Sore throat")
    ui.press_enter()
    assert walkin.ids.phone.focus
    ui.type_text("555 0199")
    ui.press_enter()  # the last field: Enter closes the keyboard
    assert not walkin.ids.phone.focus
    ui.screenshot("walkin")
    ui.tap(walkin.ids.register)

    receipt = screen(ui, "receipt")
    assert count(kiosk, WalkIn) == 1
    with kiosk.db.sessions() as session:
        row = session.scalars(select(WalkIn)).one()
        outbox = session.scalars(select(OutboxRecord).where(OutboxRecord.id == row.id)).one()
    assert outbox.kind == "walk_in"
    assert outbox.payload["last_name"] == "Weber" and outbox.payload["reason"] == "Sore throat"
    assert receipt.ids.queue_number.text == f"Your number: {row.queue_number}"


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
    assert receipt.ids.title.text == "You are already checked in"
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
    assert desk.ids.title.text == "Please see the front desk"
    assert desk.ids.reason.text == "You are early for your appointment."
    assert count(kiosk, CheckIn) == before


def test_right_to_left_and_odd_names_do_not_crash(ui: Any) -> None:
    checkin = enter_identity(ui, "حداد", date(1959, 9, 9))
    ui.type_text("")
    ui.tap(checkin.ids.last_name)
    ui.type_text(" שמיר\u200b'); DROP TABLE check_ins;--")
    ui.screenshot("checkin_rtl")
    ui.tap(checkin.ids.next)
    assert ui.app.manager.current in ("nomatch", "checkin")
    if ui.app.manager.current == "checkin":
        assert checkin.ids.error.text  # a clear message, not a crash
