"""A FHIR R4 test server (run with uvicorn in its own process): the EHR the tests talk to.

It validates every resource it receives with two validators we did not write -
`fhir.resources` (R4B models) and the official FHIR R4 JSON schema - and enforces the
Appointment status transitions of the R4 state diagram. State is seeded from the JSON file
named by FHIR_TEST_SEED, and every write is appended to FHIR_TEST_LOG (one JSON per line),
so a restart keeps the data and the tests can read what arrived.

Optional: FHIR_TEST_PUBLIC_KEY (PEM): /token checks SMART client assertions with it and
every FHIR request must then carry the access token.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import jsonschema
import jwt
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, Response
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

SCHEMA_PATH = os.environ.get("FHIR_TEST_SCHEMA", "")
#: R4 Appointment state diagram (hl7.org/fhir/R4/appointment.html#statemachine).
ALLOWED = {
    "proposed": {"pending", "booked", "cancelled", "entered-in-error"},
    "pending": {"booked", "cancelled", "entered-in-error"},
    "booked": {"arrived", "checked-in", "cancelled", "noshow", "entered-in-error"},
    "arrived": {"checked-in", "fulfilled", "cancelled", "noshow", "entered-in-error"},
    "checked-in": {"fulfilled", "cancelled", "noshow", "entered-in-error"},
    "waitlist": {"booked", "cancelled", "entered-in-error"},
}

app = FastAPI()
lock = threading.Lock()
store: dict[str, dict[str, Any]] = {}  # "Appointment/a1" -> resource
log_path = Path(os.environ["FHIR_TEST_LOG"])
tokens: set[str] = set()
public_key = (
    Path(os.environ["FHIR_TEST_PUBLIC_KEY"]).read_bytes()
    if os.environ.get("FHIR_TEST_PUBLIC_KEY")
    else None
)
schema: dict[str, Any] | None = json.loads(Path(SCHEMA_PATH).read_text()) if SCHEMA_PATH else None
type_validators: dict[str, Any] = {}


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Validate against the resource type's definition in the R4 schema.

    The schema's root is a oneOf over every resource type keyed by resourceType; going to
    that type's definition directly checks the same rules without trying all 150 of them.
    """
    if schema is None:
        return []
    kind = str(resource.get("resourceType", ""))
    if kind not in schema["definitions"]:
        return [f"schema: unknown resourceType {kind!r}"]
    validator = type_validators.get(kind)
    if validator is None:
        validator = jsonschema.Draft6Validator(
            {"$ref": f"#/definitions/{kind}", "definitions": schema["definitions"]}
        )
        type_validators[kind] = validator
    return [f"schema: {e.message[:200]}" for e in validator.iter_errors(resource)]


def _load() -> None:
    seed = os.environ.get("FHIR_TEST_SEED")
    if seed and Path(seed).exists():
        for resource in json.loads(Path(seed).read_text()):
            resource.setdefault("meta", {})["versionId"] = "1"
            store[f"{resource['resourceType']}/{resource['id']}"] = resource
    # Replay writes made before a restart.
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("type") == "write":
                store[entry["key"]] = entry["resource"]


_load()


def outcome(status: int, text: str) -> JSONResponse:
    """Answer with an OperationOutcome."""
    return JSONResponse(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
        },
        status_code=status,
        media_type="application/fhir+json",
    )


def _log(entry: dict[str, Any]) -> None:
    with log_path.open("a") as fh:
        fh.write(json.dumps(entry) + "\n")


def validate(resource: dict[str, Any]) -> list[str]:
    """Return the problems both validators find (empty: valid)."""
    problems: list[str] = []
    try:
        model: Any = {
            "Appointment": Appointment,
            "Communication": Communication,
            "Encounter": Encounter,
            "QuestionnaireResponse": QuestionnaireResponse,
        }[resource.get("resourceType", "")]
        model.model_validate(resource)
    except KeyError:
        problems.append(f"unexpected resourceType {resource.get('resourceType')!r}")
    except Exception as exc:  # noqa: BLE001 - the validator's message goes back
        problems.append(f"fhir.resources: {str(exc)[:300]}")
    problems += schema_errors(resource)
    return problems


def authorised(request: Request) -> bool:
    """Return whether the request carries a token we issued (always, without a key)."""
    if public_key is None:
        return True
    header = request.headers.get("authorization", "")
    return header.removeprefix("Bearer ") in tokens


@app.post("/token")
def token(
    request: Request,
    grant_type: str = Form(),
    client_assertion_type: str = Form(),
    client_assertion: str = Form(),
    scope: str = Form(""),
) -> JSONResponse:
    """Issue an access token for a valid RS384/ES384 client assertion."""
    if public_key is None:
        return JSONResponse({"error": "unsupported"}, status_code=400)
    try:
        claims = jwt.decode(
            client_assertion,
            public_key,
            algorithms=["RS384", "ES384"],
            audience=str(request.url),
            options={"require": ["exp", "iss", "sub", "jti", "aud"]},
        )
    except jwt.PyJWTError as exc:
        _log({"type": "token_refused", "reason": str(exc)})
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    value = secrets.token_urlsafe(16)
    tokens.add(value)
    _log({"type": "token", "sub": claims["sub"], "scope": scope})
    return JSONResponse({"access_token": value, "token_type": "bearer", "expires_in": 300})


@app.get("/Appointment/{appointment_id}")
def read(appointment_id: str, request: Request) -> Response:
    """Read one appointment (with its version as ETag)."""
    if not authorised(request):
        return outcome(401, "no valid token")
    resource = store.get(f"Appointment/{appointment_id}")
    if resource is None:
        return outcome(404, f"Appointment/{appointment_id} not found")
    version = resource["meta"]["versionId"]
    return JSONResponse(
        resource, media_type="application/fhir+json", headers={"ETag": f'W/"{version}"'}
    )


@app.put("/Appointment/{appointment_id}")
async def update(appointment_id: str, request: Request) -> Response:
    """Update an appointment: validate it, check If-Match and the status transition."""
    if not authorised(request):
        return outcome(401, "no valid token")
    body = await request.json()
    problems = validate(body)
    if problems:
        _log({"type": "invalid", "problems": problems})
        return outcome(400, "; ".join(problems))
    key = f"Appointment/{appointment_id}"
    with lock:
        current = store.get(key)
        if current is None:
            return outcome(404, f"{key} not found")
        version = current["meta"]["versionId"]
        if_match = request.headers.get("if-match")
        if if_match and if_match.strip() not in (f'W/"{version}"', f'"{version}"'):
            return outcome(412, f"version {version} is current")
        old, new = current["status"], body["status"]
        if new != old and new not in ALLOWED.get(old, set()):
            _log({"type": "refused", "key": key, "from": old, "to": new})
            return outcome(422, f"Appointment status cannot go from {old} to {new}")
        body["meta"] = {"versionId": str(int(version) + 1)}
        store[key] = body
        _log({"type": "write", "key": key, "from": old, "to": new, "resource": body})
    return JSONResponse(body, media_type="application/fhir+json")


@app.put("/{kind}/{resource_id}")
async def create_or_update(kind: str, resource_id: str, request: Request) -> Response:
    """Create or replace a Communication, Encounter or QuestionnaireResponse (update as create)."""
    if not authorised(request):
        return outcome(401, "no valid token")
    if kind not in ("Communication", "Encounter", "QuestionnaireResponse"):
        return outcome(405, f"{kind} is read-only here")
    body = await request.json()
    problems = validate(body)
    if body.get("resourceType") != kind or body.get("id") != resource_id:
        problems.append("resourceType/id differ from the URL")
    if problems:
        _log({"type": "invalid", "problems": problems})
        return outcome(400, "; ".join(problems))
    key = f"{kind}/{resource_id}"
    with lock:
        created = key not in store
        store[key] = body
        _log({"type": "put", "key": key, "created": created, "resource": body})
    return JSONResponse(
        body, status_code=201 if created else 200, media_type="application/fhir+json"
    )


@app.get("/Appointment")
def search(request: Request) -> Response:
    """Search appointments in a date range with their patients, a few per page."""
    if not authorised(request):
        return outcome(401, "no valid token")
    params = request.query_params
    count = int(params.get("_count", "100"))
    page_size = min(count, int(os.environ.get("FHIR_TEST_PAGE_SIZE", "3")))
    page = int(params.get("_page", "0"))
    bounds = params.getlist("date")
    lower = next((b[2:] for b in bounds if b.startswith("ge")), "")
    upper = next((b[2:] for b in bounds if b.startswith("lt")), "9999")
    from datetime import datetime

    def within(res: dict[str, Any]) -> bool:
        start = datetime.fromisoformat(res["start"])
        return (not lower or start >= datetime.fromisoformat(lower)) and (
            upper == "9999" or start < datetime.fromisoformat(upper)
        )

    matches = sorted(
        (r for k, r in store.items() if k.startswith("Appointment/") and within(r)),
        key=lambda r: r["id"],
    )
    chunk = matches[page * page_size : (page + 1) * page_size]
    entries: list[dict[str, Any]] = []
    for res in chunk:
        entries.append({"resource": res, "search": {"mode": "match"}})
        if params.get("_include") == "Appointment:patient":
            for participant in res.get("participant", []):
                ref = participant.get("actor", {}).get("reference", "")
                if ref.startswith("Patient/") and ref in store:
                    entries.append({"resource": store[ref], "search": {"mode": "include"}})
    links = [{"relation": "self", "url": str(request.url)}]
    if (page + 1) * page_size < len(matches):
        query = [(k, v) for k, v in params.multi_items() if k != "_page"] + [("_page", page + 1)]
        from urllib.parse import urlencode

        links.append(
            {
                "relation": "next",
                "url": f"{request.url.scheme}://{request.url.netloc}/Appointment?{urlencode(query)}",
            }
        )
    _log({"type": "search", "page": page})
    return JSONResponse(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": links,
            "entry": entries,
        },
        media_type="application/fhir+json",
    )
