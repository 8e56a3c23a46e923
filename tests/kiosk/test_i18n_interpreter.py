"""Interpreter requests in the kiosk core: on the check-in or walk-in record, or sent later
for a saved visit; an unknown language is refused and writes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from kiosk_core_helpers import row_counts
from sqlalchemy import select

from kiosk.facade import InvalidInput
from kiosk.services import Kiosk
from sync.outbox import OutboxRecord
from sync.protocol import CheckInBody, ContactUpdateBody, WalkInBody, parse_body


def _payload(kiosk: Kiosk, record_id: str) -> dict:
    with kiosk.db.read_session() as session:
        row = session.scalars(select(OutboxRecord).where(OutboxRecord.id == record_id)).one()
        return row.kind, dict(row.payload)


def test_check_in_carries_the_interpreter_language(kiosk: Kiosk) -> None:
    match = kiosk.find_appointment("Okafor", date(1984, 3, 12))
    receipt = kiosk.check_in(match.appointment_ref, "en", interpreter_language="vi")
    kind, payload = _payload(kiosk, receipt.check_in_id)
    body = parse_body(kind, payload)
    assert isinstance(body, CheckInBody) and body.interpreter_language == "vi"


def test_walk_in_carries_it_and_none_means_no_field(kiosk: Kiosk) -> None:
    receipt = kiosk.register_walk_in(
        "Testa", "Synthetic", date(1990, 1, 1), "Cough", None, "es", interpreter_language="ar"
    )
    kind, payload = _payload(kiosk, receipt.check_in_id)
    assert isinstance(parse_body(kind, payload), WalkInBody)
    assert payload["interpreter_language"] == "ar"
    other = kiosk.register_walk_in("Otra", "Synthetic", date(1991, 1, 1), "Cough", None, "es")
    assert "interpreter_language" not in _payload(kiosk, other.check_in_id)[1]


def test_request_for_a_saved_visit_is_a_contact_update(kiosk: Kiosk) -> None:
    match = kiosk.find_appointment("Okafor", date(1984, 3, 12))
    receipt = kiosk.check_in(match.appointment_ref, "en")
    before = row_counts(kiosk)
    kiosk.request_interpreter(receipt.check_in_id, "ru")
    assert row_counts(kiosk)["outbox"] == before["outbox"] + 1
    with kiosk.db.read_session() as session:
        row = session.scalars(
            select(OutboxRecord).where(OutboxRecord.kind == "contact_update")
        ).one()
    body = parse_body(row.kind, dict(row.payload))
    assert isinstance(body, ContactUpdateBody)
    assert body.interpreter_language == "ru" and str(body.check_in_id) == receipt.check_in_id
    assert body.phone is None and body.email is None


@pytest.mark.parametrize("language", ["xx", "EN", "tlh", ""])
def test_unknown_language_is_refused_and_writes_nothing(kiosk: Kiosk, language: str) -> None:
    match = kiosk.find_appointment("Okafor", date(1984, 3, 12))
    receipt = kiosk.check_in(match.appointment_ref, "en")
    before = row_counts(kiosk)
    with pytest.raises(InvalidInput) as caught:
        kiosk.request_interpreter(receipt.check_in_id, language)
    assert caught.value.message == "This language is not available."
    assert row_counts(kiosk) == before
    with pytest.raises(InvalidInput):
        kiosk.request_interpreter("not-a-visit", "es")
