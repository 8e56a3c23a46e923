"""Every end takes the shared rules from sync.rules: each table keyed by rating dimension
holds exactly the dimensions, and each phone check gives the rule's answer.

The tables that must be written out (pydantic fields, dataclass fields, table columns, kv
ids) cannot be generated from the tuple; this is what keeps them equal to it.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from sync import rules
from sync.protocol import RatingDetailBody, RecordError, parse_body

DIMENSIONS = list(rules.RATING_DIMENSIONS)
SCORES = [*DIMENSIONS, rules.RECOMMEND_DIMENSION]
NOT_SCORES = {"rating_id", "comment", "consent_to_contact", "contact_phone"}
ROOT = Path(__file__).resolve().parents[2]


def test_the_wire_body_has_one_field_per_dimension() -> None:
    assert [f for f in RatingDetailBody.model_fields if f not in NOT_SCORES] == SCORES


def test_the_kiosk_details_have_one_field_per_dimension() -> None:
    from kiosk.facade import RatingDetails

    fields = [f.name for f in dataclasses.fields(RatingDetails)]
    assert [f for f in fields if f not in NOT_SCORES] == SCORES


def test_kiosk_details_refuse_an_unknown_dimension() -> None:
    from kiosk.facade import RatingDetails, UnknownRuleKey

    assert RatingDetails(politeness=4).score("politeness") == 4
    with pytest.raises(UnknownRuleKey, match="unknown rating dimension 'comment'"):
        RatingDetails(comment="hi").score("comment")


def test_the_kiosk_screen_has_one_row_per_dimension() -> None:
    kv = (ROOT / "screens" / "rate_details.kv").read_text(encoding="utf-8")
    for dim in DIMENSIONS:
        assert f"id: {dim}\n" in kv and f"root.questions['{dim}']" in kv, dim


def test_the_server_tables_have_one_column_per_dimension() -> None:
    from clinic.dashboard.rollup import RatingDayStats
    from clinic.models import Rating

    assert set(SCORES) <= set(Rating.__table__.columns.keys())
    columns = RatingDayStats.__table__.columns.keys()
    assert [c.removesuffix("_sum") for c in columns if c.endswith("_sum")] == DIMENSIONS
    assert [c.removesuffix("_n") for c in columns if c.endswith("_n")] == ["recommend", *DIMENSIONS]


def test_the_server_and_dashboard_tables_hold_every_dimension() -> None:
    from clinic.dashboard import queries
    from clinic.ehr import feedback
    from clinic.ingest import DETAIL_FIELDS

    # The package's `router` attribute is the APIRouter, which shadows the module.
    followup = importlib.import_module("clinic.followup.router")

    assert [f for f in DETAIL_FIELDS if f not in NOT_SCORES] == SCORES
    assert [dim for dim, _label in queries.DIMENSIONS] == DIMENSIONS
    assert list(followup.SURVEY_QUESTIONS) == DIMENSIONS
    row_fields = [f.name for f in dataclasses.fields(queries.RatingRow)]
    assert set(SCORES) <= set(row_fields)
    link_ids = [item[0] for item in feedback.ITEMS]
    assert link_ids == ["face", *SCORES, "comment"]


PHONES = ["555 0101", "+1 (555) 010-1234", "12345", "1234567890123456", "1+23456", "<script>"]
EMAILS = ["ana@example.org", "a@b.co", "ana@example", "ana example@x.org", "@x.org", "a@b@c.org"]


def _wire_takes(field: str, value: str) -> bool:
    body = {"check_in_id": "6f1f7a2c-2d43-4d7e-9a53-0c5a3f1f2b10", field: value}
    try:
        parse_body("contact_update", body)
    except RecordError:
        return False
    return True


def _kiosk_takes(field: str, value: str) -> bool:
    from kiosk.facade import InvalidInput
    from kiosk.validation import clean_email, clean_phone

    try:
        return (clean_phone if field == "phone" else clean_email)(value) == value
    except InvalidInput:
        return False


@pytest.mark.parametrize("phone", PHONES)
def test_the_wire_and_the_kiosk_agree_with_the_phone_rule(phone: str) -> None:
    assert _wire_takes("phone", phone) is _kiosk_takes("phone", phone) is rules.is_phone(phone)


@pytest.mark.parametrize("email", EMAILS)
def test_the_wire_and_the_kiosk_agree_on_email_addresses(email: str) -> None:
    valid = email in ("ana@example.org", "a@b.co")
    assert _wire_takes("email", email) is _kiosk_takes("email", email) is valid


@pytest.mark.parametrize("phone", PHONES)
def test_the_appointment_import_agrees_with_the_phone_rule(phone: str) -> None:
    from zoneinfo import ZoneInfo

    from clinic.appointments import _parse_row

    row = {
        "ref": "a1",
        "first_name": "Ana",
        "last_name": "Test",
        "date_of_birth": "1980-01-01",
        "starts_at": "2026-03-01T09:30",
        "clinician": "Dr. One",
        "phone": phone,
    }
    errors, _values = _parse_row(row, ZoneInfo("UTC"))
    assert (not [e for e in errors if e.column == "phone"]) is rules.is_phone(phone)
