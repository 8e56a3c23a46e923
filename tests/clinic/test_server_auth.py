"""Staff login, sessions (idle/absolute timeouts, logout), CSRF, login throttling, audit."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import PASSWORD, csrf_of, login, make_settings, new_user
from sqlalchemy import select, update

from clinic.app import create_app
from clinic.models import AuditEvent, LoginAttempt, StaffRole, StaffSession, StaffUser, utcnow


def test_login_sets_a_hardened_session_cookie_and_stores_only_its_hash(
    app: FastAPI, client: TestClient
) -> None:
    user = new_user(app)
    response = login(client, user)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("clinic_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    raw = cookie.split(";")[0].split("=", 1)[1]
    with app.state.db.reader() as session:
        ids = session.scalars(select(StaffSession.id_hash)).all()
        assert len(ids) == 1 and raw not in ids
        stored = session.scalars(select(StaffUser.password_hash)).one()
        assert stored.startswith("$argon2id$")
    assert client.get("/api/session").json()["username"] == user


def test_login_page_cannot_be_framed_or_cached(client: TestClient) -> None:
    page = client.get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("public_base_url", ["https://clinic.example", "http://127.0.0.1:8000"])
def test_cookie_is_secure_when_served_over_https(database_url: str, public_base_url: str) -> None:
    # Secure when the configured public URL is https, or when the request itself came by
    # HTTPS (behind a proxy: X-Forwarded-Proto from a trusted proxy).
    app = create_app(make_settings(database_url, public_base_url=public_base_url))
    try:
        with TestClient(app, base_url="https://testserver") as client:
            user = new_user(app)
            response = login(client, user)
            cookie = next(
                h
                for h in response.headers.get_list("set-cookie")
                if h.startswith("clinic_session=")
            )
            assert "Secure" in cookie
    finally:
        app.state.db.dispose()


def test_wrong_password_and_unknown_user_look_the_same(app: FastAPI, client: TestClient) -> None:
    user = new_user(app)
    wrong = login(client, user, "not the password")
    unknown = login(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        "Wrong username or password" in wrong.text and "Wrong username or password" in unknown.text
    )
    assert client.get("/api/session").status_code == 401


def test_logout_invalidates_the_session_server_side(app: FastAPI, client: TestClient) -> None:
    login(client, new_user(app))
    stolen = client.cookies.get("clinic_session")
    response = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.set("clinic_session", stolen)  # a copy of the old cookie must not work
    assert client.get("/api/session").status_code == 401


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
def test_idle_and_absolute_timeouts_end_the_session(
    app: FastAPI, client: TestClient, column: str
) -> None:
    login(client, new_user(app))
    assert client.get("/api/session").status_code == 200
    settings = app.state.settings
    if column == "last_seen_at":  # idle: no request for longer than the idle timeout
        value = utcnow() - timedelta(seconds=settings.session_idle_seconds + 1)
    else:  # absolute: however active, the session ends at expires_at
        value = utcnow() - timedelta(seconds=1)
    with app.state.db.writer.begin() as session:
        session.execute(update(StaffSession).values({column: value}))
    assert client.get("/api/session").status_code == 401


def test_anonymous_browser_is_sent_to_login(app: FastAPI, client: TestClient) -> None:
    # Any staff page (dashboard routes) redirects browsers; the API answers 401.
    assert (
        client.post("/logout", headers={"Accept": "text/html"}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/api/session", headers={"Accept": "text/html"}).status_code == 401


def test_csrf_token_is_required_on_state_changing_requests(
    app: FastAPI, client: TestClient
) -> None:
    login(client, new_user(app, StaffRole.ADMIN))
    token = csrf_of(client)
    assert client.post("/api/admin/pairing-codes").status_code == 403
    assert (
        client.post("/api/admin/pairing-codes", headers={"X-CSRF-Token": token + "x"}).status_code
        == 403
    )
    assert client.post("/api/admin/pairing-codes", data={"csrf_token": "wrong"}).status_code == 403
    assert client.post("/api/admin/pairing-codes", data={"csrf_token": token}).status_code == 201
    assert (
        client.post("/api/admin/pairing-codes", headers={"X-CSRF-Token": token}).status_code == 201
    )
    # Logout is a form too.
    assert client.post("/logout", follow_redirects=False).status_code == 403


def test_login_form_is_csrf_protected(app: FastAPI, client: TestClient) -> None:
    user = new_user(app)
    # A planted cookie/form pair without the server's signature does not pass either.
    client.cookies.set("clinic_login_csrf", "attacker-chosen.0123", path="/login")
    forged = client.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf_token": "attacker-chosen.0123"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": user, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert client.get("/api/session").status_code == 401


def test_login_is_throttled_per_account_from_an_address_even_with_the_right_password(
    database_url: str,
) -> None:
    # The slow-down is pushed out of the way so the per account-and-address limit shows alone.
    app = create_app(make_settings(database_url, login_slowdown_after_failures=100))
    try:
        with TestClient(app) as client:
            _throttled_then_released(app, client)
    finally:
        app.state.db.dispose()


def _throttled_then_released(app: FastAPI, client: TestClient) -> None:
    user = new_user(app)
    limit = app.state.settings.login_max_failures_per_account
    for _ in range(limit):
        assert login(client, user, "guess").status_code == 401
    blocked = login(client, user)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 60
    assert "Too many sign-in attempts" in blocked.text
    # The count lives in the database: another server process (another app) agrees.
    other_app = create_app(app.state.settings)
    try:
        with TestClient(other_app) as other:
            assert login(other, user).status_code == 429
    finally:
        other_app.state.db.dispose()
    # Once the failures leave the window, the right password works again.
    with app.state.db.writer.begin() as session:
        session.execute(
            update(LoginAttempt).values(
                attempted_at=utcnow()
                - timedelta(seconds=app.state.settings.login_window_seconds + 1)
            )
        )
    assert login(client, user).status_code == 303


def test_login_is_throttled_per_address_across_accounts(database_url: str) -> None:
    app = create_app(
        make_settings(
            database_url, login_max_failures_per_address=3, login_slowdown_after_failures=100
        )
    )
    try:
        with TestClient(app) as client:
            real = new_user(app)
            for name in ("a1", "a2", "a3"):
                assert login(client, name, "guess").status_code == 401
            assert login(client, real).status_code == 429
    finally:
        app.state.db.dispose()


def test_inactive_user_cannot_log_in_and_loses_sessions(app: FastAPI, client: TestClient) -> None:
    user = new_user(app)
    login(client, user)
    with app.state.db.writer.begin() as session:
        session.execute(update(StaffUser).where(StaffUser.username == user).values(active=False))
    assert client.get("/api/session").status_code == 401
    assert login(client, user).status_code == 401


def test_audit_log_records_logins_and_is_append_only(app: FastAPI, client: TestClient) -> None:
    user = new_user(app)
    login(client, user, "guess")
    login(client, user)
    with app.state.db.reader() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["login.failed", "login"]
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            app.state.db.writer.begin() as session,
        ):
            session.execute(sa.text(statement))
    with app.state.db.reader() as session:
        assert session.scalar(select(sa.func.count()).select_from(AuditEvent)) == 2


def test_next_parameter_cannot_send_users_to_another_site(app: FastAPI, client: TestClient) -> None:
    user = new_user(app)
    page = client.get("/login?next=//evil.example/")
    token = client.cookies.get("clinic_login_csrf")
    assert 'value="/"' in page.text
    response = client.post(
        "/login",
        data={
            "username": user,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_production_refuses_the_default_secret(database_url: str) -> None:
    from clinic.config import DEFAULT_SECRET_KEY, Settings

    with pytest.raises(ValueError, match="CLINIC_SECRET_KEY is the public placeholder"):
        Settings.from_env({"CLINIC_DATABASE_URL": database_url})  # production by default
    with pytest.raises(ValueError, match="CLINIC_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY)
    ok = Settings.from_env(
        {
            "CLINIC_SECRET_KEY": secrets.token_urlsafe(48),
            "CLINIC_SESSION_IDLE_SECONDS": "60",
        }
    )
    assert ok.session_idle_seconds == 60 and ok.environment == "production"


@pytest.mark.parametrize("environment", ["production", "demo", "dev"])
@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("k" * 40, "too little entropy"),
        ("password" * 5, "too little entropy"),
        ("0123456789" * 4, "too little entropy"),
        ("short-but-random-Qx7", "shorter than 32"),
    ],
)
def test_low_entropy_secrets_are_refused_outside_tests(
    environment: str, secret: str, why: str
) -> None:
    from clinic.config import Settings

    with pytest.raises(ValueError, match=why):
        Settings(environment=environment, secret_key=secret)
    assert Settings(environment="test", secret_key=secret).secret_key == secret
    assert Settings(environment=environment, secret_key=secrets.token_hex(32))


def test_settings_come_from_a_toml_file_and_the_environment_wins(tmp_path: Path) -> None:
    from clinic.config import Settings

    config = tmp_path / "clinic.toml"
    config.write_text(
        'timezone = "America/Chicago"\nsession_idle_seconds = 600\n'
        'public_base_url = "https://clinic.example"\n'
    )
    settings = Settings.from_env(
        {
            "CLINIC_CONFIG": str(config),
            "CLINIC_SESSION_IDLE_SECONDS": "300",
            "CLINIC_ENVIRONMENT": "test",
        }
    )
    assert settings.timezone == "America/Chicago" and settings.session_idle_seconds == 300
    assert settings.secure_cookies is True
    with pytest.raises(ValueError, match="unknown timezone"):
        Settings.from_env({"CLINIC_TIMEZONE": "Mars/Olympus", "CLINIC_ENVIRONMENT": "test"})
    with pytest.raises(ValueError, match="Extra inputs"):
        Settings.from_env({"CLINIC_CONFIG": str(config)}, sesion_idle_seconds=1)
