"""Ingest: idempotency by UUID, conflicts, per-record validation, limits, amendments."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, make_settings, new_kiosk, now_iso, rating_record, record
from sqlalchemy import func, select

from clinic.models import (
    Appointment,
    AppointmentStatus,
    Arrival,
    FollowUpToken,
    Rating,
    ReceivedRecord,
)
from clinic.security import hash_token
from sync.protocol import INGEST_PATH, MAX_BATCH_RECORDS, new_follow_up_token


def _count(app: FastAPI, model: type, *where: object) -> int:
    with app.state.db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_same_record_twice_is_stored_once_and_acknowledged_both_times(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    rec = rating_record(face=2)
    first = client.post(INGEST_PATH, json={"records": [rec]}, headers=bearer(token))
    second = client.post(INGEST_PATH, json={"records": [rec]}, headers=bearer(token))
    assert first.status_code == second.status_code == 200
    assert first.json()["results"][0] == {
        "id": rec["id"],
        "outcome": "stored",
        "status": 201,
        "detail": None,
    }
    assert second.json()["results"][0]["outcome"] == "duplicate"
    assert second.json()["results"][0]["status"] == 200
    assert _count(app, ReceivedRecord) == 1
    assert _count(app, Rating) == 1
    assert (
        _count(
            app,
            FollowUpToken,
            FollowUpToken.token_hash == hash_token(rec["body"]["follow_up_token"]),
        )
        == 1
    )


def test_same_id_with_another_body_is_a_conflict_and_keeps_the_first(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    rec = rating_record(face=5)
    client.post(INGEST_PATH, json={"records": [rec]}, headers=bearer(token))
    changed = {**rec, "body": {**rec["body"], "face": 1}}
    response = client.post(INGEST_PATH, json={"records": [changed]}, headers=bearer(token))
    result = response.json()["results"][0]
    assert (result["outcome"], result["status"]) == ("conflict", 409)
    assert result["detail"]
    with app.state.db.reader() as session:
        assert session.get(Rating, uuid.UUID(rec["id"])).face == 5


def test_repeated_id_inside_one_batch(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    rec = rating_record()
    changed = {**rec, "body": {**rec["body"], "face": 1}}
    results = client.post(
        INGEST_PATH, json={"records": [rec, rec, changed]}, headers=bearer(token)
    ).json()["results"]
    assert [r["outcome"] for r in results] == ["stored", "duplicate", "conflict"]
    assert _count(app, Rating) == 1


def test_invalid_record_is_refused_alone_and_good_ones_are_kept(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    good = rating_record()
    bad_value = rating_record(face=9)
    unknown_field = rating_record(mood="sunny")
    unknown_kind = record("selfie", {"x": 1})
    response = client.post(
        INGEST_PATH,
        json={"records": [good, bad_value, unknown_field, unknown_kind]},
        headers=bearer(token),
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["stored", "invalid", "invalid", "invalid"]
    assert [r["status"] for r in results] == [201, 422, 422, 422]
    assert "face" in results[1]["detail"]
    assert "mood" in results[2]["detail"]
    assert "selfie" in results[3]["detail"]
    assert _count(app, ReceivedRecord) == 1


def test_unknown_fields_in_the_envelope_are_422(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    rec = rating_record()
    for payload in (
        {"records": [rec], "extra": True},
        {"records": [{**rec, "priority": 1}]},
        {"records": []},
    ):
        response = client.post(INGEST_PATH, json=payload, headers=bearer(token))
        assert response.status_code == 422, payload
    assert _count(app, ReceivedRecord) == 0


def test_oversized_body_is_413_before_parsing(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    huge = b'{"records": [' + b" " * (3 * 1024 * 1024) + b"]}"
    response = client.post(
        INGEST_PATH,
        content=huge,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_batch_over_the_record_limit_is_413(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    records = [rating_record() for _ in range(MAX_BATCH_RECORDS + 1)]
    response = client.post(INGEST_PATH, json={"records": records}, headers=bearer(token))
    assert response.status_code == 413
    assert _count(app, ReceivedRecord) == 0


def test_too_many_requests_is_429_with_retry_after(database_url: str) -> None:
    from clinic.app import create_app

    app = create_app(make_settings(database_url, kiosk_requests_per_minute=2, kiosk_burst=2))
    try:
        with TestClient(app) as client:
            _, token = new_kiosk(app)
            statuses = [
                client.post(INGEST_PATH, json={"records": [rating_record()]}, headers=bearer(token))
                for _ in range(3)
            ]
            assert [r.status_code for r in statuses] == [200, 200, 429]
            assert int(statuses[2].headers["Retry-After"]) >= 1
            # Another kiosk has its own allowance.
            _, other = new_kiosk(app, "other")
            ok = client.post(
                INGEST_PATH, json={"records": [rating_record()]}, headers=bearer(other)
            )
            assert ok.status_code == 200
    finally:
        app.state.db.dispose()


def test_rating_detail_before_its_rating_is_kept_and_merged(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    rating_id = uuid.uuid4()
    detail = record(
        "rating_detail",
        {
            "rating_id": str(rating_id),
            "waiting_time": 1,
            "would_recommend": 3,
            "comment": "Long wait",
            "consent_to_contact": True,
            "contact_phone": "555 0101",
        },
    )
    first = client.post(INGEST_PATH, json={"records": [detail]}, headers=bearer(token))
    assert first.json()["results"][0]["outcome"] == "stored"
    assert _count(app, Rating) == 0
    rating = rating_record(rating_id, face=1)
    client.post(INGEST_PATH, json={"records": [rating]}, headers=bearer(token))
    with app.state.db.reader() as session:
        row = session.get(Rating, rating_id)
        assert row is not None
        assert (row.face, row.waiting_time, row.would_recommend) == (1, 1, 3)
        assert row.comment == "Long wait" and row.consent_to_contact is True
        stored_detail = session.get(ReceivedRecord, uuid.UUID(detail["id"]))
        assert stored_detail.applied_at is not None


def test_rating_detail_after_its_rating_in_the_same_batch(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    rating = rating_record(face=3)
    detail = record("rating_detail", {"rating_id": rating["id"], "politeness": 5})
    client.post(INGEST_PATH, json={"records": [detail, rating]}, headers=bearer(token))
    with app.state.db.reader() as session:
        assert session.get(Rating, uuid.UUID(rating["id"])).politeness == 5


def _appointment(app: FastAPI, ref: str) -> None:
    with app.state.db.writer.begin() as session:
        session.add(
            Appointment(
                ref=ref,
                first_name="Test",
                last_name="Patient",
                date_of_birth=date(1980, 1, 2),
                starts_at=datetime.now(UTC) + timedelta(minutes=5),
                clinician="Dr. Test",
            )
        )


def test_check_in_marks_the_appointment_arrived_and_contact_update_applies(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    _appointment(app, "appt-1")
    check_in_id = uuid.uuid4()
    # The contact update overtakes its check-in (it must not be lost).
    update = record("contact_update", {"check_in_id": str(check_in_id), "phone": "555 0199"})
    check_in = record(
        "check_in",
        {
            "appointment_ref": "appt-1",
            "checked_in_at": now_iso(),
            "queue_number": "A007",
            "follow_up_token": new_follow_up_token(),
            "language": "es",
        },
        check_in_id,
    )
    for batch in ([update], [check_in]):
        response = client.post(INGEST_PATH, json={"records": batch}, headers=bearer(token))
        assert response.json()["results"][0]["outcome"] == "stored"
    with app.state.db.reader() as session:
        appointment = session.scalars(select(Appointment).where(Appointment.ref == "appt-1")).one()
        assert appointment.status == AppointmentStatus.ARRIVED
        assert appointment.arrived_at is not None
        arrival = session.get(Arrival, check_in_id)
        assert arrival.appointment_id == appointment.id
        assert (arrival.queue_number, arrival.language, arrival.phone) == ("A007", "es", "555 0199")


def test_walk_in_and_question_land_in_their_tables(app: FastAPI, client: TestClient) -> None:
    from clinic.models import Question

    _, token = new_kiosk(app)
    walk_in = record(
        "walk_in",
        {
            "first_name": "Walk",
            "last_name": "In",
            "date_of_birth": "1999-09-09",
            "reason": "Cough",
            "arrived_at": now_iso(),
            "queue_number": "W001",
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )
    question = record(
        "question",
        {
            "text": "Where is the pharmacy?",
            "emergency_flag": True,
            "asked_at": now_iso(),
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )
    results = client.post(
        INGEST_PATH, json={"records": [walk_in, question]}, headers=bearer(token)
    ).json()["results"]
    assert [r["outcome"] for r in results] == ["stored", "stored"]
    with app.state.db.reader() as session:
        arrival = session.get(Arrival, uuid.UUID(walk_in["id"]))
        assert arrival.walk_in and arrival.reason == "Cough"
        asked = session.get(Question, uuid.UUID(question["id"]))
        assert asked.emergency and asked.answer is None


def test_reused_follow_up_token_keeps_its_first_target_and_reveals_nothing(
    app: FastAPI, client: TestClient
) -> None:
    # Refusing the record would tell the sender that the token exists: the record is stored,
    # and the token keeps pointing at the record that first brought it.
    _, token = new_kiosk(app)
    first = rating_record()
    reuse = rating_record(follow_up_token=first["body"]["follow_up_token"])
    good = rating_record()
    client.post(INGEST_PATH, json={"records": [first]}, headers=bearer(token))
    results = client.post(
        INGEST_PATH, json={"records": [reuse, good]}, headers=bearer(token)
    ).json()["results"]
    assert [r["outcome"] for r in results] == ["stored", "stored"]
    assert _count(app, Rating) == 3
    with app.state.db.reader() as session:
        row = session.get(FollowUpToken, hash_token(first["body"]["follow_up_token"]))
        assert row is not None and row.target_id == uuid.UUID(first["id"])


def test_nul_characters_are_refused_per_record(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    question = record(
        "question",
        {
            "text": "bad\x00byte",
            "asked_at": now_iso(),
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )
    good = rating_record()
    results = client.post(
        INGEST_PATH, json={"records": [question, good]}, headers=bearer(token)
    ).json()["results"]
    assert [(r["outcome"], r["status"]) for r in results] == [("invalid", 422), ("stored", 201)]
    heartbeat = client.post(
        "/api/kiosk/v1/heartbeat",
        json={"app_version": "1\x00", "backlog": 2**40, "failed": 0},
        headers=bearer(token),
    )
    assert heartbeat.status_code == 422
    assert heartbeat.json()["detail"][0]["loc"] == ["body", "app_version"]


def _check_in(ref: str, record_id: uuid.UUID, queue_number: str) -> dict[str, object]:
    return record(
        "check_in",
        {
            "appointment_ref": ref,
            "checked_in_at": now_iso(),
            "queue_number": queue_number,
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
        record_id,
    )


def test_contact_update_for_a_merged_second_check_in_reaches_the_first_arrival(
    app: FastAPI, client: TestClient
) -> None:
    _, token_a = new_kiosk(app, "kiosk-a")
    _, token_b = new_kiosk(app, "kiosk-b")
    _appointment(app, "appt-2")
    first_id, second_id, third_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def send(token: str, *records: dict[str, object]) -> list[str]:
        response = client.post(INGEST_PATH, json={"records": list(records)}, headers=bearer(token))
        assert response.status_code == 200, response.text
        return [r["outcome"] for r in response.json()["results"]]

    def stored_phone_email() -> tuple[object, object]:
        with app.state.db.reader() as session:
            assert session.get(Arrival, second_id) is None
            assert session.get(Arrival, third_id) is None
            arrival = session.get(Arrival, first_id)
            return arrival.phone, arrival.email

    def pending() -> int:
        return _count(app, ReceivedRecord, ReceivedRecord.applied_at.is_(None))

    assert send(token_a, _check_in("appt-2", first_id, "A001")) == ["stored"]
    # Kiosk B checks the same patient in again (merged), then sends a contact update for it.
    assert send(token_b, _check_in("appt-2", second_id, "B001")) == ["stored"]
    update = record("contact_update", {"check_in_id": str(second_id), "phone": "555 0101"})
    assert send(token_b, update) == ["stored"]
    assert stored_phone_email() == ("555 0101", None)
    assert pending() == 0
    # A contact update that overtakes its merged check-in waits, then reaches the first arrival.
    early = record("contact_update", {"check_in_id": str(third_id), "email": "t@example.org"})
    assert send(token_b, early) == ["stored"]
    assert pending() == 1
    assert send(token_b, _check_in("appt-2", third_id, "B002")) == ["stored"]
    assert stored_phone_email() == ("555 0101", "t@example.org")
    assert pending() == 0
    # Merged check-in and its update in one batch.
    fourth_id = uuid.uuid4()
    same_batch = record("contact_update", {"check_in_id": str(fourth_id), "phone": "555 0202"})
    assert send(token_a, _check_in("appt-2", fourth_id, "A002"), same_batch) == ["stored"] * 2
    assert stored_phone_email() == ("555 0202", "t@example.org")
    assert pending() == 0
    assert _count(app, Arrival) == 1
