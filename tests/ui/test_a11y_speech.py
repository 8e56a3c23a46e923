"""Speech mode and keys only: check-in, question and rating, in English and Spanish.

No touch event in these tests: a patient who cannot see the screen uses the 12-key keypad
(or a keyboard); every step asserts what the kiosk said, in which language, and that the
engine (espeak-ng) made real sound for it (rendered to WAV: length and level).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from a11y_keys import Keys
from sqlalchemy import func, select

from kiosk import speech
from kiosk.models import CheckIn, Question, WalkIn

pytestmark = pytest.mark.ui

if shutil.which("espeak-ng") is None:  # a missing engine is a broken set-up, not a skip
    raise RuntimeError("espeak-ng is not installed (scripts/setup.sh installs it)")


def count(kiosk: Any, model: Any) -> int:
    with kiosk.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def keys(ui: Any, tmp_path: Path) -> Iterator[Keys]:
    """Speech rendered to WAV files (no sound card here), keys only."""
    access = ui.app.access
    saved = access.speaker
    access.speaker = speech.Speaker(player=None, wav_dir=tmp_path)
    driver = Keys(ui, tmp_path)
    yield driver
    access.speaker.close()
    access.speaker = saved
    ui.app.end_session()


def screen(ui: Any, name: str) -> Any:
    current = ui.app.manager.current_screen
    assert current.name == name, f"on {current.name!r}, expected {name!r}"
    return current


def test_keypad_check_in_in_speech_mode(ui: Any, keys: Keys, kiosk: Any) -> None:
    before = count(kiosk, CheckIn)
    # Any keypad key turns speech on and reads the welcome screen.
    keys.pad("5")
    assert ui.app.access.speech_on
    keys.expect("Speech is on", "Welcome to", "What would you like to do?", lang="en")
    welcome = screen(ui, "welcome")
    assert ui.app.access.focused == welcome.ids.check_in
    keys.expect()  # nothing more
    keys.pad("8")
    keys.expect("Ask a question, button")
    keys.pad("2")
    keys.expect("Check in, button")
    keys.pad("5")  # select
    checkin = screen(ui, "checkin")
    keys.wait_until(lambda: checkin.ids.last_name.focus)
    keys.expect("Check in", "Your last name, text field, empty", lang="en")
    # The name by multi-tap: each press says the letter on offer (7 four times: P Q R S),
    # never the field's text.
    keys.pad_letters("smith")
    assert checkin.ids.last_name.text == "Smith"
    said = [u.text for u in keys.expect(lang="en")]
    assert said == ["P", "Q", "R", "S", "m", "g", "h", "i", "t", "g", "h"]
    keys.pad("*")  # delete the h...
    keys.expect("deleted h")
    keys.pad_letters("h")
    keys.expect("h")
    keys.pad("enter")  # on to the date of birth
    keys.wait_until(lambda: checkin.ids.dob.focus)
    keys.expect("Your date of birth, date field, 8 digits")
    keys.pad(*"06011980")
    assert checkin.ids.dob.value() == date(1980, 6, 1)
    # Digit by digit; the month by name once its two digits are in (June, not the 6th),
    # then the whole date in words (not a number).
    said = keys.expect(lang="en")
    assert [u.text for u in said] == ["0", "6", "June", *"011980", "June 1, 1980"]
    keys.pad("enter")  # looks the appointment up: two Smiths born that day
    verify = screen(ui, "verify_phone")
    keys.expect("Please enter the last 4 digits of your phone number.", lang="en")
    keys.pad(*"0199")
    assert verify.ids.pad.value == "0199"
    said = keys.expect()
    assert [u.text for u in said] == ["0", "1", "9", "9"]  # not a secret: said back
    keys.pad("enter")  # the screen's main action: Next
    confirm = screen(ui, "confirm")
    keys.expect("First name starts with: H", "With: Dr. Adeyemi", "Yes, check me in, button")
    keys.pad("5")  # Yes is the first control
    contact = screen(ui, "contact")
    assert count(kiosk, CheckIn) == before + 1
    keys.expect("Has your phone number or email changed?")
    keys.pad("*")  # back = skip here
    receipt = screen(ui, "receipt")
    said = keys.expect("You are checked in", "We will call", "Estimated wait", lang="en")
    assert "Done, button" in said[-1].text
    del confirm, contact
    keys.pad("#")  # repeat: the whole receipt again
    keys.expect("You are checked in", "We will call")
    keys.pad("5")  # Done
    screen(ui, "welcome")
    assert not ui.app.access.speech_on  # the next patient starts without speech
    del receipt


def test_keypad_question_in_speech_mode(ui: Any, keys: Keys, kiosk: Any) -> None:
    before = count(kiosk, Question)
    keys.pad("#")  # the hash key also starts speech
    keys.expect("Speech is on", "Check in, button")
    keys.pad("8", "5")  # Ask a question
    questions = screen(ui, "questions")
    keys.expect("Tap a question to read the answer.", "Ask the staff, button", lang="en")
    # An answer is read where it appears, without a screen change.
    faq = questions.faq_buttons()[0]
    keys.pad_to(faq)
    keys.expect(faq.text)
    keys.pad("5")
    keys.wait_until(lambda: bool(questions.answer))
    keys.expect(questions.answer[:30])
    keys.pad_to(questions.ids.ask_staff)
    keys.pad("5")
    ask = screen(ui, "ask")
    keys.wait_until(lambda: keys.access.focused is not None)
    keys.pad_to(ask.ids.question)
    keys.expect("text field")
    if not ask.ids.question.focus:
        keys.pad("5")  # start typing in it
    keys.pad_letters("parking")
    assert ask.ids.question.text == "Parking"  # a sentence starts with a capital
    keys.expect("p", "k", "g")
    # Enter goes on through the optional contact fields; after the last it sends.
    for _ in range(5):
        if ui.app.manager.current != "ask":
            break
        keys.pad("enter")
    receipt = screen(ui, "receipt")
    assert count(kiosk, Question) == before + 1
    said = keys.expect(receipt.ids.title.title, lang="en")
    assert any("Done, button" in u.text for u in said)


def test_keypad_rating_in_speech_mode(ui: Any, keys: Keys, kiosk: Any) -> None:
    keys.pad("0")  # starts speech; 0 is help once it is on
    keys.said()
    keys.pad("0")
    keys.expect("2 and 8 move between items", "multi-tap" if False else "Star deletes")
    keys.pad("8", "8")
    keys.expect("Rate my visit, button")
    keys.pad("5")
    rate = screen(ui, "rate")
    keys.expect("How was your visit?", "Very bad, button", lang="en")
    keys.pad("8", "8", "8")
    keys.expect("Good, button")
    keys.pad("5")
    details = screen(ui, "rate_details")
    keys.expect("Send, button")
    first = list(reversed(details.ids.ease_of_contact.ids.buttons.children))[1]
    keys.pad_to(first)
    keys.expect("2, How easy was it to contact us?, button")
    keys.pad("5")
    assert details.ids.ease_of_contact.score == 2
    keys.expect("2, How easy was it to contact us?, button, selected")
    # Volume: up twice, heard louder; the next session starts at the default again.
    speaker = keys.access.speaker
    quiet = speaker.volume
    keys.pad("3", "3")
    louder = keys.expect("Volume")
    assert speaker.volume > quiet and louder[-1].volume == speaker.volume
    keys.pad("*")  # back = skip the details: the face rating is already stored
    receipt = screen(ui, "receipt")
    keys.expect(receipt.ids.title.title, lang="en")
    keys.pad("5")
    screen(ui, "welcome")
    assert speaker.volume == speech.VOLUME_LEVELS[speech.DEFAULT_VOLUME_INDEX]
    del rate


def test_keypad_walk_in_in_spanish(ui: Any, keys: Keys, kiosk: Any) -> None:
    before = count(kiosk, WalkIn)
    keys.pad("5")
    keys.said()
    languages = ui.app.top_bar.ids.languages
    spanish = next(b for b in languages.children if b.lang == "es")
    keys.pad_to(spanish)
    keys.expect("Español")
    keys.pad("5")
    assert ui.app.lang == "es"
    keys.expect("Bienvenido", lang="es")
    welcome = screen(ui, "welcome")
    keys.pad_to(welcome.ids.check_in)
    keys.pad("5")
    checkin = screen(ui, "checkin")
    keys.wait_until(lambda: checkin.ids.last_name.focus)
    keys.expect("Su apellido" if False else "apellido", lang="es")
    keys.pad_letters("navarro", lang="es")
    assert checkin.ids.last_name.text == "Navarro"
    keys.expect("N", "v", lang="es")
    keys.pad("enter")
    keys.wait_until(lambda: checkin.ids.dob.focus)
    keys.expect("fecha de nacimiento", lang="es")
    keys.pad(*"01021990")  # day first in Spanish
    assert checkin.ids.dob.value() == date(1990, 2, 1)
    said = keys.expect(lang="es")  # read back in the screen's language, the month 4th
    assert [u.text for u in said] == [*"0102", "Febrero", *"1990", "1 de febrero de 1990"]
    keys.pad("enter")
    nomatch = screen(ui, "nomatch")
    keys.expect(lang="es")
    keys.pad_to(nomatch.ids.walk_in)
    keys.pad("5")
    walkin = screen(ui, "walkin")
    keys.said()
    keys.pad_to(walkin.ids.first_name)
    if not walkin.ids.first_name.focus:
        keys.pad("5")
    keys.pad_letters("ana", lang="es")
    assert walkin.ids.first_name.text == "Ana"
    keys.expect("A", "n", lang="es")
    for _ in range(5):  # Enter: on through the fields already filled to the reason
        if walkin.ids.reason.focus:
            break
        keys.pad("enter")
    assert walkin.ids.last_name.text == "Navarro"  # carried over from the check-in
    keys.pad_letters("tos", lang="es")
    keys.said()
    keys.pad("enter")  # Enter on the last field registers
    receipt = screen(ui, "receipt")
    assert count(kiosk, WalkIn) == before + 1
    keys.expect(receipt.ids.title.title, lang="es")
    keys.pad("5")
    screen(ui, "welcome")
    assert ui.app.lang == "en"


def test_date_of_birth_says_the_month_by_name_once_typed(ui: Any, keys: Keys) -> None:
    keys.pad("5")  # speech on
    keys.said()
    keys.pad("5")  # Check in
    checkin = screen(ui, "checkin")
    keys.wait_until(lambda: checkin.ids.last_name.focus)
    keys.pad_letters("lee")
    keys.pad("enter")
    dob = checkin.ids.dob
    keys.wait_until(lambda: dob.focus)
    keys.said()
    keys.pad("1")
    assert [u.text for u in keys.expect(lang="en")] == ["1"]  # half a month: no name yet
    keys.pad("3")  # no 13th month: no name, the problem said instead
    said = [u.text for u in keys.expect("There is no such month", lang="en")]
    assert not any(month in " ".join(said) for month in ("January", "March", "December"))
    keys.pad("*")
    keys.expect("deleted 3")
    keys.pad("2")  # 12 in English order (month first): December, at once
    assert [u.text for u in keys.expect(lang="en")] == ["2", "December"]
    keys.pad("3")  # the day's digits are digits only
    assert [u.text for u in keys.expect(lang="en")] == ["3"]
    assert dob.digits == "123"
