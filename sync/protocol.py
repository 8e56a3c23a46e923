"""Wire protocol between kiosk and clinic server: the one source of truth for both ends.

Everything that crosses the network is defined here: endpoint paths, the record kinds a
kiosk submits (and the exact shape of each record's body), the answers the server gives,
what a kiosk pulls, and the helpers both ends must compute identically (canonical JSON and
body hash for idempotency, memory-hard match keys for appointments, follow-up tokens).

This module imports neither Kivy nor FastAPI nor SQLAlchemy; only pydantic, argon2-cffi and
sync.rules (the rules both ends share: phone numbers, score ranges; standard library only).
See docs/protocol.md for the prose version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from argon2.low_level import Type, hash_secret_raw
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
)

from sync import rules
from sync.rules import MAX_PHONE_CHARS as MAX_PHONE_CHARS

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
# MAX_PHONE_CHARS: sync.rules, with the rest of the phone number rule.
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
# Identity matching: memory-hard keys under a per-day salt, so a kiosk never stores names
# and a stolen kiosk token or disk does not cheaply reveal who is coming (docs/security.md).
# ---------------------------------------------------------------------------------------
#: argon2id cost of one match key: about 60 ms and 32 MiB on one core (bench/matching.py).
MATCH_KDF_TIME_COST = 2
MATCH_KDF_MEMORY_KIB = 32 * 1024
MATCH_KDF_PARALLELISM = 1
MATCH_SALT_BYTES = 16


def normalize_last_name(last_name: str) -> str:
    """Fold a last name so that case, accents, spaces, hyphens and apostrophes don't matter."""
    decomposed = unicodedata.normalize("NFKD", last_name)
    kept = [
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch)[0] in ("L", "N")
    ]
    return "".join(kept).casefold()


#: Words that join the parts of a compound surname ("de la Cruz", "van der Berg"): never a
#: surname part on their own, so "de" + a birth date matches nobody.
SURNAME_PARTICLES = frozenset(
    {"al", "bin", "ben", "da", "das", "de", "del", "della", "der", "di", "do", "dos", "du"}
    | {"e", "el", "i", "la", "las", "le", "les", "lo", "los", "san", "st", "ten", "ter"}
    | {"van", "von", "y"}
)
#: A surname yields at most this many match keys: the whole name and its main parts.
MAX_SURNAME_VARIANTS = 4


def surname_variants(last_name: str) -> list[str]:
    """Return the folded forms a patient may type for a surname: the whole, then each part.

    "García López" gives ["garcialopez", "garcia", "lopez"]: patients type the first
    surname alone, the second alone, or both with or without a hyphen. Particles and
    one-letter parts are no surname on their own.
    """
    whole = normalize_last_name(last_name)
    variants = [whole] if whole else []
    for raw in re.split(r"[\s\-\u2010\u2011\u2012\u2013\u2014_/,.]+", last_name):
        part = normalize_last_name(raw)
        if len(part) < 2 or part in SURNAME_PARTICLES or part in variants:
            continue
        variants.append(part)
        if len(variants) == MAX_SURNAME_VARIANTS:
            break
    return variants


def match_day_salt(pepper: bytes, day: date) -> str:
    """Return the hex salt of one clinic day, derived from the server's secret pepper."""
    digest = hmac.new(pepper, f"match-day|{day.isoformat()}".encode(), hashlib.sha256).digest()
    return digest[:MATCH_SALT_BYTES].hex()


@dataclass(frozen=True)
class MatchSecret:
    """What one argon2id run over (last name, birth date) under a day's salt yields."""

    match_key: str  # hex; the lookup key a kiosk stores for the appointment
    phone_secret: bytes  # never stored: keys the phone check of colliding appointments

    def phone_key(self, phone_last4: str) -> str:
        """Return the keyed hash of a phone number's last four digits for this holder."""
        digits = "".join(ch for ch in phone_last4 if ch.isdigit())[-4:]
        return hmac.new(self.phone_secret, f"phone|{digits}".encode(), hashlib.sha256).hexdigest()


def derive_match_secret(kdf: MatchKdf, last_name: str, date_of_birth: date) -> MatchSecret:
    """Run the day's argon2id over a normalized last name and birth date (one per match)."""
    password = f"{normalize_last_name(last_name)}|{date_of_birth.isoformat()}".encode()
    raw = hash_secret_raw(
        secret=password,
        salt=bytes.fromhex(kdf.salt),
        time_cost=kdf.time_cost,
        memory_cost=kdf.memory_kib,
        parallelism=kdf.parallelism,
        hash_len=64,
        type=Type.ID,
    )
    return MatchSecret(match_key=raw[:32].hex(), phone_secret=raw[32:])


def derive_appointment_keys(
    kdf: MatchKdf, last_name: str, date_of_birth: date, phone: str | None
) -> list[tuple[str, str | None]]:
    """Return (match key, phone key) for each surname variant of an appointment, whole first.

    The phone key is None when the phone holds fewer than four digits. Whoever publishes
    the keys sends a phone key only where a match key is shared (`shared_match_keys`).
    """
    digits = sum(ch.isdigit() for ch in phone or "")
    keys: list[tuple[str, str | None]] = []
    for variant in surname_variants(last_name):
        secret = derive_match_secret(kdf, variant, date_of_birth)
        keys.append((secret.match_key, secret.phone_key(phone or "") if digits >= 4 else None))
    return keys


def shared_match_keys(keys_per_appointment: Iterable[Iterable[tuple[str, str | None]]]) -> set[str]:
    """Return the match keys that more than one appointment of the day holds."""
    holders: Counter[str] = Counter()
    for keys in keys_per_appointment:
        holders.update({match for match, _ in keys})
    return {match for match, count in holders.items() if count > 1}


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
# tabs and line breaks, one-line fields nothing below U+0020 (nor DEL). Unpaired surrogates
# are refused by pydantic for every str field (they cannot be encoded as UTF-8).
_FREE_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
_ONE_LINE = r"^[^\x00-\x1F\x7F]*$"


OneLine = Annotated[StrictStr, Field(pattern=_ONE_LINE)]
FreeText = Annotated[StrictStr, Field(pattern=_FREE_TEXT)]


def _not_a_number(value: Any) -> Any:
    # Lax pydantic reads 0 or 1.5 as a timestamp and True as 1: the wire is strict.
    if isinstance(value, bool | int | float):
        raise ValueError("a number or boolean is not accepted here")
    return value


def _not_bool_or_text(value: Any) -> Any:
    # Lax pydantic reads True as 1 and "5" as 5; 5.0 (a JSON integer) stays accepted.
    if isinstance(value, bool | str | bytes):
        raise ValueError("a boolean or text is not a number")
    return value


def _utc_convertible(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    return value


def _not_in_future(value: date) -> date:
    # One day of slack: a kiosk east of the server may already be on tomorrow's date.
    if value > (datetime.now(UTC) + timedelta(days=1)).date():
        raise ValueError("date of birth is in the future")
    return value


#: A timezone-aware ISO 8601 timestamp (a string on the wire; never a number).
Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_utc_convertible)
]
WireDate = Annotated[date, BeforeValidator(_not_a_number)]
BirthDate = Annotated[WireDate, AfterValidator(_not_in_future)]
RecordId = Annotated[UUID, BeforeValidator(_not_a_number)]

Token = Annotated[
    StrictStr,
    Field(
        min_length=FOLLOW_UP_TOKEN_CHARS,
        max_length=FOLLOW_UP_TOKEN_CHARS,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]
Language = Annotated[
    StrictStr, Field(min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
]


def _phone(value: str) -> str:
    if not rules.is_phone(value):
        raise ValueError(
            f"a phone number holds {rules.MIN_PHONE_DIGITS}-{rules.MAX_PHONE_DIGITS} digits"
            " and only + ( ) - and spaces besides"
        )
    return value


#: A whole number on the wire (never a boolean, never text), 1 to 5.
Score5 = Annotated[
    int, Field(ge=rules.SCORE_MIN, le=rules.SCORE_MAX), BeforeValidator(_not_bool_or_text)
]
FaceScore = Annotated[
    int, Field(ge=rules.FACE_MIN, le=rules.FACE_MAX), BeforeValidator(_not_bool_or_text)
]
RecommendScore = Annotated[
    int,
    Field(ge=rules.RECOMMEND_MIN, le=rules.RECOMMEND_MAX),
    BeforeValidator(_not_bool_or_text),
]
Name = Annotated[OneLine, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Ref = Annotated[OneLine, Field(min_length=1, max_length=64)]
QueueNumber = Annotated[OneLine, Field(min_length=1, max_length=16)]
KindName = Annotated[OneLine, Field(min_length=1, max_length=32)]
AppVersion = Annotated[OneLine, Field(min_length=1, max_length=32)]
Reason = Annotated[FreeText, Field(min_length=1, max_length=MAX_REASON_CHARS)]
QuestionText = Annotated[FreeText, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
Comment = Annotated[FreeText, Field(min_length=1, max_length=MAX_COMMENT_CHARS)]
#: A phone number as sync.rules.is_phone has it (pattern and length also show in the schema).
Phone = Annotated[
    StrictStr,
    Field(
        min_length=rules.MIN_PHONE_DIGITS,
        max_length=MAX_PHONE_CHARS,
        pattern=rules.PHONE_PATTERN,
    ),
    AfterValidator(_phone),
]
Email = Annotated[
    StrictStr,
    Field(
        min_length=3,
        max_length=MAX_EMAIL_CHARS,
        pattern=rules.EMAIL_PATTERN,
    ),
]


def unstorable_text(value: Any) -> str | None:
    """Return why a JSON value holds text no database can store (NUL, lone surrogate)."""
    if isinstance(value, str):
        if "\x00" in value:
            return "NUL character in text"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "unpaired surrogate in text"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = unstorable_text(key) or unstorable_text(item)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = unstorable_text(item)
            if problem:
                return problem
    return None


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
    checked_in_at: Timestamp
    queue_number: QueueNumber
    follow_up_token: Token
    language: Language
    #: The language an interpreter should speak, when the patient asked for one (optional:
    #: kiosks that predate it send no such field, and their records stay valid).
    interpreter_language: Language | None = None


class WalkInBody(_Strict):
    """A patient without a matching appointment registers at the kiosk."""

    first_name: Name
    last_name: Name
    date_of_birth: BirthDate
    reason: Reason
    phone: Phone | None = None
    arrived_at: Timestamp
    queue_number: QueueNumber
    follow_up_token: Token
    language: Language
    interpreter_language: Language | None = None


class ContactUpdateBody(_Strict):
    """New phone, email and/or interpreter request for an earlier check-in or walk-in."""

    check_in_id: RecordId
    phone: Phone | None = None
    email: Email | None = None
    #: Asked for after the check-in was saved (the same request as on CheckInBody).
    interpreter_language: Language | None = None


class QuestionBody(_Strict):
    """A question typed for the staff; the answer appears on the follow-up page."""

    text: QuestionText
    contact_name: Name | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    emergency_flag: StrictBool = False
    asked_at: Timestamp
    follow_up_token: Token
    language: Language


class RatingBody(_Strict):
    """The one-tap face rating (1 = very unhappy ... 5 = very happy), stored at the tap."""

    face: FaceScore
    appointment_ref: Ref | None = None
    rated_at: Timestamp
    follow_up_token: Token
    language: Language


class RatingDetailBody(_Strict):
    """The optional extra answers that follow a face rating (FHIR QuestionnaireResponse).

    One field per sync.rules.RATING_DIMENSIONS and RECOMMEND_DIMENSION (a test holds them
    equal), written out so the wire's schema reads plainly.
    """

    rating_id: RecordId
    ease_of_contact: Score5 | None = None
    waiting_time: Score5 | None = None
    politeness: Score5 | None = None
    kept_informed: Score5 | None = None
    overall: Score5 | None = None
    would_recommend: RecommendScore | None = None
    comment: Comment | None = None
    consent_to_contact: StrictBool = False
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

    id: RecordId
    kind: KindName
    created_at: Timestamp
    body: dict[str, Any]


class RecordEnvelope(_Strict):
    """One record as the server first reads it: only the id must be right for the batch.

    Everything else is checked record by record (`WireRecord`, then `parse_body`), so one
    record the server cannot use gets its own 422 and never blocks the rest of the batch.
    """

    id: RecordId
    kind: Any = None
    created_at: Any = None
    body: Any = None


class IngestBatch(_Strict):
    records: Annotated[list[RecordEnvelope], Field(min_length=1, max_length=MAX_BATCH_RECORDS)]


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
    code: Annotated[OneLine, Field(min_length=6, max_length=32)]
    kiosk_name: Annotated[OneLine, Field(min_length=1, max_length=64)]
    app_version: AppVersion


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
    app_version: AppVersion
    backlog: Annotated[
        int, Field(ge=0, le=2**31 - 1), BeforeValidator(_not_bool_or_text)
    ]  # outbox rows not yet acknowledged
    failed: Annotated[
        int, Field(ge=0, le=2**31 - 1), BeforeValidator(_not_bool_or_text)
    ]  # outbox rows parked as failed
    last_error: Annotated[FreeText, Field(max_length=500)] | None = None
    #: Unexpected exceptions the kiosk recovered from since it was installed, and the last.
    crash_count: Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_not_bool_or_text)] = 0
    last_crash_at: Timestamp | None = None
    #: The kiosk's clock minus the server's Date header, when it was last measured.
    clock_skew_seconds: (
        Annotated[
            int,
            Field(ge=-MAX_CLOCK_SKEW_SECONDS, le=MAX_CLOCK_SKEW_SECONDS),
            BeforeValidator(_not_bool_or_text),
        ]
        | None
    ) = None
    clock_problem: ClockProblem | None = None


class HeartbeatResponse(_Strict):
    server_time: datetime


# ---------------------------------------------------------------------------------------
# Pull: what a kiosk needs, in privacy-preserving form. ETag / If-None-Match: 304 when
# nothing changed.
# ---------------------------------------------------------------------------------------
class MatchKdf(_Strict):
    """The argon2id parameters and salt of one clinic day's match keys."""

    day: date  # the clinic day (clinic time zone) these keys are valid for
    salt: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]  # match_day_salt(pepper, day)
    time_cost: Annotated[int, Field(ge=1, le=16)] = MATCH_KDF_TIME_COST
    memory_kib: Annotated[int, Field(ge=8, le=1024 * 1024)] = MATCH_KDF_MEMORY_KIB
    parallelism: Annotated[int, Field(ge=1, le=8)] = MATCH_KDF_PARALLELISM


class MatchKeyPair(_Strict):
    """Another match key of an appointment (one surname part) and, if shared, its phone key."""

    match_key: str
    phone_key: str | None = None


class KioskAppointment(_Strict):
    """Today's appointment as the kiosk may know it: match keys and what it may show."""

    ref: Annotated[str, Field(min_length=1, max_length=64)]
    match_key: str  # derive_match_secret(kdf, last_name, date_of_birth).match_key
    #: Only when another of the day's appointments has the same match key: the holder's
    #: MatchSecret.phone_key(last 4 digits), so the kiosk can tell the two apart.
    phone_key: str | None = None
    starts_at: datetime
    first_initial: Annotated[str, Field(max_length=1)]
    clinician: Annotated[str, Field(max_length=80)]
    arrived: bool = False
    #: Keys of each part of a compound surname ("garcia", "lopez" for "García López"),
    #: so a patient typing one surname alone is found (sync.protocol.surname_variants).
    part_keys: Annotated[list[MatchKeyPair], Field(max_length=MAX_SURNAME_VARIANTS)] = []


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


class WaitRange(_Strict):
    """A wait in whole minutes: low (the median) to high (the 90th percentile)."""

    low: Annotated[int, Field(ge=0)]
    high: Annotated[int, Field(ge=0)]


#: The pull's query parameter by which a kiosk asks for the wait ranges below. A server
#: sends them only when asked: a kiosk of an earlier version refuses unknown fields, and
#: a server of an earlier version ignores the parameter (the kiosk keeps the single figure).
PULL_WAIT_RANGES_PARAM = "wait_ranges"


class QueueState(_Strict):
    waiting: Annotated[int, Field(ge=0)]
    estimated_wait_minutes: Annotated[int, Field(ge=0)]
    #: For a walk-in arriving now (only when the kiosk asked, and history allows).
    walk_in_wait: WaitRange | None = None
    #: Per clinician: minutes from a patient's appointment time to their call, for a patient
    #: checking in now (only when asked; clinicians without enough history are left out).
    clinician_lateness: dict[Annotated[str, Field(max_length=80)], WaitRange] | None = None


class KioskPull(_Strict):
    generated_at: datetime
    match_kdf: MatchKdf  # today's salt and cost; the kiosk keeps no other day's
    clinic: ClinicSettings
    faq: list[FaqEntry]
    appointments: list[KioskAppointment]
    queue: QueueState
