"""Helpers for the browser tests: the server process, kiosk records, login, screenshots."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
    from clinic.kiosks import create_pairing_code
    from clinic.models import ClinicConfig, StaffRole

    migrate(database_url)
    settings = Settings(database_url=database_url, environment="test")
    db = Database(settings)
    try:
        with db.writer.begin() as session:
            config = ClinicConfig.of(session)
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


#: One uvicorn process with the app factory (the default of start_server).
UVICORN = ["-m", "uvicorn", "--factory", "clinic.app:create_app", "--log-level", "warning"]


def start_server(
    workdir: Path, env: dict[str, str], command: list[str] = UVICORN, timeout: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the clinic server (`python <command> --host 127.0.0.1 --port <free port>`)
    with `env` added to this process's environment; return the process and its base URL
    once /healthz answers.

    The log goes to workdir/server.log. The timeout is long: a loaded CI machine starts it
    slowly.
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "CLINIC_PUBLIC_BASE_URL": base_url, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(base_url + protocol.HEALTH_PATH, timeout=1).status_code == 200:
                return process, base_url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"server did not start within {timeout:.0f} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process (SIGTERM, then SIGKILL after 10 s)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def clinic_server(
    workdir: Path, database_url: str, timezone: str = "UTC", **env: str
) -> Iterator[Server]:
    """Run the clinic server on a fresh database at database_url with one paired kiosk that
    has sent a heartbeat (a backlog and an error, so the kiosks page has something to say).

    `env` adds settings (CLINIC_...) to the server's environment.
    """
    code = _prepare_database(database_url)
    process, base_url = start_server(
        workdir,
        {
            "CLINIC_DATABASE_URL": database_url,
            "CLINIC_ENVIRONMENT": "test",
            "CLINIC_TIMEZONE": timezone,
            **env,
        },
    )
    try:
        paired = httpx.post(
            base_url + protocol.PAIR_PATH,
            json={"code": code, "kiosk_name": "Lobby kiosk", "app_version": "1.0.0"},
            timeout=10,
        )
        assert paired.status_code == 201, paired.text
        token = paired.json()["token"]
        heartbeat = httpx.post(
            base_url + protocol.HEARTBEAT_PATH,
            json={"app_version": "1.0.0", "backlog": 3, "failed": 1, "last_error": "timeout"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert heartbeat.status_code == 200, heartbeat.text
        yield Server(base_url, database_url, token, process)
    finally:
        stop(process)
