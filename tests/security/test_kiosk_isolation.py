"""Kiosks over HTTP: no record poisons a batch, kiosks are isolated, the wire is strict,
far-off kiosk clocks are flagged and not trusted. SQLite and PostgreSQL, real server process.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from security_helpers import (
    KioskClient,
    engine_of,
    question,
    rating,
    record,
    scalar,
    walk_in,
)
from serverproc import ServerProcess

from clinic.security import hash_token


def _ids(server: ServerProcess, table: str) -> set[str]:
    engine = engine_of(server)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT id FROM {table}")).scalars().all()
    finally:
        engine.dispose()
    return {uuid.UUID(str(value)).hex for value in rows}


def test_kiosk_batch_with_bad_records_stores_every_good_one(
    clinic_server: ServerProcess,
) -> None:
    kiosk = KioskClient(clinic_server, "front")
    good = [rating(), walk_in(), question(), rating(face=1)]
    surrogate = question(text="Where is \ud800 the lift?")
    nul = walk_in(reason="cough\x00")
    future_birth = walk_in(date_of_birth="2999-01-01")
    boolean_face = rating(face=True)
    text_face = rating(face="4")
    numeric_queue = walk_in(queue_number=7)
    naive_time = rating(rated_at="2026-03-01T10:00:00")
    beyond_utc = rating(rated_at="9999-12-31T23:59:59-14:00")
    before_utc = rating()
    before_utc["created_at"] = "0001-01-01T00:00:00+14:00"
    huge = rating(face=10**40)
    unknown_kind = record("teleport", {"to": "mars"})
    not_a_body = record("rating", ["a", "list"])  # type: ignore[arg-type]
    surrogate_key = rating()
    surrogate_key["body"]["\udfff"] = 1
    bad = [
        surrogate,
        nul,
        future_birth,
        boolean_face,
        text_face,
        numeric_queue,
        naive_time,
        beyond_utc,
        before_utc,
        huge,
        unknown_kind,
        not_a_body,
        surrogate_key,
    ]
    batch = [good[0], *bad[:7], good[1], good[2], *bad[7:], good[3]]
    results = kiosk.send(*batch)
    by_id = {r["id"]: r for r in results}
    assert len(results) == len(batch)
    for item in good:
        assert by_id[item["id"]]["status"] == 201, by_id[item["id"]]
    for item in bad:
        answer = by_id[item["id"]]
        assert answer["status"] == 422 and answer["outcome"] == "invalid", answer
        assert answer["detail"]  # a reason the staff corner can show
    stored = _ids(clinic_server, "received_records")
    assert stored == {uuid.UUID(item["id"]).hex for item in good}
    # The same batch again: the good ones are duplicates, the bad ones still refused.
    again = {r["id"]: r for r in kiosk.send(*batch)}
    assert all(again[item["id"]]["outcome"] == "duplicate" for item in good)
    assert all(again[item["id"]]["status"] == 422 for item in bad)
    # Nothing the patients typed, and no traceback, reached the server's log.
    log = (clinic_server.data_dir / "server.log").read_text(errors="replace")
    for typed in ("Quorvalis", "Ysolde", "Persistent cough", "lift", "1979-05-17"):
        assert typed not in log
    assert "Traceback" not in log


def test_kiosk_second_kiosks_amendments_are_refused_and_change_nothing(
    clinic_server: ServerProcess,
) -> None:
    front, back = KioskClient(clinic_server, "front"), KioskClient(clinic_server, "back")
    rated, arrived = rating(face=2), walk_in()
    assert [r["status"] for r in front.send(rated, arrived)] == [201, 201]
    detail = record(
        "rating_detail", {"rating_id": rated["id"], "comment": "Injected by back", "overall": 1}
    )
    contact = record("contact_update", {"check_in_id": arrived["id"], "phone": "+1 555 999 0000"})
    unknown_detail = record("rating_detail", {"rating_id": str(uuid.uuid4()), "overall": 1})
    answers = back.send(detail, contact, unknown_detail)
    # Exactly what an amendment of an id nobody knows gets: nothing to tell them apart.
    shape = [{k: v for k, v in a.items() if k != "id"} for a in answers]
    assert shape[0] == shape[1] == shape[2], shape
    assert scalar(clinic_server, "SELECT comment FROM ratings") is None
    assert scalar(clinic_server, "SELECT overall FROM ratings") is None
    assert scalar(clinic_server, "SELECT phone FROM arrivals") == "+1 555 010 7788"
    # The kiosk that sent them may amend its own records.
    own = record("rating_detail", {"rating_id": rated["id"], "comment": "Own words", "overall": 3})
    assert front.send(own)[0]["status"] == 201
    assert scalar(clinic_server, "SELECT comment FROM ratings") == "Own words"
    # A target arriving later is amended only by its own kiosk's waiting amendments.
    later = rating()
    foreign_first = record("rating_detail", {"rating_id": later["id"], "comment": "Too early"})
    assert back.send(foreign_first)[0]["status"] == 201
    assert front.send(later)[0]["status"] == 201
    comment = scalar(
        clinic_server,
        "SELECT comment FROM ratings WHERE id = :id",
        id=_db_uuid(clinic_server, later["id"]),
    )
    assert comment is None


def _db_uuid(server: ServerProcess, value: str) -> str:
    # SQLite stores UUIDs as 32 hex digits; PostgreSQL takes the canonical form.
    return uuid.UUID(value).hex if server.database_url.startswith("sqlite") else value


def test_kiosk_answers_about_other_kiosks_ids_and_tokens_look_like_unknown_ones(
    clinic_server: ServerProcess,
) -> None:
    front, back = KioskClient(clinic_server, "front"), KioskClient(clinic_server, "back")
    theirs = rating(face=5)
    front.send(theirs)
    hash_before = scalar(clinic_server, "SELECT body_hash FROM received_records")
    reused_id = rating(face=1)
    reused_id["id"] = theirs["id"]  # another kiosk's record id, another body
    reused_token = rating(face=1, follow_up_token=theirs["body"]["follow_up_token"])
    fresh = rating(face=1)
    answers = back.send(reused_id, reused_token, fresh)
    shape = [{k: v for k, v in a.items() if k != "id"} for a in answers]
    assert shape[0] == shape[1] == shape[2] == {"outcome": "stored", "status": 201, "detail": None}
    # Nothing of the first kiosk's changed: its record, its score, where its link points.
    assert (
        scalar(
            clinic_server,
            "SELECT body_hash FROM received_records WHERE kiosk_id = :k",
            k=_db_uuid(clinic_server, front.id),
        )
        == hash_before
    )
    faces = scalar(clinic_server, "SELECT count(*) FROM ratings WHERE face = 5")
    assert faces == 1
    target = scalar(
        clinic_server,
        "SELECT target_id FROM follow_up_tokens WHERE token_hash = :h",
        h=hash_token(theirs["body"]["follow_up_token"]),
    )
    assert uuid.UUID(str(target)) == uuid.UUID(theirs["id"])
    # And the same kiosk repeating its own id with another body still hears "conflict".
    mine = rating(face=3)
    front.send(mine)
    changed = rating(face=4)
    changed["id"] = mine["id"]
    assert front.send(changed)[0]["status"] == 409


def test_kiosk_clock_far_off_is_flagged_and_links_count_from_receipt(
    clinic_server: ServerProcess,
) -> None:
    kiosk = KioskClient(clinic_server, "front")
    stale = rating(face=2, rated_at="2001-02-03T04:05:06+00:00")
    stale["created_at"] = "2001-02-03T04:05:06+00:00"
    ahead = question(asked_at="2090-01-01T00:00:00+00:00")
    sane = rating()
    before = datetime.now(UTC)
    results = kiosk.send(stale, ahead, sane)
    after = datetime.now(UTC)
    assert [r["status"] for r in results] == [201, 201, 201]
    flagged = scalar(clinic_server, "SELECT count(*) FROM received_records WHERE clock_skewed")
    assert flagged == 2
    rated_at = _aware(scalar(clinic_server, "SELECT min(rated_at) FROM ratings"))
    assert before - timedelta(seconds=5) <= rated_at <= after + timedelta(seconds=5)
    asked_at = _aware(scalar(clinic_server, "SELECT asked_at FROM questions"))
    assert asked_at <= after + timedelta(seconds=5)
    expiry = _aware(
        scalar(
            clinic_server,
            "SELECT expires_at FROM follow_up_tokens WHERE token_hash = :h",
            h=hash_token(stale["body"]["follow_up_token"]),
        )
    )
    assert before + timedelta(days=2) - timedelta(seconds=5) <= expiry
    assert expiry <= after + timedelta(days=2, seconds=5)
    assert (
        kiosk.http.get(
            clinic_server.url + "/f/" + stale["body"]["follow_up_token"], timeout=10
        ).status_code
        == 200
    )


def _aware(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def test_kiosk_wire_is_strict_about_types(clinic_server: ServerProcess) -> None:
    kiosk = KioskClient(clinic_server, "front")
    cases = {
        "boolean score": rating(face=True),
        "score as text": rating(face="5"),
        "number as text": walk_in(last_name=12345),
        "number as timestamp": rating(rated_at=1700000000),
        "boolean flag as number": question(emergency_flag=1),
        "birth date in the future": walk_in(date_of_birth="2999-12-31"),
    }
    for name, item in cases.items():
        answer = kiosk.send(item)[0]
        assert answer["status"] == 422, (name, answer)
    # An id the server cannot read cannot get its own answer: the request is refused whole.
    whole = kiosk.http.post(
        clinic_server.url + "/api/kiosk/v1/records",
        json={"records": [{**rating(), "id": 12}]},
        timeout=10,
    )
    assert whole.status_code == 422
