"""Authorization matrix: every route, as anonymous / kiosk / staff / admin, gets exactly the
status designed for it. A route without an entry fails the test.

HOW TO ADD A ROUTE: put `(METHOD, "/path/{param}"): (anonymous, kiosk, staff, admin)` in
EXPECTED below (server routes) or in tests/clinic/authz_dashboard.py DASHBOARD_EXPECTED
(dashboard and follow-up routes). Each request is sent
like a browser form post: `Accept: text/html`, staff/admin with their session cookie and a
valid X-CSRF-Token, the kiosk with its bearer token, an empty JSON object as body for POST;
path parameters come from PATH_VALUES (default: a random UUID), so an authorized request
usually ends in 404 (no such object) or 422 (empty body): the point is who gets past auth.
Anonymous on a staff page: 303 (to /login); on /api/...: 401. Staff on an admin route: 403.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from server_helpers import csrf_of, login, new_kiosk, new_user

from clinic.models import StaffRole
from sync.protocol import HEARTBEAT_PATH, INGEST_PATH, PAIR_PATH, PULL_PATH, new_follow_up_token

try:
    from authz_dashboard import DASHBOARD_EXPECTED, DASHBOARD_PATH_VALUES
except ImportError:  # the dashboard area is not there
    DASHBOARD_EXPECTED, DASHBOARD_PATH_VALUES = {}, {}

ROLES = ("anonymous", "kiosk", "staff", "admin")
Statuses = tuple[int, int, int, int]

EXPECTED: dict[tuple[str, str], Statuses] = {
    # FastAPI's own documentation pages: public (they describe the kiosk API, no data).
    ("GET", "/openapi.json"): (200, 200, 200, 200),
    ("GET", "/docs"): (200, 200, 200, 200),
    ("GET", "/docs/oauth2-redirect"): (200, 200, 200, 200),
    ("GET", "/redoc"): (200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200),
    # Kiosk API: pairing is open (the code is the credential), the rest needs a kiosk token.
    ("POST", PAIR_PATH): (422, 422, 422, 422),
    ("POST", INGEST_PATH): (401, 422, 401, 401),
    ("GET", PULL_PATH): (401, 200, 401, 401),
    ("POST", HEARTBEAT_PATH): (401, 422, 401, 401),
    # Staff login.
    ("GET", "/login"): (200, 200, 200, 200),
    ("POST", "/login"): (422, 422, 422, 422),
    # Second step of sign-in: without a session waiting for its code, back to /login.
    ("GET", "/login/second-factor"): (303, 303, 303, 303),
    ("POST", "/login/second-factor"): (422, 422, 422, 422),
    ("POST", "/logout"): (303, 303, 303, 303),  # anonymous: to /login; staff: logged out
    ("GET", "/api/session"): (401, 401, 200, 200),
    # Admin API.
    ("POST", "/api/admin/pairing-codes"): (401, 401, 403, 201),
    ("POST", "/api/admin/kiosks/{kiosk_id}/revoke"): (401, 401, 403, 404),
    ("POST", "/api/admin/appointments/import"): (401, 401, 403, 422),
    # EHR link (clinic/ehr): the published feedback Questionnaire is public (no data);
    # its admin section: saving empty settings turns the link off, pulling needs FHIR.
    ("GET", "/fhir/Questionnaire/kiosk-visit-feedback"): (200, 200, 200, 200),
    ("POST", "/dashboard/admin/ehr/settings"): (303, 303, 403, 303),
    ("POST", "/dashboard/admin/ehr/pull"): (303, 303, 403, 409),
    ("POST", "/dashboard/admin/ehr/messages/{message_id}/retry"): (303, 303, 403, 404),
}

PATH_VALUES: dict[str, str] = {"token": new_follow_up_token(), "message_id": "999999"}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(app.routes):
        if route.path is None or not route.methods:
            continue  # mounts (static files) have no methods
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, route.path))
    return found


def _path(template: str) -> str:
    values = {**PATH_VALUES, **DASHBOARD_PATH_VALUES}
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end].split(":")[0]
        path = path[:start] + values.get(name, str(uuid.uuid4())) + path[end + 1 :]
    return path


def test_every_route_has_an_entry_and_answers_as_designed(app: FastAPI) -> None:
    expected = {**EXPECTED, **DASHBOARD_EXPECTED}
    routes = _routes(app)
    missing = sorted(set(routes) - set(expected))
    assert not missing, f"routes without an authorization matrix entry: {missing}"

    _, kiosk_token = new_kiosk(app)
    clients: dict[str, TestClient] = {}
    headers: dict[str, dict[str, str]] = {}
    for role in ROLES:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients[role] = client
        headers[role] = {"Accept": "text/html,application/json;q=0.9"}
        if role == "kiosk":
            headers[role]["Authorization"] = f"Bearer {kiosk_token}"
        elif role in ("staff", "admin"):
            user = new_user(app, StaffRole(role))
            assert login(client, user).status_code == 303
            headers[role]["X-CSRF-Token"] = csrf_of(client)

    mismatches = []
    try:
        # Logout last, or the staff sessions end before the other routes are tried.
        ordered = sorted(routes, key=lambda r: r == ("POST", "/logout"))
        for method, template in ordered:
            got = []
            for role in ROLES:
                kwargs: dict[str, object] = {"headers": headers[role]}
                if method == "POST":
                    kwargs["json"] = {}
                response = clients[role].request(method, _path(template), **kwargs)
                got.append(response.status_code)
            if tuple(got) != expected[(method, template)]:
                mismatches.append(((method, template), expected[(method, template)], tuple(got)))
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
    assert not mismatches, "\n".join(f"{r}: expected {e}, got {g}" for r, e, g in mismatches)


def test_an_unlisted_route_fails_the_matrix(app: FastAPI) -> None:
    @app.get("/api/admin/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(AssertionError, match="forgotten"):
        test_every_route_has_an_entry_and_answers_as_designed(app)


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_pages_never_answer_a_kiosk_token(role: str) -> None:
    # Guard against a copy-paste in the tables: no staff route is open to kiosks.
    table = {**EXPECTED, **DASHBOARD_EXPECTED}
    for (method, path), statuses in table.items():
        if path.startswith(("/dashboard", "/api/admin")):
            assert statuses[ROLES.index("kiosk")] in (303, 401), (method, path)
