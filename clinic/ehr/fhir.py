"""FHIR R4 client side: Appointment status out, Appointment + Patient search in.

Resources are parsed and built with `fhir.resources` (its R4B models, which share R4's
Appointment, Patient, QuestionnaireResponse and Communication). A status change reads the
appointment, leaves it alone when the EHR already has it further along, and writes it back
with If-Match on the version it read, so a retry after a crash never writes twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from fhir.resources.R4B.appointment import Appointment as FhirAppointment

from clinic.ehr.models import EventKind
from clinic.ehr.queue import Delivered, Refused, Retry, SendResult
from clinic.ehr.smart import SmartTokenSource, TokenError

FHIR_JSON = "application/fhir+json"

#: Our event -> the FHIR Appointment.status it means.
FHIR_STATUS: dict[EventKind, str] = {
    EventKind.ARRIVED: "arrived",
    EventKind.WAITING: "arrived",
    EventKind.CALLED_IN: "checked-in",
    EventKind.SEEN: "fulfilled",
    EventKind.NO_SHOW: "noshow",
}
#: How far along a visit each status is; we only ever move an appointment forward.
PROGRESS = {
    "proposed": 0,
    "pending": 0,
    "waitlist": 0,
    "booked": 0,
    "arrived": 1,
    "checked-in": 2,
    "fulfilled": 3,
    "noshow": 3,
    "cancelled": 3,
    "entered-in-error": 3,
}
RETRY_STATUSES = frozenset({408, 409, 412, 425, 429, 500, 502, 503, 504})


class FhirClient:
    """A FHIR R4 REST client on one requests.Session with explicit timeouts."""

    def __init__(
        self, base_url: str, *, timeout: float, auth: SmartTokenSource | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.auth = auth
        self.http = requests.Session()
        self.http.headers.update({"Accept": FHIR_JSON})

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request with the bearer token; on 401 get a new token and try once more."""
        for attempt in (1, 2):
            headers = dict(kwargs.pop("headers", None) or {})
            if self.auth is not None:
                headers["Authorization"] = f"Bearer {self.auth.token()}"
            response = self.http.request(
                method, url, headers=headers, timeout=self.timeout, **kwargs
            )
            if response.status_code == 401 and self.auth is not None and attempt == 1:
                self.auth.invalidate()
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            return response
        return response

    def appointment_url(self, appointment_id: str) -> str:
        """Return the URL of one Appointment."""
        return f"{self.base_url}/Appointment/{appointment_id}"

    def search_pages(self, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Yield each searchset Bundle, following Bundle.link[next] to the end."""
        url: str | None = f"{self.base_url}/Appointment"
        query: dict[str, str] | None = params
        seen: set[str] = set()
        while url:
            response = self.request("GET", url, params=query)
            response.raise_for_status()
            bundle = response.json()
            yield bundle
            query = None  # the next link carries the whole query
            url = next(
                (link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"),
                None,
            )
            if url in seen:
                raise ValueError("the FHIR server's next link repeats a page")
            if url:
                seen.add(url)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            from datetime import UTC, datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _problem(response: requests.Response) -> str:
    """Return the OperationOutcome's diagnostics (or the status line) of an error answer."""
    try:
        body = response.json()
        issues = body.get("issue", []) if isinstance(body, dict) else []
        texts = [i.get("diagnostics") or (i.get("details") or {}).get("text") for i in issues]
        text = "; ".join(t for t in texts if t)
    except (ValueError, AttributeError):
        text = ""
    return f"FHIR {response.status_code}" + (f": {text}" if text else "")


def send_status(client: FhirClient, appointment_id: str, event: EventKind) -> SendResult:
    """Move the EHR's Appointment to the status `event` means, never backwards."""
    wanted = FHIR_STATUS[event]
    url = client.appointment_url(appointment_id)
    try:
        response = client.request("GET", url)
        if response.status_code in (404, 410):
            return Refused(f"{_problem(response)} (appointment {appointment_id} not in the EHR)")
        if response.status_code != 200:
            return failure_result(response)
        current = FhirAppointment.model_validate(response.json())
        if PROGRESS.get(str(current.status), 0) >= PROGRESS[wanted]:
            return Delivered(f"EHR already {current.status}: left alone")
        current.status = wanted
        headers = {"Content-Type": FHIR_JSON}
        if current.meta is not None and current.meta.versionId:
            headers["If-Match"] = f'W/"{current.meta.versionId}"'
        body = resource_json(current)
        response = client.request("PUT", url, data=body.encode(), headers=headers)
    except TokenError as exc:
        return Retry(str(exc))
    except requests.RequestException as exc:
        return Retry(f"FHIR server unreachable: {type(exc).__name__}")
    except ValueError as exc:
        return Retry(f"unreadable answer from the FHIR server: {str(exc)[:200]}")
    if response.status_code in (200, 201):
        return Delivered(f"Appointment.status = {wanted}")
    return failure_result(response)


def failure_result(response: requests.Response) -> SendResult:
    """Map an error answer to retry (408/409/412/425/429, 5xx but 501/505) or refusal."""
    if response.status_code in RETRY_STATUSES or response.status_code >= 500:
        if response.status_code in (501, 505):
            return Refused(_problem(response))
        return Retry(_problem(response), _retry_after(response))
    return Refused(_problem(response))


def resource_json(resource: Any) -> str:
    """Serialize a fhir.resources model as FHIR JSON (no nulls)."""
    return str(resource.model_dump_json(exclude_none=True))


def resource_dict(resource: Any) -> dict[str, Any]:
    """Return a fhir.resources model as a JSON-ready dict."""
    return dict(json.loads(resource_json(resource)))


#: Identifiers we mint are URIs (urn:uuid:...), the FHIR way for ids without a registry.
URI_SYSTEM = "urn:ietf:rfc:3986"
AMBULATORY = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "code": "AMB",
    "display": "ambulatory",
}


#: Our event -> the FHIR Encounter.status of a walk-in's visit.
ENCOUNTER_STATUS: dict[EventKind, str] = {
    EventKind.WALK_IN: "arrived",
    EventKind.WAITING: "arrived",
    EventKind.CALLED_IN: "in-progress",
    EventKind.SEEN: "finished",
    EventKind.NO_SHOW: "cancelled",
}


def walk_in_encounter(
    *,
    arrival_id: str,
    last_name: str,
    first_name: str | None,
    date_of_birth: Any,
    arrived_at: Any,
    status: str = "arrived",
    ended_at: Any = None,
) -> Any:
    """Return the FHIR Encounter of a walk-in's visit, its Patient contained.

    A walk-in has no appointment to move to `arrived`: the kiosk's registration becomes an
    ambulatory Encounter that has arrived, with the patient as the kiosk took them down
    (name, birth date) in a contained Patient, for the EHR's own patient matching. Staff
    changes on the dashboard replace it with the next status (in-progress, finished,
    cancelled). Its id is the arrival's UUID, so a re-send replaces it rather than adding one.
    """
    from fhir.resources.R4B.encounter import Encounter

    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "patient",
        "name": [{"family": last_name, **({"given": [first_name]} if first_name else {})}],
    }
    if date_of_birth is not None:
        patient["birthDate"] = date_of_birth.isoformat()
    return Encounter.model_validate(
        {
            "resourceType": "Encounter",
            "id": arrival_id,
            "contained": [patient],
            "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{arrival_id}"}],
            "status": status,
            "class": AMBULATORY,
            "subject": {"reference": "#patient"},
            "period": {
                "start": arrived_at.isoformat(),
                **({"end": ended_at.isoformat()} if ended_at is not None else {}),
            },
        }
    )


def send_walk_in(client: FhirClient, encounter: Any) -> SendResult:
    """PUT a walk-in's Encounter (update as create: the same id every time)."""
    try:
        response = client.request(
            "PUT",
            f"{client.base_url}/Encounter/{encounter.id}",
            data=resource_json(encounter).encode(),
            headers={"Content-Type": FHIR_JSON},
        )
    except TokenError as exc:
        return Retry(str(exc))
    except requests.RequestException as exc:
        return Retry(f"FHIR server unreachable: {type(exc).__name__}")
    if response.status_code in (200, 201):
        return Delivered(f"Encounter (walk-in) status = {encounter.status}")
    return failure_result(response)
