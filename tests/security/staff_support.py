"""Helpers for the staff-side security tests: a browser-like HTTP client and the admin CLI.

Everything goes over HTTP to a real server process, or through `clinic-server` commands,
as an attacker or an operator would. Synthetic users only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import requests
import sqlalchemy as sa
from serverproc import ROOT, ServerProcess

ADMIN = ("clinic-admin", "harbour lantern violet")
NURSE = ("nurse-okoro", "pebble orchard quartz")
WRONG = "not the password at all"

_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def cli(
    server: ServerProcess, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `clinic-server <args>` against the server's database; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "clinic.cli", *args],
        env=server.env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def create_user(
    server: ServerProcess, username: str, password: str, *, admin: bool = False
) -> None:
    """Create a user through the CLI (the password on stdin)."""
    command = "create-admin" if admin else "create-user"
    done = cli(server, command, username, "--password-stdin", stdin=password + "\n")
    assert done.returncode == 0, done.stderr


class Browser:
    """A requests session that signs in through the form like a browser."""

    def __init__(self, server: ServerProcess, *, forwarded_for: str | None = None) -> None:
        self.server = server
        self.http = requests.Session()
        if forwarded_for:
            self.http.headers["X-Forwarded-For"] = forwarded_for

    def url(self, path: str) -> str:
        return self.server.url + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("headers", {"Accept": "text/html"})
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def post(
        self, path: str, data: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("headers", {"Accept": "text/html"})
        return self.http.post(self.url(path), data=data or {}, timeout=30, **kwargs)

    def login(self, username: str, password: str) -> requests.Response:
        """Submit the sign-in form; return the answer (303 on success)."""
        page = self.get("/login")
        token = _CSRF_RE.search(page.text)
        assert token is not None, page.text[:500]
        return self.post(
            "/login",
            {"username": username, "password": password, "csrf_token": token.group(1)},
        )

    def signed_in_as(self) -> str | None:
        """Return the user name of the live session, or None (401)."""
        answer = self.http.get(self.url("/api/session"), timeout=30)
        if answer.status_code != 200:
            return None
        return str(answer.json()["username"])

    def csrf(self, page: str = "/account") -> str:
        """Return the session's CSRF token (as a page form carries it)."""
        answer = self.http.get(self.url("/api/session"), timeout=30)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["csrf_token"])

    def submit(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        """POST a dashboard form with the session's CSRF token."""
        return self.post(path, {**(data or {}), "csrf_token": self.csrf()})


def user_id_on_admin_page(admin: Browser, username: str) -> int:
    """Return the id of a user's row on the admin page (the target of its buttons)."""
    page = admin.get("/dashboard/admin")
    assert page.status_code == 200, page.status_code
    found = re.search(rf'id="staff-{re.escape(username)}" data-user-id="(\d+)"', page.text)
    assert found is not None, f"no row for {username} on the admin page"
    return int(found.group(1))


def audit_actions(server: ServerProcess) -> list[tuple[str, str, str | None]]:
    """Return (actor, action, target) of every audit event, oldest first."""
    engine = sa.create_engine(server.database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT actor, action, target FROM audit_log ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [(str(a), str(b), None if c is None else str(c)) for a, b, c in rows]
