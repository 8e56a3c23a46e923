"""Schemathesis over every route of a running server, with hostile strings and timestamps.

The server's own OpenAPI document hides the HTML routes (dashboard, follow-up pages); the
document fuzzed here is built from the same application with every route shown, so every
route is exercised. Schemathesis draws each case from the schema (NUL characters allowed);
each string of a case may then be swapped for an unpaired surrogate, a NUL, a control
character, a very long text or a timestamp at the edge of its range, and each number for a
huge one. Requests go to the real server process over HTTP, signed in as an admin and with
a kiosk token, encoded the way a hostile client would (a lone surrogate as the bytes of its
UTF-8 "surrogatepass" form). Any 5xx is a failure. Used by tests/security/test_fuzz_*.py
(bounded) and bench/fuzz.py (long).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import requests
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet

#: Strings no server may answer with a 5xx.
HOSTILE_TEXT = [
    "\ud800",
    "a\udfffb",
    "\udbff\ud7ff",
    "\x00",
    "x\x00y",
    "\x01\x1b[31m\x7f",
    "\u202eevil",
    "\ufeff",
    "𝕏" * 3,
    "",
    " " * 3,
    "A" * 70_000,
    "%00",
    "../../etc/passwd",
    '=HYPERLINK("x")',
]
#: Timestamps and dates at the edges of what Python, SQLite and PostgreSQL can hold.
EDGE_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59.999999-14:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31",
    "1970-01-01T00:00:00+00:00",
    "2026-02-30T10:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T10:00:00",
    "2026-01-01T10:00:00+25:00",
    "10000-01-01T00:00:00Z",
]
HUGE_NUMBERS: list[Any] = [2**63, -(2**63) - 1, 10**400, 1e308, -1e308, 0.5, -1, True]

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


def full_openapi(app: Any) -> dict[str, Any]:
    """Return the app's OpenAPI document with every route shown (HTML routes included)."""

    def show(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                route.include_in_schema = True
            original = getattr(route, "original_router", None)
            if original is not None:
                original.include_in_schema = True
                context = getattr(route, "include_context", None)
                if context is not None and hasattr(context, "include_in_schema"):
                    object.__setattr__(context, "include_in_schema", True)
                show(original.routes)

    show(app.router.routes)
    app.openapi_schema = None
    spec: dict[str, Any] = app.openapi()
    return spec


def _hostile(value: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """Return the value with some of its strings and numbers swapped for hostile ones."""
    if isinstance(value, str):
        return draw(
            st.one_of(
                st.just(value),
                st.sampled_from(HOSTILE_TEXT),
                st.sampled_from(EDGE_TIMES),
                st.text(st.characters(codec=None, categories=None), max_size=20),
            )
        )
    if isinstance(value, bool):
        return draw(st.sampled_from([value, 1, "true", None]))
    if isinstance(value, int | float):
        return draw(st.one_of(st.just(value), st.sampled_from(HUGE_NUMBERS)))
    if isinstance(value, dict):
        return {
            _hostile(k, draw) if draw(st.booleans()) else k: _hostile(v, draw)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hostile(item, draw) for item in value]
    return value


def _encode(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def send(
    http: requests.Session, base_url: str, case: Any, headers: dict[str, str]
) -> requests.Response:
    """Send a case as a hostile client would; strings with lone surrogates included."""
    path = case.path
    for name, value in (case.path_parameters or {}).items():
        path = path.replace(
            "{" + name + "}", quote(_encode(value), safe="", errors="surrogatepass")
        )
    query = urlencode(
        {k: _encode(v) for k, v in (case.query or {}).items()}, errors="surrogatepass"
    )
    url = base_url + path + ("?" + query if query else "")
    sent = dict(headers)
    data: bytes | None = None
    if not isinstance(case.body, NotSet) and case.body is not None:
        media = case.media_type or "application/json"
        if media in JSON_TYPES:
            data = json.dumps(case.body).encode()  # ASCII: a lone surrogate as \ud800
            sent["Content-Type"] = media
        elif media in FORM_TYPES and isinstance(case.body, dict):
            data = urlencode(
                {k: _encode(v) for k, v in case.body.items()}, doseq=True, errors="surrogatepass"
            ).encode()
            sent["Content-Type"] = media
        else:
            text = case.body if isinstance(case.body, str) else json.dumps(case.body)
            data = text.encode("utf-8", "surrogatepass")
            sent["Content-Type"] = "text/csv" if "csv" in media or "multipart" in media else media
    return http.request(
        case.method, url, data=data, headers=sent, allow_redirects=False, timeout=60
    )


@dataclass
class FuzzReport:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz_server(
    *,
    app: Any,
    base_url: str,
    staff: Callable[[], tuple[requests.Session, str]],
    kiosk_token: str,
    examples_per_operation: int,
    skip: frozenset[tuple[str, str]] = frozenset({("POST", "/logout")}),
) -> FuzzReport:
    """Fuzz every operation of `app`'s full schema against the server at `base_url`."""
    config = SchemathesisConfig.from_dict({"generation": {"allow-x00": True}})
    schema = schemathesis.openapi.from_dict(full_openapi(app), config=config)
    report = FuzzReport()
    started = time.monotonic()
    http, csrf = staff()
    for operation in _operations(schema):
        key = (operation.method.upper(), operation.path)
        if key in skip:
            continue
        report.operations.append(f"{key[0]} {key[1]}")
        if http.get(base_url + "/api/session", timeout=10).status_code != 200:
            http, csrf = staff()  # a fuzzed admin action ended the session: sign in again
        headers = {"X-CSRF-Token": csrf, "Authorization": f"Bearer {kiosk_token}"}

        _check_operation(operation, report, http, base_url, headers, examples_per_operation)
    report.seconds = time.monotonic() - started
    return report


def _check_operation(
    operation: Any,
    report: FuzzReport,
    http: requests.Session,
    base_url: str,
    headers: dict[str, str],
    examples: int,
) -> None:
    """Send `examples` hostile cases of one operation; record every 5xx."""

    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, data: st.DataObject) -> None:
        case.body = (
            _hostile(case.body, data.draw) if not isinstance(case.body, NotSet) else case.body
        )
        case.query = _hostile(case.query, data.draw) if case.query else case.query
        if case.path_parameters:
            case.path_parameters = _hostile(case.path_parameters, data.draw)
        answer = send(http, base_url, case, headers)
        report.requests += 1
        report.by_status[answer.status_code] = report.by_status.get(answer.status_code, 0) + 1
        if answer.status_code >= 500:
            report.server_errors.append(
                f"{case.method} {case.path} -> {answer.status_code} {answer.text[:200]!r}"
            )

    check()


def _operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()
