"""HTTP helpers for the security tests: pair kiosks, sign staff in, build records, read rows.

Everything goes over HTTP to the real server process, as an attacker or a kiosk would; the
database is read directly only to check what was (or was not) stored.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import requests
import sqlalchemy as sa
from serverproc import ROOT, ServerProcess

from sync.protocol import INGEST_PATH, PAIR_PATH, new_follow_up_token

#: Long, random and unrelated to the username: meets any password policy.
STAFF_PASSWORD = "Tq7-" + secrets.token_urlsafe(18)


class KioskClient:
    """A paired kiosk talking to the server over HTTP."""

    def __init__(self, server: ServerProcess, name: str) -> None:
        self.server = server
        answer = requests.post(
            server.url + PAIR_PATH,
            json={"code": server.pairing_code(), "kiosk_name": name, "app_version": "1.0"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        self.id = answer.json()["kiosk_id"]
        self.token = answer.json()["token"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def send(self, *records: dict[str, Any]) -> list[dict[str, Any]]:
        """Send one batch; return its per-record results (the request itself must be 200)."""
        answer = self.http.post(
            self.server.url + INGEST_PATH, json={"records": list(records)}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["results"]
        return results


def now_iso() -> str:
    """Return the test's current time as the kiosk sends it."""
    return datetime.now(UTC).isoformat()


def record(kind: str, body: dict[str, Any], *, record_id: str | None = None) -> dict[str, Any]:
    """Return a wire record of any kind."""
    return {
        "id": record_id or str(uuid.uuid4()),
        "kind": kind,
        "created_at": now_iso(),
        "body": body,
    }


def rating(face: Any = 4, **body: Any) -> dict[str, Any]:
    """Return a valid rating record."""
    return record(
        "rating",
        {
            "face": face,
            "rated_at": now_iso(),
            "follow_up_token": new_follow_up_token(),
            "language": "en",
            **body,
        },
    )


def walk_in(last_name: Any = "Quorvalis", **body: Any) -> dict[str, Any]:
    """Return a valid walk-in record for a synthetic person."""
    return record(
        "walk_in",
        {
            "first_name": "Ysolde",
            "last_name": last_name,
            "date_of_birth": "1979-05-17",
            "reason": "Persistent cough",
            "phone": "+1 555 010 7788",
            "arrived_at": now_iso(),
            "queue_number": "W01",
            "follow_up_token": new_follow_up_token(),
            "language": "en",
            **body,
        },
    )


def question(text: str = "Where can I park?", **body: Any) -> dict[str, Any]:
    """Return a valid question record."""
    return record(
        "question",
        {
            "text": text,
            "asked_at": now_iso(),
            "follow_up_token": new_follow_up_token(),
            "language": "en",
            **body,
        },
    )


def engine_of(server: ServerProcess) -> sa.Engine:
    """Return an engine on the server's database (for checks only)."""
    return sa.create_engine(server.database_url, poolclass=sa.pool.NullPool)


def scalar(server: ServerProcess, sql: str, **params: Any) -> Any:
    """Return the first column of the first row of a query on the server's database."""
    engine = engine_of(server)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def execute(server: ServerProcess, sql: str, **params: Any) -> None:
    """Run one statement on the server's database and commit."""
    engine = engine_of(server)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def cli(server: ServerProcess, *args: str, stdin: str | None = None) -> str:
    """Run `clinic-server <args>` against the server's database; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "clinic.cli", *args],
        env=server.env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def signed_in_admin(server: ServerProcess) -> tuple[requests.Session, str]:
    """Create an admin through the CLI, sign in with the form; return (session, CSRF token)."""
    username = f"admin{secrets.token_hex(3)}"
    cli(server, "create-admin", username, "--password-stdin", stdin=STAFF_PASSWORD + "\n")
    http = requests.Session()
    http.get(server.url + "/login", timeout=10)
    answer = http.post(
        server.url + "/login",
        data={
            "username": username,
            "password": STAFF_PASSWORD,
            "csrf_token": http.cookies.get("clinic_login_csrf") or "",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    csrf = http.get(server.url + "/api/session", timeout=10).json()["csrf_token"]
    return http, str(csrf)
