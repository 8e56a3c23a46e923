"""Every state-changing staff route refuses a request without its CSRF token, and every
staff page view and export lands in the audit log. Both lists come from the app's routes,
so a new route is covered without editing this file (or must be named as an exception).
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from server_helpers import csrf_of, login, new_user
from sqlalchemy import select

from clinic.models import AuditEvent, StaffRole
from sync.protocol import HEARTBEAT_PATH, INGEST_PATH, PAIR_PATH

#: POST routes without a staff session: the kiosk API (bearer token), the login form
#: (signed double-submit cookie, tested in test_server_auth) and the patient follow-up page
#: (the unguessable token in its URL is the credential; no cookie is involved).
# The second sign-in step checks its own CSRF token (of the session awaiting the code).
NOT_STAFF_POSTS = {
    PAIR_PATH,
    INGEST_PATH,
    HEARTBEAT_PATH,
    "/login",
    "/login/second-factor",
    "/f/{token}",
    # A waiting-room screen pairing: no staff session, the one-time code is the credential.
    "/display/pair",
}
#: GET routes of the dashboard that show no data: redirects to the arrivals page.
REDIRECTS = {"/dashboard"}


def _routes(app: FastAPI, method: str) -> list[str]:
    return sorted(
        route.path
        for route in iter_route_contexts(app.routes)
        if route.path is not None and route.methods and method in route.methods
    )


def _fill(template: str) -> str:
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


def test_every_staff_post_needs_the_csrf_token(app: FastAPI, client: TestClient) -> None:
    posts = [p for p in _routes(app, "POST") if p not in NOT_STAFF_POSTS]
    assert "/logout" in posts and "/dashboard/admin/staff" in posts
    login(client, new_user(app, StaffRole.ADMIN))
    token = csrf_of(client)
    refused = {}
    for template in posts:
        path = _fill(template)
        # A plain form post (what a cross-site form sends), one with a wrong field, one
        # with a wrong header: none may get past the CSRF check.
        answers = (
            client.post(path, data={"note": "x"}, follow_redirects=False).status_code,
            client.post(
                path, data={"csrf_token": token[:-1] + "x"}, follow_redirects=False
            ).status_code,
            client.post(path, headers={"X-CSRF-Token": "nope"}, follow_redirects=False).status_code,
        )
        refused[template] = answers
    assert {p: a for p, a in refused.items() if a != (403, 403, 403)} == {}
    # The session still works: the refusals did not log anyone out.
    assert client.get("/api/session").status_code == 200


def test_every_staff_page_view_and_export_is_audited(app: FastAPI, client: TestClient) -> None:
    pages = [
        p
        for p in _routes(app, "GET")
        if p.startswith("/dashboard") and p not in REDIRECTS and "{" not in p
    ]
    assert "/dashboard/admin/export/feedback.csv" in pages and "/dashboard/feedback" in pages
    user = new_user(app, StaffRole.ADMIN)
    login(client, user)
    missing = []
    for path in pages:
        with app.state.db.reader() as session:
            before = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        with app.state.db.reader() as session:
            events = session.scalars(
                select(AuditEvent).where(AuditEvent.id > (before or 0)).order_by(AuditEvent.id)
            ).all()
        kinds = [
            e.action
            for e in events
            if e.actor == user and e.action.startswith(("view.", "export."))
        ]
        if not kinds:
            missing.append(path)
        elif path.endswith(".csv"):
            assert kinds == ["export." + path.rsplit("/", 1)[1].removesuffix(".csv")], kinds
    assert missing == []
