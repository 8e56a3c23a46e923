"""apply_pull (what the sync worker stores) and the validation helpers on their own."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from kiosk_core_helpers import MATCH_KDF, NOON, Person, load_people, row_counts

from kiosk import validation
from kiosk.facade import InvalidInput, MatchStatus
from kiosk.services import Kiosk
from kiosk.state import StateKey, get_datetime, get_int, get_state

DOB = date(1984, 3, 12)


def test_apply_pull_replaces_appointments_but_keeps_local_check_ins(empty_kiosk: Kiosk) -> None:
    load_people(
        empty_kiosk,
        [Person("r1", "First", DOB, NOON), Person("r2", "Second", DOB, NOON)],
        waiting=3,
        wait=25,
    )
    receipt = empty_kiosk.check_in("r1", "en")
    # The next pull does not know about the check-in yet, and r2 was cancelled.
    load_people(
        empty_kiosk,
        [Person("r1", "First", DOB, NOON), Person("r3", "Third", DOB, NOON)],
        waiting=5,
        wait=40,
    )
    assert row_counts(empty_kiosk)["appointments"] == 2
    again = empty_kiosk.find_appointment("First", DOB)
    assert again.status is MatchStatus.ALREADY_CHECKED_IN
    assert again.receipt is not None and again.receipt.check_in_id == receipt.check_in_id
    assert empty_kiosk.find_appointment("Second", DOB).status is MatchStatus.NO_MATCH
    assert empty_kiosk.find_appointment("Third", DOB).status is MatchStatus.MATCHED
    with empty_kiosk.db.read_session() as session:
        assert get_state(StateKey.MATCH_KDF, session=session) == MATCH_KDF.model_dump_json()
        assert get_int(StateKey.QUEUE_WAITING, session=session) == 5
        assert get_int(StateKey.QUEUE_ESTIMATED_WAIT_MINUTES, session=session) == 40
        assert get_datetime(StateKey.QUEUE_UPDATED_AT, session=session) == NOON
    info = empty_kiosk.clinic_info()
    assert info.name == "Test Clinic"


def test_pulled_window_overrides_the_settings(empty_kiosk: Kiosk) -> None:
    from kiosk.models import ClinicRow

    load_people(empty_kiosk, [Person("r1", "Wide", DOB, NOON + timedelta(minutes=50))])
    assert empty_kiosk.find_appointment("Wide", DOB).status is MatchStatus.TOO_EARLY
    with empty_kiosk.db.write() as session:
        session.get(ClinicRow, 1).check_in_early_minutes = 60  # type: ignore[union-attr]
    assert empty_kiosk.find_appointment("Wide", DOB).status is MatchStatus.MATCHED


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  García   López ", "García López"),
        ("O\u2019Brien", "O\u2019Brien"),
        ("St. John-Smith", "St. John-Smith"),
        ("\u200fכהן\u200e", "כהן"),
        ("عبد\u200c الله", "عبد الله"),
        ("李", "李"),
        ("Nguyễn", "Nguyễn"),
        ("Nguy\u0065\u0302\u0303n", "Nguyễn"),  # decomposed input is composed (NFC)
        ("देवनागरी", "देवनागरी"),  # combining vowel signs are allowed
    ],
)
def test_good_names(raw: str, clean: str) -> None:
    assert validation.clean_name(raw) == clean


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ((2023, 2, 30), validation.MSG_DATE_INVALID),
        ((2023, 13, 1), validation.MSG_DATE_INVALID),
        ((2023, 4, 31), validation.MSG_DATE_INVALID),
        ((2021, 2, 29), validation.MSG_DATE_INVALID),
        (("19x0", 1, 1), validation.MSG_DATE_INVALID),
        ((0, 1, 1), validation.MSG_DATE_INVALID),
        ((2027, 1, 1), validation.MSG_DATE_FUTURE),
        ((1899, 12, 31), validation.MSG_DATE_TOO_OLD),
    ],
)
def test_impossible_dates(parts, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validation.parse_date_of_birth(*parts, today=date(2026, 3, 10))
    assert caught.value.message == message
    assert caught.value.field_name == "date_of_birth"


def test_possible_dates() -> None:
    today = date(2026, 3, 10)
    assert validation.parse_date_of_birth(2024, 2, 29, today=today) == date(2024, 2, 29)
    assert validation.parse_date_of_birth("1900", "01", "01", today=today) == date(1900, 1, 1)
    assert validation.parse_date_of_birth(2026, 3, 10, today=today) == today


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("+1 (555) 010-4477", "+1 (555) 010-4477"),
        ("555.010.4477", "555 010 4477"),
        ("\u0665\u0665\u0665\u0660\u0661\u0660\u0664\u0664", "55501044"),  # Arabic-Indic
        ("  ", None),
        (None, None),
    ],
)
def test_phones(raw, clean) -> None:
    assert validation.clean_phone(raw) == clean


@pytest.mark.parametrize("raw", ["12345", "+1 555 CALL", "1" * 16, "++15550100", "555😀0100"])
def test_bad_phones(raw: str) -> None:
    with pytest.raises(InvalidInput):
        validation.clean_phone(raw)


def test_phone_last4() -> None:
    assert validation.clean_phone_last4(" 0142 ") == "0142"
    assert validation.clean_phone_last4("") is None
    for bad in ("142", "01420", "abcd", "01 4"):
        with pytest.raises(InvalidInput):
            validation.clean_phone_last4(bad)


def test_phone_last4_bad_input_in_lookup(kiosk: Kiosk) -> None:
    with pytest.raises(InvalidInput) as caught:
        kiosk.find_appointment("Smith", date(1980, 6, 1), "12")
    assert caught.value.field_name == "phone_last4"


def test_free_text_keeps_newlines_and_emoji() -> None:
    text = validation.clean_text("  Line one\r\nLine two 🙂\t end  ", max_chars=100)
    assert text == "Line one\nLine two 🙂\t end"
