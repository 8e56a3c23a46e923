"""The pull's optional wait ranges (old kiosks keep working) and the queue routes over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from server_helpers import bearer, csrf_of, login, new_kiosk, new_user, record
from sqlalchemy import select

from clinic import alerting, waits
from clinic.models import Arrival, AuditEvent
from sync.protocol import INGEST_PATH, PULL_PATH, PULL_WAIT_RANGES_PARAM, new_follow_up_token


class QueueStateOfAnEarlierKiosk(BaseModel):
    """QueueState as kiosks before the wait ranges parse it: unknown fields refused."""

    model_config = ConfigDict(extra="forbid")
    waiting: int
    estimated_wait_minutes: int


def test_the_pull_sends_wait_ranges_only_to_a_kiosk_that_asks(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    plain = client.get(PULL_PATH, headers=bearer(token))
    assert plain.status_code == 200
    QueueStateOfAnEarlierKiosk.model_validate(plain.json()["queue"])
    asked = client.get(f"{PULL_PATH}?{PULL_WAIT_RANGES_PARAM}=true", headers=bearer(token))
    assert asked.status_code == 200
    walk_in = asked.json()["queue"]["walk_in_wait"]
    assert 0 <= walk_in["low"] <= walk_in["high"]
    assert "clinician_lateness" not in asked.json()["queue"]  # no history: left out, not null
    assert asked.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        f"{PULL_PATH}?{PULL_WAIT_RANGES_PARAM}=true",
        headers={**bearer(token), "If-None-Match": asked.headers["ETag"]},
    )
    assert again.status_code == 304


def test_call_next_recall_and_a_refused_transition_over_http(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    number = f"R{uuid.uuid4().hex[:3]}"
    walk_in = record(
        "walk_in",
        {
            "first_name": "Rita",
            "last_name": "Routetest",
            "date_of_birth": "1990-01-01",
            "reason": "Rash",
            # Earlier than anyone else in this database's queue: the next to be called.
            "arrived_at": (datetime.now(UTC) - timedelta(hours=17)).isoformat(),
            "queue_number": number,
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )
    assert (
        client.post(INGEST_PATH, json={"records": [walk_in]}, headers=bearer(token)).status_code
        == 200
    )
    login(client, new_user(app))
    csrf = csrf_of(client)
    called = client.post(
        "/dashboard/queue/call-next",
        data={"queue": "", "room": "  Room   5 ", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert called.status_code == 303 and called.headers["location"].endswith("ok=called")
    arrival_id = uuid.UUID(walk_in["id"])
    with app.state.db.reader() as session:
        arrival = session.get(Arrival, arrival_id)
        assert (arrival.status, arrival.room, arrival.call_count) == ("called_in", "Room 5", 1)
    path = f"/dashboard/arrivals/{arrival_id}/queue"
    recall = client.post(
        path, data={"action": "recall", "csrf_token": csrf}, follow_redirects=False
    )
    assert recall.status_code == 303
    seen = client.post(path, data={"action": "seen", "csrf_token": csrf}, follow_redirects=False)
    assert seen.status_code == 303
    refused = client.post(
        path, data={"action": "recall", "csrf_token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 409
    too_long = client.post(
        "/dashboard/queue/call-next",
        data={"queue": "*", "room": "x" * 41, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert too_long.status_code == 422
    with app.state.db.reader() as session:
        arrival = session.get(Arrival, arrival_id)
        assert (arrival.status, arrival.call_count) == ("seen", 2)
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target == f"arrival:{arrival_id}")
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["arrival.call", "arrival.recall", "arrival.seen"]


def test_the_estimate_score_is_kept_by_the_periodic_job_not_the_page(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    now = datetime.now(UTC)
    walk_ins = [
        record(
            "walk_in",
            {
                "first_name": "Sam",
                "last_name": "Scoretest",
                "date_of_birth": "1985-05-05",
                "reason": "Cough",
                "arrived_at": (now - timedelta(minutes=40 - 10 * i)).isoformat(),
                "queue_number": f"S{i}{uuid.uuid4().hex[:2]}",
                "follow_up_token": new_follow_up_token(),
                "language": "en",
            },
        )
        for i in range(2)
    ]
    ingest = client.post(INGEST_PATH, json={"records": walk_ins}, headers=bearer(token))
    assert ingest.status_code == 200
    login(client, new_user(app))
    csrf = csrf_of(client)
    for _ in walk_ins:
        called = client.post(
            "/dashboard/queue/call-next",
            data={"queue": "", "room": "Room 1", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert called.status_code == 303
    # Called patients to score, but the page only reads what the job kept: nothing yet.
    page = client.get("/dashboard/arrivals")
    assert page.status_code == 200 and 'id="estimate-quality"' not in page.text
    with app.state.db.reader() as session:
        assert waits.stored_accuracy(session).scored == 0
    alerting.check_once(app.state.db, force=True)
    with app.state.db.reader() as session:
        kept = waits.stored_accuracy(session)
    assert kept.scored == 2 and kept.median_abs_error_minutes is not None
    page = client.get("/dashboard/arrivals")
    assert 'id="estimate-quality"' in page.text
    assert "Wait estimates, last 2 patients called" in page.text
