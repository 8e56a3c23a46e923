"""Run the real clinic server (uvicorn + clinic.app) in a subprocess on loopback.

Used by tests/sync and bench/sync.py. Each instance owns one SQLite file; `restart()` keeps
the file and the port, so a kiosk sees the server go away and come back.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One clinic server process on 127.0.0.1:<port> over its own SQLite database."""

    def __init__(self, data_dir: Path, *, port: int | None = None, **settings: str) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = data_dir / "clinic.db"
        self.database_url = f"sqlite:///{self.db_path}"
        self.port = port or free_port()
        self.env = dict(os.environ)
        self.env.update(
            {
                "CLINIC_ENVIRONMENT": "test",
                "CLINIC_DATABASE_URL": self.database_url,
                "CLINIC_PUBLIC_BASE_URL": self.url,
                # Sync tests measure the kiosk, not the server's own throttle.
                "CLINIC_KIOSK_REQUESTS_PER_MINUTE": "100000",
                "CLINIC_KIOSK_BURST": "10000",
                "CLINIC_PAIR_REQUESTS_PER_MINUTE": "1000",
            }
        )
        self.env.update({f"CLINIC_{k.upper()}": v for k, v in settings.items()})
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed in close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """Run `clinic-server <args>` against this database and return its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "clinic.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"clinic-server {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    @staticmethod
    def _has_cli() -> bool:
        return (ROOT / "clinic" / "cli.py").exists()

    def migrate(self) -> None:
        """Create/upgrade the schema (through the CLI when it is there)."""
        if self._has_cli():
            self.cli("migrate")
            return
        from clinic.db import migrate

        migrate(self.database_url)

    def start(self, timeout: float = 90.0) -> ServerProcess:
        """Start uvicorn and wait until /healthz answers."""
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "clinic.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
                # As `clinic-server serve`: the app alone decides whom X-Forwarded-For
                # is believed from (CLINIC_TRUSTED_PROXIES).
                "--no-proxy-headers",
                # A test's client reuses a kept-alive connection after a pause that a loaded
                # machine stretches past uvicorn's 5 s default: the server closing it just
                # as a request goes out reset that request (a fuzz run failed so).
                "--timeout-keep-alive",
                "120",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see server.log")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.proc.kill()  # no fixture will stop a server that never came up
        self.proc.wait(10)
        raise RuntimeError("server did not answer /healthz in time")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGKILL when kill=True, else a graceful SIGTERM)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        self.stop()
        self._log.close()

    def pairing_code(self) -> str:
        """Create a one-time pairing code through the admin CLI."""
        if not self._has_cli():
            return self._pairing_code_api()
        out = self.cli("create-pairing-code", "--quiet").strip()
        if not re.fullmatch(r"[A-Za-z0-9-]{6,32}", out):
            raise RuntimeError(f"no pairing code in CLI output: {out!r}")
        return out

    def _pairing_code_api(self) -> str:
        from clinic.config import Settings
        from clinic.db import Database
        from clinic.kiosks import create_pairing_code

        settings = Settings(environment="test", database_url=self.database_url)
        db = Database(settings)
        try:
            with db.writer.begin() as session:
                code, _row = create_pairing_code(session=session, settings=settings)
        finally:
            db.dispose()
        return code

    def revoke(self, kiosk_id: str) -> None:
        """Revoke a kiosk through the admin CLI (its token stops working at once)."""
        if self._has_cli():
            self.cli("revoke-kiosk", kiosk_id)
            return
        from clinic.config import Settings
        from clinic.db import Database
        from clinic.kiosks import revoke_kiosk

        db = Database(Settings(environment="test", database_url=self.database_url))
        try:
            with db.writer.begin() as session:
                revoke_kiosk(session=session, kiosk_id=uuid.UUID(kiosk_id))
        finally:
            db.dispose()

    def received_ids(self) -> list[str]:
        """Return the ids of every record the server stored (one entry per stored row)."""
        import sqlite3

        with sqlite3.connect(self.db_path) as conn:
            rows = conn.execute("SELECT id FROM received_records").fetchall()
        return [uuid.UUID(str(value)).hex for (value,) in rows]
