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
    # The name by multi-tap: each letter said as it comes.
    keys.pad_letters("smith")
    assert checkin.ids.last_name.text == "Smith"
    said = [u.text for u in keys.expect(lang="en")]
    assert said[-1] == "h" and "S" in said and "m" in said
    keys.pad("*")  # delete the h...
    keys.expect("deleted h")
    keys.pad_letters("h")
    keys.expect("h")
    keys.pad("enter")  # on to the date of birth
    keys.wait_until(lambda: checkin.ids.dob.focus)
    keys.expect("Your date of birth, date field, 8 digits")
    keys.pad(*"06011980")
    assert checkin.ids.dob.value() == date(1980, 6, 1)
    keys.expect("0", "June 1, 1980")
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
