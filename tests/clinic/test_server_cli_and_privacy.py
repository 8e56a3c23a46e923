"""The admin command line (in-process) and what the patient's follow-up page may show."""

from __future__ import annotations

import io
import sys
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, login, new_kiosk, now_iso, rating_record, record
from sqlalchemy import select

from clinic import cli
from clinic.models import Appointment, AuditEvent
from sync.protocol import INGEST_PATH, PULL_PATH, new_follow_up_token


def test_cli_creates_the_first_admin_and_revokes_a_kiosk(
    app: FastAPI,
    client: TestClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CLINIC_DATABASE_URL", database_url)
    monkeypatch.setenv("CLINIC_ENVIRONMENT", "test")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["create-admin", "first-admin", "--password-stdin"]) == 0
    assert login(client, "first-admin", "a long enough password").status_code == 303
    assert client.get("/dashboard/admin").status_code == 200  # an admin indeed

    _, token = new_kiosk(app, "front-desk")
    assert client.get(PULL_PATH, headers=bearer(token)).status_code == 200
    assert cli.main(["revoke-kiosk", "front-desk"]) == 0
    assert client.get(PULL_PATH, headers=bearer(token)).status_code == 403
    capsys.readouterr()
    assert cli.main(["list-kiosks"]) == 0
    assert "front-desk" in capsys.readouterr().out.split("revoked")[0]
    assert cli.main(["revoke-kiosk", "no-such-kiosk"]) != 0
    with app.state.db.reader() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "cli")))
    assert actions == {"user.create", "kiosk.revoke"}


def test_follow_up_pages_show_nothing_identifying_beyond_this_visit(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    with app.state.db.writer.begin() as session:
        session.add(
            Appointment(
                ref="REF-PRIV-77",
                first_name="Priscilla",
                last_name="Privatova",
                date_of_birth=date(1971, 3, 14),
                phone="+1 555 014 1592",
                starts_at=datetime.now(UTC) + timedelta(minutes=5),
                clinician="Dr. Confidential",
            )
        )
    check_in_token, walk_in_token = new_follow_up_token(), new_follow_up_token()
    question_token = new_follow_up_token()
    rating = rating_record(face=2, appointment_ref="REF-PRIV-77")
    check_in_id = uuid.uuid4()
    records = [
        record(
            "check_in",
            {
                "appointment_ref": "REF-PRIV-77",
                "checked_in_at": now_iso(),
                "queue_number": "A031",
                "follow_up_token": check_in_token,
                "language": "es",
            },
            check_in_id,
        ),
        record("contact_update", {"check_in_id": str(check_in_id), "email": "pp@example.org"}),
        record(
            "walk_in",
            {
                "first_name": "Wilhelmina",
                "last_name": "Walkinska",
                "date_of_birth": "1966-06-06",
                "reason": "Wrist pain",
                "phone": "+1 555 026 5358",
                "arrived_at": now_iso(),
                "queue_number": "W031",
                "follow_up_token": walk_in_token,
                "language": "en",
            },
        ),
        record(
            "question",
            {
                "text": "Is the pharmacy open?",
                "contact_name": "Quentin Questor",
                "contact_phone": "+1 555 097 9323",
                "contact_email": "qq@example.org",
                "asked_at": now_iso(),
                "follow_up_token": question_token,
                "language": "en",
            },
        ),
        rating,
        record(
            "rating_detail",
            {
                "rating_id": rating["id"],
                "comment": "Long wait",
                "consent_to_contact": True,
                "contact_phone": "+1 555 033 8327",
            },
        ),
    ]
    stored = client.post(INGEST_PATH, json={"records": records}, headers=bearer(token))
    assert [r["outcome"] for r in stored.json()["results"]] == ["stored"] * 6
    never = [
        "Priscilla", "Privatova", "1971", "014 1592", "Confidential", "REF-PRIV-77",
        "pp@example.org", "Wilhelmina", "Walkinska", "1966", "026 5358", "Wrist pain",
        "Quentin", "097 9323", "qq@example.org", "033 8327", "Long wait",
    ]  # fmt: skip
    pages = {
        check_in_token: ("A031", "es"),
        walk_in_token: ("W031", "en"),
        question_token: ("Is the pharmacy open?", "en"),
        rating["body"]["follow_up_token"]: ('name="would_recommend"', "en"),
    }
    for follow_up, (shown, lang) in pages.items():
        page = client.get(f"/f/{follow_up}", headers={"Accept-Language": "de"})
        assert page.status_code == 200
        assert shown in page.text and f'<html lang="{lang}" ' in page.text
        assert [word for word in never if word in page.text] == []
