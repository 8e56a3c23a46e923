"""The timed alert rules' minutes an admin edits on the dashboard: validation, storage, audit.

Runs on SQLite and PostgreSQL (tests/clinic/conftest.py). A second app on the same database
stands for another server process: it must use what the first one saved.
"""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import csrf_of, login, make_settings, new_kiosk, new_user
from sqlalchemy import select

from clinic import alert_settings, alerting
from clinic.alert_settings import AlertMinutes
from clinic.app import create_app
from clinic.models import AlertKind, AuditEvent, ClinicConfig, Question, StaffRole

PATH = "/dashboard/admin/alert-minutes"
GOOD = {"question_unanswered": "5", "patient_waiting": "30", "kiosk_silent": "3"}


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("kiosk_silent", "", "Kiosk silent: no value; enter 0 to turn the alert off"),
        ("kiosk_silent", "2", "Kiosk silent: 2 minutes is too short; enter 0 to turn the"),
        ("kiosk_silent", "1", "whole minutes from 3 to 600"),
        ("patient_waiting", "601", "Patient waiting: 601 minutes is too long"),
        ("patient_waiting", "9" * 5000, "Patient waiting: 999999999999 minutes is too long"),
        ("question_unanswered", "-5", "Question unanswered: '-5' is not a whole number"),
        ("question_unanswered", "1.5", "Question unanswered: '1.5' is not a whole number"),
        ("question_unanswered", "ten", "'ten' is not a whole number; enter 0"),
        ("question_unanswered", "٣", "is not a whole number"),  # an Arabic-Indic digit
    ],
)
def test_each_bad_value_gets_a_precise_message(field: str, raw: str, expected: str) -> None:
    minutes, errors = alert_settings.parse({**GOOD, field: raw})
    assert minutes is None
    assert list(errors) == [field]
    assert expected in errors[field]


def test_zero_turns_a_rule_off_and_bounds_are_accepted() -> None:
    minutes, errors = alert_settings.parse(
        {"question_unanswered": " 0 ", "patient_waiting": "600", "kiosk_silent": "3"}
    )
    assert errors == {}
    assert minutes == AlertMinutes(question_unanswered=0, patient_waiting=600, kiosk_silent=3)


def _admin_client(app: FastAPI, client: TestClient) -> str:
    login(client, new_user(app, StaffRole.ADMIN, username="alert-admin"))
    return csrf_of(client)


def _stored(app: FastAPI) -> tuple[int | None, int | None, int | None]:
    with app.state.db.reader() as session:
        config = session.get(ClinicConfig, 1)
        assert config is not None
        return (
            config.alert_question_unanswered_minutes,
            config.alert_patient_waiting_minutes,
            config.alert_kiosk_silent_minutes,
        )


def test_invalid_form_is_refused_with_messages_and_nothing_stored(
    app: FastAPI, client: TestClient
) -> None:
    csrf = _admin_client(app, client)
    response = client.post(
        PATH,
        data={**GOOD, "kiosk_silent": "2", "patient_waiting": "", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "Kiosk silent: 2 minutes is too short" in page
    assert "Patient waiting: no value" in page
    assert 'id="alert-kiosk-silent" name="kiosk_silent"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="2"' in page  # the admin's input is kept to correct
    assert _stored(app) == (None, None, None)


def test_without_csrf_token_nothing_is_stored(app: FastAPI, client: TestClient) -> None:
    _admin_client(app, client)
    response = client.post(PATH, data=GOOD, follow_redirects=False)
    assert response.status_code == 403
    assert _stored(app) == (None, None, None)


def test_staff_who_are_not_admins_cannot_change_them(app: FastAPI, client: TestClient) -> None:
    login(client, new_user(app, StaffRole.STAFF))
    response = client.post(
        PATH, data={**GOOD, "csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert response.status_code == 403
    assert _stored(app) == (None, None, None)


def test_saved_minutes_are_audited_and_used_by_another_process(
    app: FastAPI, client: TestClient, database_url: str
) -> None:
    # The server's settings say 15 minutes; the admin makes it 5.
    assert app.state.settings.alert_question_unanswered_minutes == 15
    csrf = _admin_client(app, client)
    response = client.post(PATH, data={**GOOD, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/admin?ok=alert-minutes"
    assert _stored(app) == (5, 30, 3)
    page = html.unescape(client.get("/dashboard/admin").text)
    assert 'id="alert-question-unanswered" name="question_unanswered"' in page
    assert "server setting: 15" in page

    with app.state.db.reader() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "settings.alert_minutes")
        ).one()
    assert event.actor == "alert-admin"
    assert event.details is not None
    assert event.details["question_unanswered_minutes"] == 5
    assert event.details["before"]["question_unanswered_minutes"] == 15

    # Another process (its own app and connections, the same database and settings).
    other = create_app(make_settings(database_url, alert_check_seconds=0))
    try:
        kiosk_id, _token = new_kiosk(other, "Lobby")
        now = datetime.now(UTC)
        with other.state.db.writer.begin() as session:
            session.add(
                Question(
                    id=uuid.uuid4(),
                    kiosk_id=kiosk_id,
                    text="Where is the pharmacy?",
                    language="en",
                    asked_at=now - timedelta(minutes=6),
                    received_at=now - timedelta(minutes=6),
                    done=False,
                )
            )
        with other.state.db.writer.begin() as session:
            raised = alerting.run_checks(session=session, settings=other.state.settings, now=now)
        assert [(a.kind, a.details["minutes"]) for a in raised if a.details] == [
            (AlertKind.QUESTION_UNANSWERED, 5)
        ]

        # Back to the server's settings: 15 minutes again, nothing stored.
        response = client.post(
            PATH, data={"use_server_settings": "1", "csrf_token": csrf}, follow_redirects=False
        )
        assert response.headers["location"] == "/dashboard/admin?ok=alert-minutes-reset"
        assert _stored(app) == (None, None, None)
        with other.state.db.reader() as session:
            rules = alert_settings.effective(session=session, settings=other.state.settings)
        assert rules == alert_settings.from_settings(other.state.settings)
    finally:
        other.state.db.dispose()
