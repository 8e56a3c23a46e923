"""Wire protocol between kiosk and clinic server: the one source of truth for both ends.

Everything that crosses the network is defined here: endpoint paths, the record kinds a
kiosk submits (and the exact shape of each record's body), the answers the server gives,
what a kiosk pulls, and the helpers both ends must compute identically (canonical JSON and
body hash for idempotency, keyed match hashes for appointments, follow-up tokens).

This module imports neither Kivy nor FastAPI nor SQLAlchemy; only pydantic.
See docs/protocol.md for the prose version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 1

# ---------------------------------------------------------------------------------------
# Endpoints (all JSON). Kiosk routes need "Authorization: Bearer <kiosk token>" except PAIR.
# ---------------------------------------------------------------------------------------
API_PREFIX = "/api/kiosk/v1"
# POST PairRequest -> PairResponse (201); a wrong, expired or used code -> 400 (not 401:
# the kiosk has no token yet, and retrying the same code cannot help).
PAIR_PATH = f"{API_PREFIX}/pair"
INGEST_PATH = f"{API_PREFIX}/records"  # POST IngestBatch -> IngestResponse (200)
PULL_PATH = f"{API_PREFIX}/pull"  # GET, If-None-Match -> KioskPull (200) | 304
HEARTBEAT_PATH = f"{API_PREFIX}/heartbeat"  # POST Heartbeat -> HeartbeatResponse (200)
FOLLOW_UP_PATH = "/f/{token}"  # patient page opened from the QR code (HTML)
HEALTH_PATH = "/healthz"

#: Largest batch a kiosk sends and the server accepts (more -> 413 for the whole request).
MAX_BATCH_RECORDS = 200
#: Largest request body the server reads (more -> 413).
MAX_BODY_BYTES = 2 * 1024 * 1024

# Free-text limits; both ends enforce them (the kiosk with a translated message).
MAX_NAME_CHARS = 80
MAX_REASON_CHARS = 500
MAX_QUESTION_CHARS = 1000
MAX_COMMENT_CHARS = 1000
MAX_PHONE_CHARS = 32
MAX_EMAIL_CHARS = 254

#: Follow-up tokens carry 144 random bits (>= 128 required), URL-safe base64, 24 chars.
FOLLOW_UP_TOKEN_BYTES = 18
FOLLOW_UP_TOKEN_CHARS = 24


def new_follow_up_token() -> str:
    """Return a fresh opaque follow-up token (144 random bits, URL-safe)."""
    return secrets.token_urlsafe(FOLLOW_UP_TOKEN_BYTES)


def follow_up_url(server_base_url: str, token: str) -> str:
    """Return the patient follow-up URL for a token (what the QR code encodes)."""
    return server_base_url.rstrip("/") + FOLLOW_UP_PATH.format(token=token)


# ---------------------------------------------------------------------------------------
# Identity matching: keyed hashes, so a kiosk never stores a list of names.
# ---------------------------------------------------------------------------------------
def normalize_last_name(last_name: str) -> str:
    """Fold a last name so that case, accents, spaces, hyphens and apostrophes don't matter."""
    decomposed = unicodedata.normalize("NFKD", last_name)
    kept = [
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch)[0] in ("L", "N")
    ]
    return "".join(kept).casefold()


def match_key(secret: bytes, last_name: str, date_of_birth: date) -> str:
    """Return the keyed hash (HMAC-SHA256, hex) that identifies an appointment holder."""
    message = f"{normalize_last_name(last_name)}|{date_of_birth.isoformat()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def phone_key(secret: bytes, phone_last4: str) -> str:
    """Return the keyed hash of a phone number's last four digits."""
    digits = "".join(ch for ch in phone_last4 if ch.isdigit())[-4:]
    return hmac.new(secret, f"phone|{digits}".encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------
# Idempotency: the server stores each record once, keyed by its UUID, and compares bodies
# by this hash (same UUID + same hash: duplicate, accepted again; different hash: 409).
# ---------------------------------------------------------------------------------------
def canonical_json(body: Any) -> str:
    """Serialize JSON-compatible data canonically (sorted keys, no spaces, UTF-8)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_hash(body: Any) -> str:
    """Return the SHA-256 hex digest of a record body's canonical JSON."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------
# Record bodies, one model per kind. extra="forbid": an unknown field is a 422.
# ---------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# PostgreSQL cannot store NUL, and no patient types control characters: free text may hold
# tabs and line breaks, one-line fields nothing below U+0020 (nor DEL).
_FREE_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
_ONE_LINE = r"^[^\x00-\x1F\x7F]*$"


def _one_line(min_length: int, max_length: int) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=_ONE_LINE)


def _free_text(min_length: int, max_length: int) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=_FREE_TEXT)


Token = Annotated[
    str,
    Field(
        min_length=FOLLOW_UP_TOKEN_CHARS,
        max_length=FOLLOW_UP_TOKEN_CHARS,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]
Language = Annotated[str, Field(min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")]
Score5 = Annotated[int, Field(ge=1, le=5)]
Name = Annotated[str, _one_line(1, MAX_NAME_CHARS)]
Ref = Annotated[str, _one_line(1, 64)]
QueueNumber = Annotated[str, _one_line(1, 16)]
Phone = Annotated[str, Field(min_length=4, max_length=MAX_PHONE_CHARS, pattern=r"^\+?[0-9 ()-]+$")]
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=MAX_EMAIL_CHARS,
        pattern=r"^[^@\s\x00-\x1F\x7F]+@[^@\s\x00-\x1F\x7F]+\.[^@\s\x00-\x1F\x7F]+$",
    ),
]


class RecordKind(StrEnum):
    CHECK_IN = "check_in"
    WALK_IN = "walk_in"
    CONTACT_UPDATE = "contact_update"
    QUESTION = "question"
    RATING = "rating"
    RATING_DETAIL = "rating_detail"


class CheckInBody(_Strict):
    """A patient with an appointment today says they have arrived (FHIR: status=arrived)."""

    appointment_ref: Ref
    checked_in_at: datetime
    queue_number: QueueNumber
    follow_up_token: Token
    language: Language


class WalkInBody(_Strict):
    """A patient without a matching appointment registers at the kiosk."""

    first_name: Name
    last_name: Name
    date_of_birth: date
    reason: Annotated[str, _free_text(1, MAX_REASON_CHARS)]
    phone: Phone | None = None
    arrived_at: datetime
    queue_number: QueueNumber
    follow_up_token: Token
    language: Language


class ContactUpdateBody(_Strict):
    """New phone and/or email for the patient of an earlier check-in or walk-in."""

    check_in_id: UUID
    phone: Phone | None = None
    email: Email | None = None


class QuestionBody(_Strict):
    """A question typed for the staff; the answer appears on the follow-up page."""

    text: Annotated[str, _free_text(1, MAX_QUESTION_CHARS)]
    contact_name: Name | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    emergency_flag: bool = False
    asked_at: datetime
    follow_up_token: Token
    language: Language


class RatingBody(_Strict):
    """The one-tap face rating (1 = very unhappy ... 5 = very happy), stored at the tap."""

    face: Score5
    appointment_ref: Ref | None = None
    rated_at: datetime
    follow_up_token: Token
    language: Language


class RatingDetailBody(_Strict):
    """The optional extra answers that follow a face rating (FHIR QuestionnaireResponse)."""

    rating_id: UUID
    ease_of_contact: Score5 | None = None
    waiting_time: Score5 | None = None
    politeness: Score5 | None = None
    kept_informed: Score5 | None = None
    overall: Score5 | None = None
    would_recommend: Annotated[int, Field(ge=0, le=10)] | None = None
    comment: Annotated[str, _free_text(1, MAX_COMMENT_CHARS)] | None = None
    consent_to_contact: bool = False
    contact_phone: Phone | None = None


BODY_MODELS: dict[RecordKind, type[_Strict]] = {
    RecordKind.CHECK_IN: CheckInBody,
    RecordKind.WALK_IN: WalkInBody,
    RecordKind.CONTACT_UPDATE: ContactUpdateBody,
    RecordKind.QUESTION: QuestionBody,
    RecordKind.RATING: RatingBody,
    RecordKind.RATING_DETAIL: RatingDetailBody,
}

#: Body fields that identify a patient; the kiosk erases them after ack + retention.
IDENTIFYING_FIELDS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.CHECK_IN: (),
    RecordKind.WALK_IN: ("first_name", "last_name", "date_of_birth", "reason", "phone"),
    RecordKind.CONTACT_UPDATE: ("phone", "email"),
    RecordKind.QUESTION: ("text", "contact_name", "contact_phone", "contact_email"),
    RecordKind.RATING: (),
    RecordKind.RATING_DETAIL: ("comment", "contact_phone"),
}


class RecordError(ValueError):
    """A record body that does not fit its kind; `errors` lists what is wrong."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def parse_body(kind: str, body: dict[str, Any]) -> _Strict:
    """Validate a record body against its kind's model, or raise RecordError."""
    try:
        record_kind = RecordKind(kind)
    except ValueError:
        raise RecordError(f"unknown record kind {kind!r}") from None
    try:
        return BODY_MODELS[record_kind].model_validate(body)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise RecordError(f"invalid {record_kind.value} body", errors) from None


def dump_body(body: _Strict) -> dict[str, Any]:
    """Return a body model as the JSON-compatible dict that goes on the wire."""
    return body.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------------------------------
# Ingest: one batch in, one result per record out (in the same order).
# ---------------------------------------------------------------------------------------
class WireRecord(_Strict):
    """One outbox record as sent. The body is validated per record by `parse_body`."""

    id: UUID
    kind: Annotated[str, _one_line(1, 32)]
    created_at: datetime
    body: dict[str, Any]


class IngestBatch(_Strict):
    records: Annotated[list[WireRecord], Field(min_length=1, max_length=MAX_BATCH_RECORDS)]


class RecordOutcome(StrEnum):
    STORED = "stored"  # new record, stored now (status 201)
    DUPLICATE = "duplicate"  # same id + same body already stored (status 200)
    CONFLICT = "conflict"  # same id, different body (status 409): never retry
    INVALID = "invalid"  # body does not fit its kind (status 422): never retry
    RETRY = "retry"  # server could not store it now (status 503): retry later


OUTCOME_STATUS: dict[RecordOutcome, int] = {
    RecordOutcome.STORED: 201,
    RecordOutcome.DUPLICATE: 200,
    RecordOutcome.CONFLICT: 409,
    RecordOutcome.INVALID: 422,
    RecordOutcome.RETRY: 503,
}

#: Outcomes after which the kiosk marks the outbox row as sent.
ACKED_OUTCOMES = frozenset({RecordOutcome.STORED, RecordOutcome.DUPLICATE})
#: Outcomes after which the kiosk parks the row as failed (with the detail as reason).
PARKED_OUTCOMES = frozenset({RecordOutcome.CONFLICT, RecordOutcome.INVALID})


class RecordResult(_Strict):
    id: UUID
    outcome: RecordOutcome
    status: int
    detail: str | None = None


class IngestResponse(_Strict):
    results: list[RecordResult]


# ---------------------------------------------------------------------------------------
# Pairing and heartbeat.
# ---------------------------------------------------------------------------------------
class PairRequest(_Strict):
    code: Annotated[str, _one_line(6, 32)]
    kiosk_name: Annotated[str, _one_line(1, 64)]
    app_version: Annotated[str, _one_line(1, 32)]


class PairResponse(_Strict):
    kiosk_id: UUID
    token: str  # shown once; the server keeps only its hash


class ClockProblem(StrEnum):
    """Why a kiosk distrusts its own clock (its check-in windows and "today" depend on it)."""

    BEFORE_RELEASE = "before_release"  # earlier than the kiosk software's release date
    SKEWED = "skewed"  # minutes away from the server's HTTP Date header


#: A clock reading this far (seconds) from the server's is implausible, not mere latency.
MAX_CLOCK_SKEW_SECONDS = 10 * 366 * 86400


class Heartbeat(_Strict):
    app_version: Annotated[str, _one_line(1, 32)]
    backlog: Annotated[int, Field(ge=0, le=2**31 - 1)]  # outbox rows not yet acknowledged
    failed: Annotated[int, Field(ge=0, le=2**31 - 1)]  # outbox rows parked as failed
    last_error: Annotated[str, _free_text(0, 500)] | None = None
    #: Unexpected exceptions the kiosk recovered from since it was installed, and the last.
    crash_count: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    last_crash_at: datetime | None = None
    #: The kiosk's clock minus the server's Date header, when it was last measured.
    clock_skew_seconds: (
        Annotated[int, Field(ge=-MAX_CLOCK_SKEW_SECONDS, le=MAX_CLOCK_SKEW_SECONDS)] | None
    ) = None
    clock_problem: ClockProblem | None = None


class HeartbeatResponse(_Strict):
    server_time: datetime


# ---------------------------------------------------------------------------------------
# Pull: what a kiosk needs, in privacy-preserving form. ETag / If-None-Match: 304 when
# nothing changed.
# ---------------------------------------------------------------------------------------
class KioskAppointment(_Strict):
    """Today's appointment as the kiosk may know it: keyed hashes and what it may show."""

    ref: Annotated[str, Field(min_length=1, max_length=64)]
    match_key: str  # match_key(secret, last_name, date_of_birth)
    phone_key: str | None = None  # phone_key(secret, last 4 digits)
    starts_at: datetime
    first_initial: Annotated[str, Field(max_length=1)]
    clinician: Annotated[str, Field(max_length=80)]
    arrived: bool = False


class FaqEntry(_Strict):
    id: str
    language: Language
    question: str
    answer: str
    position: int = 0


class ClinicSettings(_Strict):
    name: str
    phone: str | None = None
    address: str | None = None
    languages: list[Language] = ["en", "es"]
    default_language: Language = "en"
    check_in_early_minutes: int = 30
    check_in_late_minutes: int = 15


class QueueState(_Strict):
    waiting: Annotated[int, Field(ge=0)]
    estimated_wait_minutes: Annotated[int, Field(ge=0)]


class KioskPull(_Strict):
    generated_at: datetime
    hash_key: str  # hex of the secret for match_key/phone_key; rotated by the server
    clinic: ClinicSettings
    faq: list[FaqEntry]
    appointments: list[KioskAppointment]
    queue: QueueState
