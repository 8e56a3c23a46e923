"""The bad inputs from the issue: a clear InvalidInput and nothing written, anywhere."""

from __future__ import annotations

from datetime import date

import pytest
from kiosk_core_helpers import row_counts
from sqlalchemy import select

from kiosk import validation
from kiosk.facade import InvalidInput, RatingDetails
from kiosk.services import Kiosk
from sync.outbox import OutboxRecord

DOB = date(1984, 3, 12)
HUGE = "a" * 10_000
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
RTL_MARKS = "\u200f\u202e\u2067"
SQL = "Robert'); DROP TABLE check_ins;--"

BAD_NAMES = [
    ("", validation.MSG_REQUIRED),
    ("   \t ", validation.MSG_REQUIRED),
    (ZERO_WIDTH, validation.MSG_REQUIRED),
    (HUGE, validation.MSG_TOO_LONG),
    ("O" * 81, validation.MSG_TOO_LONG),
    ("Okafor 😀", validation.MSG_NAME_CHARS),
    ("R2D2", validation.MSG_NAME_CHARS),
    (SQL, validation.MSG_NAME_CHARS),
    ("Oka\x00for", validation.MSG_CONTROL),
    ("Oka\x1bfor", validation.MSG_CONTROL),
    ("--", validation.MSG_NAME_CHARS),
]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_bad_last_name_in_lookup(kiosk: Kiosk, name: str, message: str) -> None:
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.find_appointment(name, DOB)
    assert caught.value.message == message
    assert caught.value.field_name == "last_name"
    assert row_counts(kiosk) == counts


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_bad_names_in_walk_in_write_nothing(kiosk: Kiosk, name: str, message: str) -> None:
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.register_walk_in("Jonas", name, date(1970, 4, 1), "Rash", None, "en")
    assert (caught.value.message, caught.value.field_name) == (message, "last_name")
    with pytest.raises(InvalidInput) as caught:
        kiosk.register_walk_in(name, "Weber", date(1970, 4, 1), "Rash", None, "en")
    assert (caught.value.message, caught.value.field_name) == (message, "first_name")
    assert row_counts(kiosk) == counts


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", validation.MSG_REQUIRED),
        (" \n ", validation.MSG_REQUIRED),
        (HUGE, validation.MSG_TOO_LONG),
        ("x" * 501, validation.MSG_TOO_LONG),
        ("pain\x07", validation.MSG_CONTROL),
        ("\x1b[31mred", validation.MSG_CONTROL),
    ],
)
def test_bad_walk_in_reason_writes_nothing(kiosk: Kiosk, reason: str, message: str) -> None:
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), reason, None, "en")
    assert (caught.value.message, caught.value.field_name) == (message, "reason")
    assert row_counts(kiosk) == counts


@pytest.mark.parametrize(
    ("dob", "message"),
    [
        (date(2026, 3, 11), validation.MSG_DATE_FUTURE),  # tomorrow (clock: 2026-03-10)
        (date(1899, 12, 31), validation.MSG_DATE_TOO_OLD),
    ],
)
def test_bad_dates_in_lookup_and_walk_in(kiosk: Kiosk, dob: date, message: str) -> None:
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.find_appointment("Okafor", dob)
    assert (caught.value.message, caught.value.field_name) == (message, "date_of_birth")
    with pytest.raises(InvalidInput):
        kiosk.register_walk_in("Jonas", "Weber", dob, "Rash", None, "en")
    assert row_counts(kiosk) == counts


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\u200b\u200f", HUGE, "q" * 1001, "hello\x00", "bell\x07"],
)
def test_bad_question_text_writes_nothing(kiosk: Kiosk, text: str) -> None:
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.ask_question(text, "en")
    assert caught.value.field_name == "text"
    assert row_counts(kiosk) == counts


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"contact_name": "Ana 😀"}, "contact_name"),
        ({"contact_name": HUGE}, "contact_name"),
        ({"contact_phone": "not a phone"}, "contact_phone"),
        ({"contact_email": "nope@"}, "contact_email"),
        ({"contact_email": "a@b.c" + "x" * 300}, "contact_email"),
    ],
)
def test_bad_question_contact_writes_nothing(kiosk: Kiosk, kwargs, field: str) -> None:
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.ask_question("Where is parking?", "en", **kwargs)
    assert caught.value.field_name == field
    assert row_counts(kiosk) == counts


def test_sql_looking_text_is_stored_verbatim_and_harmless(kiosk: Kiosk) -> None:
    text = "'; DELETE FROM outbox; -- and \" OR 1=1; DROP TABLE ratings"
    receipt = kiosk.ask_question(text, "en")
    with kiosk.db.read_session() as session:
        row = session.get(OutboxRecord, receipt.question_id)
        assert row is not None and row.payload["text"] == text
    counts = row_counts(kiosk)
    assert counts["ratings"] == 0 and counts["outbox"] == 1  # the question (demo seed is local)
    assert counts["appointments"] == 10


def test_emoji_rtl_and_zero_width_in_free_text(kiosk: Kiosk) -> None:
    family = "👨\u200d👩\u200d👧"
    text = f"\u200f\u05e9\u05dc\u05d5\u05dd 👋 مرحبا {family} where\u200b is\u202e parking?"
    receipt = kiosk.ask_question(text, "en", contact_name="\u200fمحمد الأحمد")
    with kiosk.db.read_session() as session:
        payload = session.get(OutboxRecord, receipt.question_id).payload  # type: ignore[union-attr]
    # Bidi controls and zero-width spaces are stripped; the family emoji keeps its joiners.
    assert payload["text"] == f"\u05e9\u05dc\u05d5\u05dd 👋 مرحبا {family} where is parking?"
    assert payload["contact_name"] == "محمد الأحمد"


def test_right_to_left_names_work_for_walk_in_and_lookup(kiosk: Kiosk) -> None:
    receipt = kiosk.register_walk_in(
        "\u200fשרה", "\u200fכהן\u200e", date(1990, 1, 2), "בדיקה", None, "en"
    )
    with kiosk.db.read_session() as session:
        payload = session.get(OutboxRecord, receipt.check_in_id).payload  # type: ignore[union-attr]
    assert (payload["first_name"], payload["last_name"]) == ("שרה", "כהן")
    assert kiosk.find_appointment("عبد الله", DOB).status.value == "no_match"


def test_bad_rating_inputs_write_nothing(kiosk: Kiosk) -> None:
    counts = row_counts(kiosk)
    for face in (0, 6, -1, True, "5", 2.5):
        with pytest.raises(InvalidInput):
            kiosk.rate_visit(face, "en")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        kiosk.rate_visit(3, "en", appointment_ref="unknown-ref")
    assert row_counts(kiosk) == counts
    rating = kiosk.rate_visit(3, "en")
    counts = row_counts(kiosk)
    bad_details = [
        RatingDetails(ease_of_contact=0),
        RatingDetails(overall=6),
        RatingDetails(would_recommend=11),
        RatingDetails(would_recommend=-1),
        RatingDetails(comment=HUGE),
        RatingDetails(comment="ok\x00"),
        RatingDetails(contact_phone="abc"),
    ]
    for details in bad_details:
        with pytest.raises(InvalidInput):
            kiosk.add_rating_details(rating.rating_id, details)
    with pytest.raises(InvalidInput):
        kiosk.add_rating_details("6f1c1b8e-55d4-4c55-9e53-3d1f3a0b7e11", RatingDetails(overall=5))
    assert row_counts(kiosk) == counts


def test_nothing_half_written_after_a_mix_of_failures(kiosk: Kiosk) -> None:
    counts = row_counts(kiosk)
    attempts = [
        lambda: kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", "12", "en"),
        lambda: kiosk.ask_question("Parking?", "en", contact_email="bad"),
        lambda: kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", None, "zz"),
        lambda: kiosk.check_in("nope", "en"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput):
            attempt()
    assert row_counts(kiosk) == counts
    with kiosk.db.read_session() as session:
        assert session.scalars(select(OutboxRecord.kind)).all() == []  # the demo seed is local
