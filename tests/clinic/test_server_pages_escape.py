"""Everything a patient (or a kiosk) wrote is shown as text on every page that shows it.

Each field carries markup naming itself; every page must show it escaped and never as a
tag. Runs on SQLite and PostgreSQL with the records sent through the kiosk API.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import (
    bearer,
    csrf_of,
    login,
    new_user,
    now_iso,
    rating_record,
    record,
)
from sqlalchemy import select

from clinic.kiosks import create_pairing_code
from clinic.models import Question, Rating, StaffRole
from sync.protocol import HEARTBEAT_PATH, INGEST_PATH, PAIR_PATH, new_follow_up_token


def _mark(field: str) -> str:
    return f"<i>{field}</i>"


def _escaped(field: str) -> str:
    return f"&lt;i&gt;{field}&lt;/i&gt;"


def test_patient_and_kiosk_text_is_escaped_on_every_page(app: FastAPI, client: TestClient) -> None:
    with app.state.db.writer.begin() as session:
        code, _ = create_pairing_code(session=session, settings=app.state.settings)
    paired = client.post(
        PAIR_PATH, json={"code": code, "kiosk_name": _mark("kiosk"), "app_version": "1"}
    )
    assert paired.status_code == 201
    token = paired.json()["token"]
    beat = client.post(
        HEARTBEAT_PATH,
        json={"app_version": "1", "backlog": 0, "failed": 1, "last_error": _mark("error")},
        headers=bearer(token),
    )
    assert beat.status_code == 200
    question_token, rating_token = new_follow_up_token(), new_follow_up_token()
    rating = rating_record(face=2, follow_up_token=rating_token)
    records = [
        record(
            "walk_in",
            {
                "first_name": _mark("first"),
                "last_name": _mark("last"),
                "date_of_birth": "1990-01-01",
                "reason": _mark("reason"),
                "arrived_at": now_iso(),
                "queue_number": "<i>Q</i>",
                "follow_up_token": new_follow_up_token(),
                "language": "en",
            },
            uuid.uuid4(),
        ),
        record(
            "question",
            {
                "text": _mark("question"),
                "contact_name": _mark("contact"),
                "asked_at": now_iso(),
                "follow_up_token": question_token,
                "language": "en",
            },
        ),
        rating,
        record("rating_detail", {"rating_id": rating["id"], "comment": _mark("comment")}),
    ]
    stored = client.post(INGEST_PATH, json={"records": records}, headers=bearer(token))
    assert [r["outcome"] for r in stored.json()["results"]] == ["stored"] * 4
    survey = client.post(
        f"/f/{rating_token}",
        data={"form": "survey", "overall": "2", "comment": _mark("survey")},
        follow_redirects=False,
    )
    assert survey.status_code == 303

    login(client, new_user(app, StaffRole.STAFF))
    csrf = csrf_of(client)
    with app.state.db.reader() as session:
        question_id = session.scalars(select(Question.id)).one()
        rating_id = session.scalars(select(Rating.id)).one()
    for path, data in (
        (f"/dashboard/questions/{question_id}/answer", {"answer": _mark("answer")}),
        (
            f"/dashboard/feedback/{rating_id}/review",
            {"state": "acknowledged", "note": _mark("note")},
        ),
    ):
        posted = client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)
        assert posted.status_code == 303, (path, posted.text)

    expected = {
        "/dashboard/arrivals": ("first", "last", "reason", "Q"),
        "/dashboard/questions": ("question", "contact", "answer"),
        "/dashboard/feedback": ("comment", "survey", "note", "kiosk"),
        "/dashboard/kiosks": ("kiosk", "error"),
        f"/f/{question_token}": ("question", "answer"),
    }
    for path, fields in expected.items():
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<i>" not in page.text, path
        missing = [f for f in fields if _escaped(f) not in page.text]
        assert missing == [], (path, missing)
