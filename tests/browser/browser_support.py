"""Helpers for the browser tests: the server process, kiosk records, login, screenshots."""

from __future__ import annotations

import socket
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sync import protocol

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN = ("admin", "correct horse battery")
STAFF = ("nurse", "staple battery horse")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    database_url: str
    kiosk_token: str
    process: subprocess.Popen[bytes]

    def ingest(self, *records: dict[str, Any]) -> list[dict[str, Any]]:
        """Send records the way a kiosk does (POST batch with its bearer token)."""
        response = httpx.post(
            self.base_url + protocol.INGEST_PATH,
            json={"records": list(records)},
            headers={"Authorization": f"Bearer {self.kiosk_token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        assert all(r["outcome"] == "stored" for r in results), results
        return results


def record(kind: protocol.RecordKind, body: protocol._Strict) -> dict[str, Any]:
    """Return one wire record with a fresh client-made UUID."""
    return {
        "id": str(uuid.uuid4()),
        "kind": kind.value,
        "created_at": datetime.now(UTC).isoformat(),
        "body": protocol.dump_body(body),
    }


def _prepare_database(database_url: str) -> str:
    """Migrate a fresh database, add the users, return a pairing code."""
    from clinic.accounts import create_user
    from clinic.config import Settings
    from clinic.db import Database, migrate
    from clinic.kiosks import clinic_config, create_pairing_code
    from clinic.models import StaffRole

    migrate(database_url)
    settings = Settings(database_url=database_url, environment="test")
    db = Database(settings)
    try:
        with db.writer.begin() as session:
            config = clinic_config(session=session)
            config.name = "Riverside Family Clinic"
            create_user(session=session, username=ADMIN[0], password=ADMIN[1], role=StaffRole.ADMIN)
            create_user(session=session, username=STAFF[0], password=STAFF[1])
            code, _row = create_pairing_code(session=session, settings=settings)
    finally:
        db.dispose()
    return code


def login(page: Any, base_url: str, user: tuple[str, str] = ADMIN) -> None:
    """Log in through the real login form."""
    page.goto(base_url + "/dashboard/arrivals")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/arrivals*")


def shoot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/browser/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path
