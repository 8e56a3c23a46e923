"""The web surface: API docs off in production, nosniff everywhere, HSTS for an https URL."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import requests
from serverproc import ServerProcess
from staff_support import ADMIN, Browser, create_user

from sync.protocol import HEARTBEAT_PATH, INGEST_PATH, PULL_PATH, new_follow_up_token

DOCS = ("/docs", "/redoc", "/openapi.json")


def _answers(server: ServerProcess) -> dict[str, requests.Response]:
    """Return one response of each kind the server gives: pages, API, errors, files."""
    admin = Browser(server)
    assert admin.login(*ADMIN).status_code == 303
    plain = requests.Session()
    url = server.url
    return {
        "health": plain.get(url + "/healthz", timeout=30),
        "login page": plain.get(url + "/login", timeout=30),
        "redirect": plain.get(
            url + "/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
        ),
        "static css": plain.get(url + "/static/dashboard.css", timeout=30),
        "not found": plain.get(url + "/no/such/page", timeout=30),
        "staff api 401": plain.get(url + "/api/session", timeout=30),
        "kiosk api 401": plain.get(url + PULL_PATH, timeout=30),
        "kiosk 422": plain.post(
            url + INGEST_PATH,
            json={"records": []},
            headers={"Authorization": "Bearer " + "x" * 40},
            timeout=30,
        ),
        "method 405": plain.get(url + HEARTBEAT_PATH, timeout=30),
        "login 422": plain.post(url + "/login", data={}, timeout=30),
        "follow-up page": plain.get(url + "/f/" + new_follow_up_token(), timeout=30),
        "dashboard page": admin.get("/dashboard/arrivals"),
        "admin page": admin.get("/dashboard/admin"),
        "account page": admin.get("/account"),
        "csv export": admin.get("/dashboard/admin/export/questions.csv"),
        "csrf 403": admin.post("/dashboard/admin/pairing-codes", {"csrf_token": "forged"}),
    }


def test_every_response_says_nosniff_and_hsts_follows_the_public_url(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    server = start_clinic_server()  # public URL http://127.0.0.1:<port>
    create_user(server, *ADMIN, admin=True)
    answers = _answers(server)
    statuses = {name: r.status_code for name, r in answers.items()}
    assert {200, 303, 401, 403, 404, 405, 422} <= set(statuses.values()), statuses
    for name, response in answers.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert "Strict-Transport-Security" not in response.headers, name
    server.stop()

    # Behind TLS (the public URL is https): every answer also tells browsers to keep to HTTPS.
    https = start_clinic_server(public_base_url="https://clinic.example", cookie_secure="false")
    for name, response in _answers(https).items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= 31536000, (
            name
        )


def test_interactive_api_docs_are_off_in_production(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    testing = start_clinic_server()
    for path in DOCS:
        assert requests.get(testing.url + path, timeout=30).status_code == 200, path
    testing.stop()
    production = start_clinic_server(environment="production", secret_key=secrets.token_urlsafe(48))
    for path in DOCS:
        answer = requests.get(production.url + path, timeout=30)
        assert answer.status_code == 404, path
        assert "swagger" not in answer.text.lower() and "openapi" not in answer.text.lower()
    assert requests.get(production.url + "/healthz", timeout=30).status_code == 200
