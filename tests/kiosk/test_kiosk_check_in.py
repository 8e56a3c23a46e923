"""Check-in: matching, the window, duplicates, ambiguity, walk-ins, contact updates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from kiosk_core_helpers import NOON, Clock, Person, load_people, row_counts
from sqlalchemy import select

from kiosk.demo import DEMO_PEOPLE
from kiosk.facade import InvalidInput, KioskError, MatchStatus
from kiosk.models import Appointment, CheckIn
from kiosk.services import Kiosk
from sync.outbox import OutboxRecord
from sync.protocol import FOLLOW_UP_TOKEN_CHARS, parse_body

DOB = date(1984, 3, 12)


def outbox_rows(kiosk: Kiosk) -> list[OutboxRecord]:
    with kiosk.db.read_session() as session:
        return list(session.scalars(select(OutboxRecord).order_by(OutboxRecord.created_at)))


@pytest.mark.parametrize("person", DEMO_PEOPLE, ids=lambda p: p.key)
def test_every_demo_person_gets_the_documented_result(kiosk: Kiosk, person) -> None:
    phone = person.phone_last4 if person.last_name == "Smith" else None
    match = kiosk.find_appointment(person.last_name, person.date_of_birth, phone)
    assert match.status is person.expected
    assert match.first_initial == person.first_name[0]
    assert match.clinician == person.clinician


def test_demo_pair_is_ambiguous_without_phone(kiosk: Kiosk) -> None:
    match = kiosk.find_appointment("Smith", date(1980, 6, 1))
    assert match.status is MatchStatus.AMBIGUOUS
    assert match.appointment_ref is None and match.first_initial is None
    henry = kiosk.find_appointment("Smith", date(1980, 6, 1), "0142")
    hannah = kiosk.find_appointment("Smith", date(1980, 6, 1), "0199")
    assert (henry.first_initial, hannah.first_initial) == ("H", "H")
    assert henry.appointment_ref != hannah.appointment_ref
    assert henry.clinician == "Dr. Rivera" and hannah.clinician == "Dr. Adeyemi"
    wrong = kiosk.find_appointment("Smith", date(1980, 6, 1), "9999")
    assert wrong.status is MatchStatus.NO_MATCH


def test_match_ignores_case_accents_and_spacing(kiosk: Kiosk) -> None:
    for typed in ("munoz", "MUÑOZ", " Muñoz ", "Mu\u0303noz"):
        assert kiosk.find_appointment(typed, date(1990, 7, 4)).status is MatchStatus.MATCHED
    assert kiosk.find_appointment("obrienwalsh", date(1988, 8, 8)).status is MatchStatus.MATCHED


def test_a_datetime_for_the_birth_date_still_matches(kiosk: Kiosk) -> None:
    from datetime import datetime

    moment = datetime(1984, 3, 12, 0, 0)
    assert kiosk.find_appointment("Okafor", moment).status is MatchStatus.MATCHED


def test_wrong_date_of_birth_is_no_match(kiosk: Kiosk) -> None:
    assert kiosk.find_appointment("Okafor", date(1984, 3, 13)).status is MatchStatus.NO_MATCH
    assert kiosk.find_appointment("Weber", date(1970, 4, 1)).status is MatchStatus.NO_MATCH


def test_no_match_key_salt_means_no_match(empty_kiosk: Kiosk) -> None:
    assert empty_kiosk.find_appointment("Okafor", DOB).status is MatchStatus.NO_MATCH


def test_match_shows_only_initial_time_and_clinician(kiosk: Kiosk) -> None:
    match = kiosk.find_appointment("Okafor", DOB)
    assert match.status is MatchStatus.MATCHED
    assert match.first_initial == "A"
    assert match.starts_at == (NOON + timedelta(minutes=5)).replace(microsecond=0)
    text = repr(match)
    assert "Okafor" not in text and "Ada" not in text and "1984" not in text


def test_check_in_writes_one_check_in_and_one_outbox_row(kiosk: Kiosk) -> None:
    before = row_counts(kiosk)
    match = kiosk.find_appointment("Okafor", DOB)
    receipt = kiosk.check_in(match.appointment_ref, "en")
    after = row_counts(kiosk)
    assert after["check_ins"] == before["check_ins"] + 1
    assert after["outbox"] == before["outbox"] + 1
    assert receipt.queue_number == "A002"  # A001 went to the seeded already-checked-in person
    assert receipt.already_checked_in is False
    token = receipt.follow_up_url.rsplit("/f/", 1)[1]
    assert receipt.follow_up_url.startswith("http://127.0.0.1:8000/f/")
    assert len(token) == FOLLOW_UP_TOKEN_CHARS
    row = next(r for r in outbox_rows(kiosk) if r.id == receipt.check_in_id)
    body = parse_body(row.kind, row.payload)
    assert row.kind == "check_in"
    assert body.appointment_ref == match.appointment_ref  # type: ignore[attr-defined]
    assert body.queue_number == "A002"  # type: ignore[attr-defined]
    assert body.follow_up_token == token  # type: ignore[attr-defined]
    assert "Okafor" not in str(row.payload)


def test_duplicate_check_in_creates_nothing_twice(kiosk: Kiosk) -> None:
    ref = kiosk.find_appointment("Okafor", DOB).appointment_ref
    first = kiosk.check_in(ref, "en")
    counts = row_counts(kiosk)
    second = kiosk.check_in(ref, "es")
    assert row_counts(kiosk) == counts
    assert second.already_checked_in is True
    assert (second.check_in_id, second.queue_number, second.follow_up_url) == (
        first.check_in_id,
        first.queue_number,
        first.follow_up_url,
    )
    again = kiosk.find_appointment("okafor", DOB)
    assert again.status is MatchStatus.ALREADY_CHECKED_IN
    assert again.receipt is not None and again.receipt.queue_number == first.queue_number
    assert row_counts(kiosk) == counts


def test_seeded_already_checked_in_person_has_a_receipt(kiosk: Kiosk) -> None:
    match = kiosk.find_appointment("Lindqvist", date(1992, 2, 29))
    assert match.status is MatchStatus.ALREADY_CHECKED_IN
    assert match.receipt is not None and match.receipt.queue_number == "A001"


def test_reopening_the_demo_keeps_check_ins(settings, clock: Clock) -> None:
    first = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    ref = first.find_appointment("Okafor", DOB).appointment_ref
    receipt = first.check_in(ref, "en")
    first.close()
    clock.advance(minutes=3)
    second = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    again = second.find_appointment("Okafor", DOB)
    assert again.status is MatchStatus.ALREADY_CHECKED_IN
    assert again.receipt is not None and again.receipt.check_in_id == receipt.check_in_id
    assert row_counts(second)["check_ins"] == 2  # Lindqvist (seeded once) + Okafor
    second.close()


@pytest.mark.parametrize(
    ("offset_minutes", "expected"),
    [
        (30, MatchStatus.MATCHED),  # exactly 30 min early: inside
        (31, MatchStatus.TOO_EARLY),
        (-15, MatchStatus.MATCHED),  # exactly 15 min late: inside
        (-16, MatchStatus.TOO_LATE),
        (0, MatchStatus.MATCHED),
    ],
)
def test_window_edges(empty_kiosk: Kiosk, offset_minutes: int, expected: MatchStatus) -> None:
    load_people(empty_kiosk, [Person("r1", "Edge", DOB, NOON + timedelta(minutes=offset_minutes))])
    assert empty_kiosk.find_appointment("Edge", DOB).status is expected


def test_window_comes_from_settings(tmp_path, clock: Clock) -> None:
    from kiosk.config import KioskSettings

    settings = KioskSettings.load(
        environ={},
        demo=True,
        data_dir=tmp_path,
        check_in_early_minutes=60,
        check_in_late_minutes=0,
    )
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    # Demo seeds with the settings' window: Petrova (+3 h) too early, Dubois (-10) now late.
    assert kiosk.find_appointment("Dubois", date(1975, 11, 30)).status is MatchStatus.TOO_LATE
    assert kiosk.find_appointment("Munoz", date(1990, 7, 4)).status is MatchStatus.MATCHED
    kiosk.close()


def test_check_in_outside_window_is_refused_and_writes_nothing(
    empty_kiosk: Kiosk, clock: Clock
) -> None:
    load_people(empty_kiosk, [Person("r1", "Edge", DOB, NOON + timedelta(minutes=10))])
    ref = empty_kiosk.find_appointment("Edge", DOB).appointment_ref
    clock.advance(minutes=45)  # the patient walked away and came back much later
    counts = row_counts(empty_kiosk)
    with pytest.raises(KioskError) as caught:
        empty_kiosk.check_in(ref, "en")
    assert caught.value.message == "Please see the front desk."
    assert row_counts(empty_kiosk) == counts


def test_check_in_unknown_ref_is_refused(kiosk: Kiosk) -> None:
    counts = row_counts(kiosk)
    for ref in ("nope", "", "x" * 65, "1' OR '1'='1"):
        with pytest.raises(InvalidInput):
            kiosk.check_in(ref, "en")
    assert row_counts(kiosk) == counts


def test_check_in_refused_for_appointment_arrived_at_front_desk(empty_kiosk: Kiosk) -> None:
    load_people(empty_kiosk, [Person("r1", "Desk", DOB, NOON, arrived=True)])
    match = empty_kiosk.find_appointment("Desk", DOB)
    assert match.status is MatchStatus.ALREADY_CHECKED_IN and match.receipt is None
    with pytest.raises(KioskError):
        empty_kiosk.check_in("r1", "en")


def test_yesterdays_appointment_does_not_match(empty_kiosk: Kiosk) -> None:
    load_people(empty_kiosk, [Person("r1", "Old", DOB, NOON - timedelta(days=1))])
    assert empty_kiosk.find_appointment("Old", DOB).status is MatchStatus.NO_MATCH


def test_today_is_the_clinic_local_date(tmp_path, clock: Clock) -> None:
    from kiosk.config import KioskSettings

    settings = KioskSettings.load(
        environ={}, demo=True, data_dir=tmp_path, timezone="America/New_York"
    )
    clock.now = NOON.replace(hour=3)  # 22:00 the evening before in New York
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic, seed_demo=False)
    assert kiosk.today() == date(2026, 3, 9)
    load_people(
        kiosk,
        [
            Person("late", "Evening", DOB, clock.now + timedelta(minutes=5)),
            Person("next", "Morning", DOB, clock.now + timedelta(hours=6)),
        ],
    )
    assert kiosk.find_appointment("Evening", DOB).status is MatchStatus.MATCHED
    assert kiosk.find_appointment("Morning", DOB).status is MatchStatus.NO_MATCH  # tomorrow
    kiosk.close()


def test_queue_numbers_follow_the_day_and_restart_tomorrow(
    empty_kiosk: Kiosk, clock: Clock
) -> None:
    people = [Person(f"r{i}", f"Person{chr(65 + i)}", DOB, NOON) for i in range(3)]
    load_people(empty_kiosk, people)
    numbers = [empty_kiosk.check_in(p.ref, "en").queue_number for p in people]
    assert numbers == ["A001", "A002", "A003"]
    clock.advance(days=1)
    load_people(empty_kiosk, [Person("t1", "Tomorrow", DOB, clock.now)])
    assert empty_kiosk.check_in("t1", "en").queue_number == "A001"


def test_kiosk_letter_prefixes_queue_numbers(tmp_path, clock: Clock) -> None:
    from kiosk.config import KioskSettings

    settings = KioskSettings.load(environ={}, demo=True, data_dir=tmp_path, kiosk_letter="C")
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    ref = kiosk.find_appointment("Okafor", DOB).appointment_ref
    assert kiosk.check_in(ref, "en").queue_number == "C002"
    kiosk.close()


def test_estimated_wait_uses_pulled_queue_plus_local_arrivals(
    empty_kiosk: Kiosk, clock: Clock
) -> None:
    people = [Person(f"r{i}", f"Wait{chr(65 + i)}", DOB, NOON) for i in range(3)]
    load_people(empty_kiosk, people, waiting=4, wait=20)  # server: 4 waiting, 20 min
    waits = [empty_kiosk.check_in(p.ref, "en").estimated_wait_minutes for p in people]
    assert waits == [20, 25, 30]  # 5 min per patient, from the server's figures


def test_estimated_wait_falls_back_to_minutes_per_patient(empty_kiosk: Kiosk, clock: Clock) -> None:
    people = [Person(f"r{i}", f"Wait{chr(65 + i)}", DOB, NOON) for i in range(2)]
    load_people(empty_kiosk, people, waiting=4, wait=20)
    clock.advance(hours=3)  # the pulled queue state is stale now
    load_people_at = [Person(p.ref, p.last_name, DOB, clock.now) for p in people]
    with empty_kiosk.db.write() as session:  # move the appointments, keep the stale queue
        for person in load_people_at:
            session.get(Appointment, person.ref).starts_at = clock.now  # type: ignore[union-attr]
    waits = [empty_kiosk.check_in(p.ref, "en").estimated_wait_minutes for p in people]
    assert waits == [0, 10]  # settings.minutes_per_patient = 10


def test_walk_in_gets_a_queue_number_and_outbox_row(kiosk: Kiosk) -> None:
    before = row_counts(kiosk)
    receipt = kiosk.register_walk_in(
        "Jonas", "Weber", date(1970, 4, 1), "Cough since Monday 🤧", "+1 (555) 010-4477", "es"
    )
    after = row_counts(kiosk)
    assert after["walk_ins"] == before["walk_ins"] + 1
    assert after["outbox"] == before["outbox"] + 1
    assert receipt.queue_number == "A002"
    row = next(r for r in outbox_rows(kiosk) if r.id == receipt.check_in_id)
    assert row.kind == "walk_in"
    assert row.payload["last_name"] == "Weber"
    assert row.payload["reason"] == "Cough since Monday 🤧"
    assert row.payload["date_of_birth"] == "1970-04-01"
    assert row.payload["language"] == "es"
    parse_body(row.kind, row.payload)


def test_walk_in_and_check_in_share_the_daily_sequence(kiosk: Kiosk) -> None:
    walk = kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", None, "en")
    check = kiosk.check_in(kiosk.find_appointment("Kim", date(2001, 1, 15)).appointment_ref, "en")
    assert (walk.queue_number, check.queue_number) == ("A002", "A003")


def test_contact_update_for_check_in_and_walk_in(kiosk: Kiosk) -> None:
    check = kiosk.check_in(kiosk.find_appointment("Okafor", DOB).appointment_ref, "en")
    walk = kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", None, "en")
    before = row_counts(kiosk)
    kiosk.update_contact(check.check_in_id, "+44 20 7946 0958", None)
    kiosk.update_contact(walk.check_in_id, None, "jonas.weber@example.org")
    kiosk.update_contact(walk.check_in_id, "555 0100 22", " x@example.com ")
    after = row_counts(kiosk)
    assert after["contact_updates"] == before["contact_updates"] + 3
    assert after["outbox"] == before["outbox"] + 3
    payloads = [r.payload for r in outbox_rows(kiosk) if r.kind == "contact_update"]
    assert payloads[0] == {"check_in_id": check.check_in_id, "phone": "+44 20 7946 0958"}
    assert payloads[1] == {"check_in_id": walk.check_in_id, "email": "jonas.weber@example.org"}
    assert payloads[2]["email"] == "x@example.com"


@pytest.mark.parametrize(
    ("phone", "email", "field"),
    [
        (None, None, "phone"),
        ("", "  ", "phone"),
        ("call me", None, "phone"),
        ("123", None, "phone"),
        (None, "not-an-email", "email"),
        (None, "a@b", "email"),
        ("+1 555 0100 22", "x@example.com\u0000", "email"),
        ("1" * 40, None, "phone"),
    ],
)
def test_contact_update_bad_input_writes_nothing(kiosk: Kiosk, phone, email, field) -> None:
    check = kiosk.check_in(kiosk.find_appointment("Okafor", DOB).appointment_ref, "en")
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.update_contact(check.check_in_id, phone, email)
    assert caught.value.field_name == field
    assert row_counts(kiosk) == counts


def test_contact_update_for_unknown_visit_is_refused(kiosk: Kiosk) -> None:
    counts = row_counts(kiosk)
    for visit in ("not-a-uuid", "6f1c1b8e-55d4-4c55-9e53-3d1f3a0b7e11"):
        with pytest.raises(InvalidInput):
            kiosk.update_contact(visit, "+1 555 0100 22", None)
    assert row_counts(kiosk) == counts


def test_check_in_with_unconfigured_language_is_refused(kiosk: Kiosk) -> None:
    ref = kiosk.find_appointment("Okafor", DOB).appointment_ref
    counts = row_counts(kiosk)
    with pytest.raises(InvalidInput):
        kiosk.check_in(ref, "xx")
    assert row_counts(kiosk) == counts
    with kiosk.db.read_session() as session:
        assert session.scalar(select(CheckIn).where(CheckIn.appointment_ref == ref)) is None


def test_same_walk_in_twice_a_day_gets_the_first_receipt(kiosk: Kiosk, clock: Clock) -> None:
    first = kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", None, "en")
    counts = row_counts(kiosk)
    clock.advance(minutes=20)
    again = kiosk.register_walk_in(" jonas ", "WEBER", date(1970, 4, 1), "Still a rash", None, "es")
    assert row_counts(kiosk) == counts
    assert again.already_checked_in is True
    assert (again.check_in_id, again.queue_number) == (first.check_in_id, first.queue_number)
    other = kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 2), "Rash", None, "en")
    assert other.already_checked_in is False and other.queue_number != first.queue_number
    clock.advance(days=1)
    tomorrow = kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", None, "en")
    assert tomorrow.already_checked_in is False and tomorrow.queue_number == "A001"
