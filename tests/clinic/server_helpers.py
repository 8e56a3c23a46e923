"""Helpers for the clinic server tests (synthetic data only)."""

from __future__ import annotations

import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from clinic.accounts import create_user
from clinic.config import Settings
from clinic.kiosks import create_pairing_code, pair_kiosk
from clinic.models import StaffRole
from sync.protocol import new_follow_up_token

PASSWORD = "correct horse battery"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Return test settings for a database (overrides win)."""
    values: dict[str, Any] = {"environment": "test", "database_url": database_url}
    values.update(overrides)
    return Settings(**values)


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def new_kiosk(app: FastAPI, name: str = "kiosk") -> tuple[uuid.UUID, str]:
    """Pair a kiosk directly in the database; return its id and bearer token."""
    with app.state.db.writer.begin() as session:
        code, _ = create_pairing_code(session=session, settings=app.state.settings)
        kiosk, token = pair_kiosk(session=session, code=code, kiosk_name=name, app_version="1.0")
        return kiosk.id, token


def new_user(app: FastAPI, role: StaffRole = StaffRole.STAFF, username: str | None = None) -> str:
    """Create a user with PASSWORD; return the username."""
    username = username or f"{role}-{secrets.token_hex(3)}"
    with app.state.db.writer.begin() as session:
        create_user(session=session, username=username, password=PASSWORD, role=role)
    return username


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """Log in through the form like a browser; return the response."""
    page = client.get("/login")
    token = page.cookies.get("clinic_login_csrf") or client.cookies.get("clinic_login_csrf")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token or ""},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    """Return the logged-in session's CSRF token."""
    response = client.get("/api/session")
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def rating_record(record_id: uuid.UUID | None = None, face: int = 4, **body: Any) -> dict[str, Any]:
    """Return a wire record of kind rating."""
    now = now_iso()
    return {
        "id": str(record_id or uuid.uuid4()),
        "kind": "rating",
        "created_at": now,
        "body": {
            "face": face,
            "rated_at": now,
            "follow_up_token": new_follow_up_token(),
            "language": "en",
            **body,
        },
    }


def record(kind: str, body: dict[str, Any], record_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Return a wire record of any kind."""
    return {
        "id": str(record_id or uuid.uuid4()),
        "kind": kind,
        "created_at": now_iso(),
        "body": body,
    }


# ---------------------------------------------------------------------------------------
# A real uvicorn server on loopback, in a thread of this process
# ---------------------------------------------------------------------------------------
@dataclass
class LiveServer:
    url: str
    app: FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
