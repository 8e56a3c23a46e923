"""No patient data and no follow-up token reaches a log line or a database error message.

Every logger is switched to DEBUG (SQLAlchemy to INFO: its statement echo) while synthetic
patient data goes through ingest (including the collision path that logs), the follow-up
page, the dashboard and an export.
"""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, login, new_kiosk, new_user, now_iso, rating_record, record

from clinic.deps import SessionDep
from clinic.models import StaffRole
from sync.protocol import INGEST_PATH, new_follow_up_token

SECRETS = {
    "first_name": "Zyxwalker",
    "last_name": "Qwertyson",
    "reason": "Plumbago rash",
    "phone": "+1 555 017 7331",
    "question": "Quokka parking question",
    "comment": "Marmalade comment",
}


def test_nothing_patient_written_reaches_the_logs(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy sets itself to WARNING; INFO is its statement echo (with bound values unless
    # hidden). Its DEBUG level prints result rows by design and is never for production.
    caplog.set_level(logging.INFO, logger="sqlalchemy")
    _, token = new_kiosk(app)
    walk_in_token, question_token = new_follow_up_token(), new_follow_up_token()
    rating = rating_record(face=1)
    rating_token = rating["body"]["follow_up_token"]
    walk_in_id = uuid.uuid4()
    batch = [
        record(
            "walk_in",
            {
                "first_name": SECRETS["first_name"],
                "last_name": SECRETS["last_name"],
                "date_of_birth": "1991-07-13",
                "reason": SECRETS["reason"],
                "phone": SECRETS["phone"],
                "arrived_at": now_iso(),
                "queue_number": "W09",
                "follow_up_token": walk_in_token,
                "language": "en",
            },
            walk_in_id,
        ),
        record(
            "question",
            {
                "text": SECRETS["question"],
                "asked_at": now_iso(),
                "follow_up_token": question_token,
                "language": "en",
            },
        ),
        rating,
        record(
            "rating_detail",
            {"rating_id": rating["id"], "comment": SECRETS["comment"], "overall": 1},
        ),
    ]
    response = client.post(INGEST_PATH, json={"records": batch}, headers=bearer(token))
    assert [r["outcome"] for r in response.json()["results"]] == ["stored"] * 4
    # A reused follow-up token takes the path where the database refuses part of a record
    # (stored without the token, which keeps its first target).
    reuse = rating_record(follow_up_token=walk_in_token)
    response = client.post(INGEST_PATH, json={"records": [reuse]}, headers=bearer(token))
    assert response.json()["results"][0]["outcome"] == "stored"
    for follow_up in (walk_in_token, question_token, rating_token):
        assert client.get(f"/f/{follow_up}").status_code == 200
    survey = client.post(
        f"/f/{rating_token}",
        data={"form": "callback", "phone": SECRETS["phone"]},
        follow_redirects=False,
    )
    assert survey.status_code == 303
    login(client, new_user(app, StaffRole.ADMIN))
    for page in ("arrivals", "questions", "feedback", "admin/export/feedback.csv"):
        shown = client.get(f"/dashboard/{page}")
        assert shown.status_code == 200
    assert SECRETS["last_name"] in client.get("/dashboard/arrivals").text  # it was there to leak

    # A database error in a route, its message quoting patient values (PostgreSQL does).
    @app.get("/test/db-error/{token}")
    def failing(token: str, session: SessionDep) -> None:
        session.execute(
            sa.text("INSERT INTO arrivals (id, first_name) VALUES (:id, :name)"),
            {"id": str(walk_in_id), "name": SECRETS["first_name"]},
        )

    with TestClient(app, raise_server_exceptions=False) as plain:
        failed = plain.get(f"/test/db-error/{walk_in_token}")
    assert failed.status_code == 500 and SECRETS["first_name"] not in failed.text
    assert any("database error in GET /test/db-error/{token}" in m for m in caplog.messages)

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # logging was on
    # The test's own HTTP client logs its URLs (httpx): client side, not the server's.
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    formatter = logging.Formatter()
    text = "\n".join(formatter.format(r) for r in server)  # tracebacks included
    leaked = [
        s for s in (*SECRETS.values(), walk_in_token, question_token, rating_token) if s in text
    ]
    assert leaked == []
