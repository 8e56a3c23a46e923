"""The walk-in, question and rating flows by real taps on our keyboard at 800x480 and 1280x800.

The check-in runs at both sizes in test_ui_redesign.py; these are the other patient flows.
Each field typed in is checked to stay above the keyboard and inside its form, and each
flow ends in the record it promised (one row, with what was typed).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from test_ui_redesign import assert_field_in_view, count, dob_digits, screen

from kiosk.models import Question, Rating, RatingDetail, WalkIn
from sync.outbox import OutboxRecord

#: A different synthetic person per width: both register in the same kiosk.
WALK_INS = {800: ("Nuñez", "Zoë", date(1949, 2, 3)), 1280: ("Okafor", "Émile", date(1937, 11, 30))}


def test_walk_in_by_taps_at_both_sizes(sized: Any, kiosk: Any) -> None:
    ui = sized
    last, first, born = WALK_INS[ui.window.width]
    before = count(kiosk, WalkIn)
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    ui.type_text(last)
    ui.press_enter()
    ui.type_text(dob_digits(checkin.ids.dob, born))
    ui.press_enter()  # no appointment for this person
    ui.tap(screen(ui, "nomatch").ids.walk_in)
    walkin = screen(ui, "walkin")
    assert walkin.ids.last_name.text == last and walkin.ids.dob.value() == born
    ui.tap(walkin.ids.first_name)
    assert_field_in_view(ui, walkin.ids.first_name, "first name")
    ui.type_text(first)  # capital from the automatic Shift, accent from the accents page
    ui.press_enter()
    ui.press_enter()  # the surname, already typed
    ui.press_enter()  # the date, already typed
    assert walkin.ids.phone.focus and ui.app.keyboard.mode == "digits"
    assert_field_in_view(ui, walkin.ids.phone, "phone")
    ui.type_text("+1 555 0142")
    ui.press_enter()
    assert walkin.ids.reason.focus
    assert_field_in_view(ui, walkin.ids.reason, "reason")
    ui.type_text("Cough")
    ui.press_enter()  # the last field: Enter registers
    receipt = screen(ui, "receipt")
    assert count(kiosk, WalkIn) == before + 1
    with kiosk.db.sessions() as session:
        row = session.scalars(select(WalkIn).order_by(WalkIn.arrived_at.desc())).first()
        assert row is not None
        payload = session.get(OutboxRecord, row.id).payload
    assert (payload["first_name"], payload["last_name"]) == (first, last)
    assert payload["phone"] == "+1 555 0142" and payload["reason"] == "Cough"
    assert row.queue_number in receipt.ids.queue_number.text
    ui.tap(receipt.ids.done)
    screen(ui, "welcome")


def test_question_by_taps_at_both_sizes(sized: Any, kiosk: Any) -> None:
    ui = sized
    text = f"Is there parking for a {ui.window.width} van?"
    before = count(kiosk, Question)
    ui.tap(screen(ui, "welcome").ids.ask)
    ui.tap(screen(ui, "questions").ids.ask_staff)
    ask = screen(ui, "ask")
    ui.tap(ask.ids.question)
    assert_field_in_view(ui, ask.ids.question, "question")
    ui.type_text(text)
    assert ask.ids.question.text == text
    ui.press_enter()  # on to the name, then the phone (with the digit pad)
    assert ask.ids.contact_name.focus
    ui.press_enter()
    assert ask.ids.contact_phone.focus
    assert ui.app.keyboard.mode == "digits"
    assert_field_in_view(ui, ask.ids.contact_phone, "phone")
    ui.type_text("555 0177")
    ui.tap(ask.ids.send)
    receipt = screen(ui, "receipt")
    assert receipt.ids.title.title == "Your question was sent"
    assert count(kiosk, Question) == before + 1
    with kiosk.db.sessions() as session:
        row = session.scalars(select(Question).order_by(Question.asked_at.desc())).first()
        assert row is not None
        payload = session.get(OutboxRecord, row.id).payload
    assert payload["text"] == text and payload["contact_phone"] == "555 0177"
    ui.tap(receipt.ids.done)
    screen(ui, "welcome")


def test_rating_by_taps_at_both_sizes(sized: Any, kiosk: Any) -> None:
    ui = sized
    comment = f"Kind nurse ({ui.window.width})"
    # A new patient a minute after the last: presses seconds apart count as one rating.
    kiosk.core.clock.advance(60)
    ratings = count(kiosk, Rating)
    ui.tap(screen(ui, "welcome").ids.rate)
    ui.tap(screen(ui, "rate").face(5))
    details = screen(ui, "rate_details")
    rating_id = ui.app.session.rating_id
    assert rating_id is not None and count(kiosk, Rating) == ratings + 1
    ui.tap(list(reversed(details.ids.politeness.ids.buttons.children))[4])  # "5"
    ui.tap(details.ids.comment)
    assert_field_in_view(ui, details.ids.comment, "comment")
    ui.type_text(comment)
    ui.press_enter()
    ui.tap(details.ids.send)
    receipt = screen(ui, "receipt")
    assert receipt.ids.title.title == "Thank you for your feedback"
    with kiosk.db.sessions() as session:
        rows = session.scalars(select(RatingDetail).where(RatingDetail.rating_id == rating_id))
        payloads = [session.get(OutboxRecord, r.id).payload for r in rows]
    assert [(p["politeness"], p["comment"]) for p in payloads] == [(5, comment)]
    ui.tap(receipt.ids.done)
    screen(ui, "welcome")
