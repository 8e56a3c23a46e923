"""Staff actions on the arrivals list reach the appointment, the queue and the patient's
page (SQLite and PostgreSQL, through the real forms' routes)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import (
    bearer,
    csrf_of,
    login,
    new_kiosk,
    new_user,
    now_iso,
    rating_record,
    record,
)
from sqlalchemy import select

from clinic.models import Alert, Appointment, AppointmentStatus, Arrival, AuditEvent
from sync.protocol import INGEST_PATH, PULL_PATH, new_follow_up_token


def test_called_in_seen_no_show_and_back_to_waiting(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    with app.state.db.writer.begin() as session:
        session.add(
            Appointment(
                ref="ACT-1",
                first_name="Act",
                last_name="Ion",
                date_of_birth=date(1975, 5, 5),
                starts_at=datetime.now(UTC) + timedelta(minutes=5),
                clinician="Dr. Test",
            )
        )
    follow_up = new_follow_up_token()
    check_in = record(
        "check_in",
        {
            "appointment_ref": "ACT-1",
            "checked_in_at": now_iso(),
            "queue_number": "A050",
            "follow_up_token": follow_up,
            "language": "en",
        },
    )
    client.post(INGEST_PATH, json={"records": [check_in]}, headers=bearer(token))
    login(client, new_user(app))
    csrf = csrf_of(client)
    path = f"/dashboard/arrivals/{check_in['id']}/status"

    def set_status(value: str) -> int:
        data = {"status": value, "csrf_token": csrf}
        return client.post(path, data=data, follow_redirects=False).status_code

    def state() -> tuple[str, str, bool, bool, int]:
        with app.state.db.reader() as session:
            arrival = session.get(Arrival, uuid.UUID(check_in["id"]))
            appointment = session.get(Appointment, arrival.appointment_id)
            waiting = client.get(PULL_PATH, headers=bearer(token)).json()["queue"]["waiting"]
            return (
                arrival.status,
                appointment.status,
                arrival.called_at is not None,
                arrival.seen_at is not None,
                waiting,
            )

    assert state() == ("waiting", AppointmentStatus.ARRIVED, False, False, 1)
    page = client.get(f"/f/{follow_up}").text
    assert "Please wait, we will call you." in page and 'id="queue-place"' in page
    for value, expected, shown in (
        ("called_in", ("called_in", "called_in", True, False, 0), "It is your turn"),
        ("seen", ("seen", "seen", True, True, 0), "Your visit is complete"),
        ("no_show", ("no_show", "no_show", True, True, 0), "could not find you"),
        ("waiting", ("waiting", "arrived", False, False, 1), "Please wait"),
    ):
        assert set_status(value) == 303, value
        assert state() == expected, value
        assert shown in client.get(f"/f/{follow_up}").text, value
    assert set_status("teleported") == 422
    assert state()[0] == "waiting"
    with app.state.db.reader() as session:
        audited = session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "arrival.status")
        ).all()
    assert [d["status"] for d in audited] == ["called_in", "seen", "no_show", "waiting"]


def test_staff_actions_are_in_the_audit_log_without_patient_text(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    question = record(
        "question",
        {
            "text": "Secret question text",
            "asked_at": now_iso(),
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )
    rating = rating_record(face=1)
    client.post(INGEST_PATH, json={"records": [question, rating]}, headers=bearer(token))
    with app.state.db.writer.begin() as session:
        alert = Alert(details={})
        session.add(alert)
        session.flush()
        alert_id = alert.id
    user = new_user(app)
    login(client, user)
    csrf = csrf_of(client)
    for path, data in (
        (f"/dashboard/questions/{question['id']}/answer", {"answer": "Secret answer text"}),
        (f"/dashboard/questions/{question['id']}/done", {}),
        (f"/dashboard/feedback/{rating['id']}/review", {"state": "closed", "note": "Secret note"}),
        (f"/dashboard/alerts/{alert_id}/acknowledge", {}),
        (f"/dashboard/alerts/{alert_id}/acknowledge", {}),  # again: nothing happens, no row
    ):
        posted = client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)
        assert posted.status_code == 303, (path, posted.text)
    with app.state.db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.actor == user).order_by(AuditEvent.id)
        ).all()
    actions = [(e.action, e.target) for e in events if e.action != "login"]
    assert actions == [
        ("question.answer", f"question:{question['id']}"),
        ("question.done", f"question:{question['id']}"),
        ("feedback.review", f"rating:{rating['id']}"),
        ("alert.acknowledge", f"alert:{alert_id}"),
    ]
    assert "Secret" not in repr([(e.target, e.details) for e in events])
