"""The feedback CSV export: one column per rating dimension (sync.rules), values in place."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, login, new_kiosk, new_user, rating_record, record

from clinic.models import StaffRole
from sync.protocol import INGEST_PATH
from sync.rules import RATING_DIMENSIONS, RECOMMEND_DIMENSION


def test_feedback_export_has_every_dimension_with_its_answer(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app, "Lobby")
    rating_id = uuid.uuid4()
    # Distinct answers per dimension, so a column put in the wrong place shows.
    answers = {name: 1 + i for i, name in enumerate(RATING_DIMENSIONS)}
    detail = record(
        "rating_detail",
        {"rating_id": str(rating_id), **answers, RECOMMEND_DIMENSION: 9, "comment": "Kind staff"},
    )
    sent = client.post(
        INGEST_PATH,
        json={"records": [rating_record(rating_id, face=2), detail]},
        headers=bearer(token),
    )
    assert [r["outcome"] for r in sent.json()["results"]] == ["stored", "stored"]

    login(client, new_user(app, StaffRole.ADMIN))
    day = datetime.now(UTC).date()  # a three-day range holds it in any clinic time zone
    response = client.get(
        "/dashboard/admin/export/feedback.csv",
        params={"date_from": str(day - timedelta(days=1)), "date_to": str(day + timedelta(days=1))},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    row = rows[0]
    assert [row[name] for name in RATING_DIMENSIONS] == [str(v) for v in answers.values()]
    assert (row["face"], row[RECOMMEND_DIMENSION], row["comment"]) == ("2", "9", "Kind staff")
    assert row["kiosk"] == "Lobby"
