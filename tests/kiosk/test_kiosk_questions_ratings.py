"""Questions (with emergency words) and ratings (one per visit, anonymous dedupe, details)."""

from __future__ import annotations

from datetime import date

import pytest
from kiosk_core_helpers import Clock, row_counts
from sqlalchemy import select

from kiosk.emergency import is_emergency_text
from kiosk.facade import InvalidInput, RatingDetails
from kiosk.services import Kiosk
from sync.outbox import OutboxRecord
from sync.protocol import parse_body


def payload(kiosk: Kiosk, record_id: str) -> dict:
    with kiosk.db.read_session() as session:
        row = session.get(OutboxRecord, record_id)
        assert row is not None
        parse_body(row.kind, row.payload)
        return row.payload


@pytest.mark.parametrize(
    "text",
    [
        "I have CHEST PAIN since this morning",
        "My father can't breathe",
        "my father can\u2019t breathe",
        "she cannot   breathe",
        "trouble breathing after the injection",
        "my cut is bleeding a lot",
        "someone is unconscious in the toilet",
        "I think he is having a stroke",
        "my son had a seizure",
        "I took an overdose",
        "I want to kill myself",
        "thinking about suicide",
        "severe allergic reaction to peanuts",
        "Tengo dolor de pecho",
        "DOLOR EN EL PECHO",
        "mi hijo no puedo respirar bien",
        "No puedo respirar",
        "hay sangrado",
        "está sangrando mucho",
        "mi madre está inconsciente",
        "tuvo una convulsión",
        "creo que es una sobredosis",
        "pienso en el suicidio",
        "reacción alérgica grave",
    ],
)
def test_emergency_words_are_spotted(empty_kiosk: Kiosk, text: str) -> None:
    assert empty_kiosk.is_emergency_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Where can I park?",
        "When do I get my blood test results?",
        "Can I get a breathing exercise leaflet?",
        "Is the chestnut tree outside yours?",
        "¿Dónde está el baño?",
        "Necesito un análisis de sangre",
        "bleedingly obvious question about billing",
    ],
)
def test_ordinary_text_is_not_an_emergency(empty_kiosk: Kiosk, text: str) -> None:
    assert not empty_kiosk.is_emergency_text(text)


def test_emergency_list_comes_from_the_data_file(tmp_path) -> None:
    words = tmp_path / "words.json"
    words.write_text('{"en": ["purple elephant"], "fr": ["douleur thoracique"]}', "utf-8")
    assert is_emergency_text("I see a Purple  Elephant", path=words)
    assert is_emergency_text("une DOULEUR thoracique", path=words)
    assert not is_emergency_text("chest pain", path=words)


def test_question_is_stored_with_the_emergency_flag(kiosk: Kiosk) -> None:
    before = row_counts(kiosk)
    calm = kiosk.ask_question("Where can I park? 🚗", "en")
    urgent = kiosk.ask_question(
        "Mi esposo tiene dolor de pecho",
        "es",
        contact_name="Ana María",
        contact_phone="+34 600 000 000",
        contact_email="ana@example.org",
    )
    after = row_counts(kiosk)
    assert after["questions"] == before["questions"] + 2
    assert after["outbox"] == before["outbox"] + 2
    assert (calm.emergency, urgent.emergency) == (False, True)
    body = payload(kiosk, urgent.question_id)
    assert body["emergency_flag"] is True
    assert body["contact_name"] == "Ana María" and body["language"] == "es"
    assert body["follow_up_token"] == urgent.follow_up_url.rsplit("/", 1)[1]
    assert payload(kiosk, calm.question_id)["emergency_flag"] is False
    assert calm.follow_up_url != urgent.follow_up_url


def test_blank_optional_contacts_are_left_out(kiosk: Kiosk) -> None:
    receipt = kiosk.ask_question(
        "Hours?", "en", contact_name=" ", contact_phone="", contact_email=None
    )
    assert set(payload(kiosk, receipt.question_id)) == {
        "text",
        "emergency_flag",
        "asked_at",
        "follow_up_token",
        "language",
    }


def test_face_tap_is_committed_at_once(kiosk: Kiosk, settings) -> None:
    receipt = kiosk.rate_visit(2, "en")
    assert receipt.counted is True
    # A second, independent kiosk process on the same file sees it: it is on disk.
    other = Kiosk.open(settings, seed_demo=False)
    assert row_counts(other)["ratings"] == 1
    assert payload(other, receipt.rating_id)["face"] == 2
    other.close()


def test_one_rating_per_known_visit(kiosk: Kiosk, clock: Clock) -> None:
    ref = kiosk.find_appointment("Kim", date(2001, 1, 15)).appointment_ref
    first = kiosk.rate_visit(5, "en", appointment_ref=ref)
    counts = row_counts(kiosk)
    clock.advance(hours=1)  # far beyond the dedupe interval: still the same visit
    second = kiosk.rate_visit(1, "es", appointment_ref=ref)
    assert (first.counted, second.counted) == (True, False)
    assert second.rating_id == first.rating_id
    assert second.follow_up_url == first.follow_up_url
    assert row_counts(kiosk) == counts
    assert payload(kiosk, first.rating_id)["face"] == 5


def test_anonymous_presses_within_the_interval_count_once(kiosk: Kiosk, clock: Clock) -> None:
    first = kiosk.rate_visit(4, "en")
    counts = row_counts(kiosk)
    clock.advance(seconds=9)
    repeat = kiosk.rate_visit(1, "en")
    assert (repeat.counted, repeat.rating_id) == (False, first.rating_id)
    assert row_counts(kiosk) == counts
    clock.advance(seconds=2)  # 11 s after the counted press: a new patient
    later = kiosk.rate_visit(3, "en")
    assert later.counted is True and later.rating_id != first.rating_id
    assert row_counts(kiosk)["ratings"] == counts["ratings"] + 1
    assert row_counts(kiosk)["outbox"] == counts["outbox"] + 1


def test_known_visit_rating_is_not_merged_with_anonymous_ones(kiosk: Kiosk) -> None:
    anonymous = kiosk.rate_visit(4, "en")
    ref = kiosk.find_appointment("Kim", date(2001, 1, 15)).appointment_ref
    known = kiosk.rate_visit(4, "en", appointment_ref=ref)
    assert known.counted is True and known.rating_id != anonymous.rating_id


def test_dedupe_interval_is_configurable(tmp_path, clock: Clock) -> None:
    from kiosk.config import KioskSettings

    settings = KioskSettings.load(environ={}, demo=True, data_dir=tmp_path, rating_dedupe_seconds=0)
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic, seed_demo=False)
    assert kiosk.rate_visit(4, "en").counted and kiosk.rate_visit(4, "en").counted
    assert row_counts(kiosk)["ratings"] == 2
    kiosk.close()


def test_rating_details_reference_the_rating(kiosk: Kiosk) -> None:
    rating = kiosk.rate_visit(2, "en")
    details = RatingDetails(
        ease_of_contact=3,
        waiting_time=1,
        politeness=5,
        kept_informed=4,
        overall=2,
        would_recommend=0,
        comment="Long wait 😕 but kind staff",
        consent_to_contact=True,
        contact_phone="+1 555 010 9999",
    )
    before = row_counts(kiosk)
    kiosk.add_rating_details(rating.rating_id, details)
    after = row_counts(kiosk)
    assert after["rating_details"] == before["rating_details"] + 1
    assert after["outbox"] == before["outbox"] + 1
    with kiosk.db.read_session() as session:
        row = session.scalars(
            select(OutboxRecord).where(OutboxRecord.kind == "rating_detail")
        ).one()
    assert row.payload["rating_id"] == rating.rating_id
    assert row.payload["would_recommend"] == 0 and row.payload["waiting_time"] == 1
    assert row.payload["comment"] == "Long wait 😕 but kind staff"
    assert row.payload["consent_to_contact"] is True


def test_rating_details_first_answers_win(kiosk: Kiosk) -> None:
    rating = kiosk.rate_visit(4, "en")
    answers = RatingDetails(overall=4, comment="Fine")
    kiosk.add_rating_details(rating.rating_id, answers)
    counts = row_counts(kiosk)
    kiosk.add_rating_details(rating.rating_id, answers)  # a double tap on Send: no-op
    assert row_counts(kiosk) == counts
    with pytest.raises(InvalidInput) as caught:
        kiosk.add_rating_details(rating.rating_id, RatingDetails(overall=1))
    assert caught.value.message == "Your answers were already saved. Thank you."
    assert row_counts(kiosk) == counts


def test_empty_rating_details_are_allowed(kiosk: Kiosk) -> None:
    rating = kiosk.rate_visit(3, "en")
    kiosk.add_rating_details(rating.rating_id, RatingDetails(comment="   "))
    with kiosk.db.read_session() as session:
        row = session.scalars(
            select(OutboxRecord).where(OutboxRecord.kind == "rating_detail")
        ).one()
    assert row.payload == {"rating_id": rating.rating_id, "consent_to_contact": False}
