"""Pairing codes (one-time, short-lived), kiosk tokens, revocation, heartbeat."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, csrf_of, login, new_user, rating_record
from sqlalchemy import select, update

from clinic.kiosks import create_pairing_code
from clinic.models import Kiosk, PairingCode, StaffRole, utcnow
from clinic.security import hash_token
from sync.protocol import HEARTBEAT_PATH, INGEST_PATH, PAIR_PATH, PULL_PATH


def _code(app: FastAPI) -> str:
    with app.state.db.writer.begin() as session:
        code, _ = create_pairing_code(session=session, settings=app.state.settings)
    return code


def _pair(client: TestClient, code: str, name: str = "Lobby") -> object:
    return client.post(PAIR_PATH, json={"code": code, "kiosk_name": name, "app_version": "1.2"})


def test_a_code_pairs_one_kiosk_once_and_only_its_hash_is_stored(
    app: FastAPI, client: TestClient
) -> None:
    code = _code(app)
    response = _pair(client, code.lower().replace("-", " "))  # typed loosely: still valid
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    again = _pair(client, code, "Second")
    assert again.status_code == 400
    assert "used" in again.json()["detail"]
    with app.state.db.reader() as session:
        kiosks = session.scalars(select(Kiosk)).all()
        assert [k.name for k in kiosks] == ["Lobby"]
        assert kiosks[0].token_hash == hash_token(token) and token not in kiosks[0].token_hash
        stored_codes = session.scalars(select(PairingCode.code_hash)).all()
        assert code not in stored_codes and all(len(h) == 64 for h in stored_codes)
    assert client.get(PULL_PATH, headers=bearer(token)).status_code == 200


def test_expired_and_unknown_codes_are_refused(app: FastAPI, client: TestClient) -> None:
    code = _code(app)
    with app.state.db.writer.begin() as session:
        session.execute(update(PairingCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _pair(client, code).status_code == 400
    assert _pair(client, "ZZZZZ-ZZZZZ").status_code == 400
    assert client.post(PAIR_PATH, json={"code": "x"}).status_code == 422


def test_unknown_token_is_401(client: TestClient) -> None:
    response = client.get(PULL_PATH, headers=bearer("kt_not-a-real-token"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(PULL_PATH).status_code == 401


def test_revocation_through_the_admin_api_takes_effect_at_once(
    app: FastAPI, client: TestClient
) -> None:
    admin = new_user(app, StaffRole.ADMIN)
    assert login(client, admin).status_code == 303
    created = client.post("/api/admin/pairing-codes", headers={"X-CSRF-Token": csrf_of(client)})
    assert created.status_code == 201
    paired = _pair(client, created.json()["code"])
    kiosk_id, token = paired.json()["kiosk_id"], paired.json()["token"]
    ok = client.post(INGEST_PATH, json={"records": [rating_record()]}, headers=bearer(token))
    assert ok.status_code == 200
    revoked = client.post(
        f"/api/admin/kiosks/{kiosk_id}/revoke", headers={"X-CSRF-Token": csrf_of(client)}
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    for method, path, body in (
        ("POST", INGEST_PATH, {"records": [rating_record()]}),
        ("GET", PULL_PATH, None),
        ("POST", HEARTBEAT_PATH, {"app_version": "1", "backlog": 0, "failed": 0}),
    ):
        response = client.request(method, path, json=body, headers=bearer(token))
        assert response.status_code == 403, path
        assert response.json()["detail"] == "kiosk revoked"


def test_heartbeat_records_what_the_kiosk_reports(app: FastAPI, client: TestClient) -> None:
    code = _code(app)
    token = _pair(client, code).json()["token"]
    response = client.post(
        HEARTBEAT_PATH,
        json={"app_version": "2.0.1", "backlog": 17, "failed": 2, "last_error": "timeout"},
        headers=bearer(token),
    )
    assert response.status_code == 200 and response.json()["server_time"]
    with app.state.db.reader() as session:
        kiosk = session.scalars(select(Kiosk)).one()
        assert (kiosk.app_version, kiosk.backlog, kiosk.failed, kiosk.last_error) == (
            "2.0.1",
            17,
            2,
            "timeout",
        )
        assert kiosk.last_heartbeat_at is not None and kiosk.last_seen_at is not None
    bad = client.post(
        HEARTBEAT_PATH, json={"app_version": "2", "backlog": -1, "failed": 0}, headers=bearer(token)
    )
    assert bad.status_code == 422


def test_pairing_attempts_are_rate_limited_per_address(database_url: str) -> None:
    from server_helpers import make_settings

    from clinic.app import create_app

    app = create_app(make_settings(database_url, pair_requests_per_minute=3))
    try:
        with TestClient(app) as client:
            statuses = [_pair(client, "WRONG-CODE1").status_code for _ in range(4)]
            assert statuses == [400, 400, 400, 429]
    finally:
        app.state.db.dispose()


def test_database_down_means_503_with_retry_after(tmp_path: Path) -> None:
    from server_helpers import make_settings

    from clinic.app import create_app

    # A directory where the database file should be: every connection attempt fails.
    app = create_app(make_settings(f"sqlite:///{tmp_path}"))
    try:
        with TestClient(app) as client:
            pull = client.get(PULL_PATH, headers=bearer("kt_whatever"))
            assert pull.status_code == 503 and pull.headers["Retry-After"] == "5"
            assert client.get("/healthz").status_code == 503
    finally:
        app.state.db.dispose()


def test_heartbeat_crashes_and_clock_reach_the_kiosks_page(
    app: FastAPI, client: TestClient
) -> None:
    token = _pair(client, _code(app), name="Entrance").json()["token"]
    beat = {
        "app_version": "2.1.0",
        "backlog": 0,
        "failed": 0,
        "crash_count": 3,
        "last_crash_at": "2026-11-28T14:05:00+00:00",
        "clock_skew_seconds": -420,
        "clock_problem": "skewed",
    }
    assert client.post(HEARTBEAT_PATH, json=beat, headers=bearer(token)).status_code == 200
    with app.state.db.reader() as session:
        kiosk = session.scalars(select(Kiosk)).one()
        assert (kiosk.crash_count, kiosk.clock_skew_seconds, kiosk.clock_problem) == (
            3,
            -420,
            "skewed",
        )
        assert kiosk.last_crash_at is not None and kiosk.last_crash_at.hour == 14
    login(client, new_user(app))
    page = client.get("/dashboard/kiosks")
    assert page.status_code == 200
    row = page.text.split('data-kiosk="')[1]
    assert '<td class="crashes"><span class="tag emergency">3</span>' in row
    assert "7 min behind" in row
    # An older kiosk that sends no crash or clock fields is still accepted.
    old = {"app_version": "1.0", "backlog": 1, "failed": 0}
    assert client.post(HEARTBEAT_PATH, json=old, headers=bearer(token)).status_code == 200
    bad = dict(beat, clock_problem="sundial")
    assert client.post(HEARTBEAT_PATH, json=bad, headers=bearer(token)).status_code == 422
