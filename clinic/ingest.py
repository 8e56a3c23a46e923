"""Ingest kiosk records: idempotent by UUID, typed rows written in the same transaction.

Each valid record is inserted into received_records with INSERT ... ON CONFLICT (id) DO
NOTHING RETURNING id, on SQLite and PostgreSQL alike, so concurrent deliveries of one record
store exactly one row: the ids returned are new (STORED); for the others the stored body
hash decides DUPLICATE (same) or CONFLICT (different). Only new records change the typed
tables. A rating_detail or contact_update whose target has not arrived yet is kept
(applied_at NULL) and applied when its target arrives.

Security (docs/security.md): each record is validated on its own and, if the batch cannot
be stored in one go, stored in its own savepoint, so one record the server cannot use gets a
422 and the rest are stored. A kiosk amends only records it sent, and an answer never tells
a kiosk that an id or token belongs to another kiosk. Once applied, a stored body keeps no
identifying field (its hash still answers repeats). Timestamps outside the plausible window
are flagged and replaced by the time of receipt.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Insert, bindparam, select, text, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from clinic.config import Settings
from clinic.ehr import queue as ehr_queue
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Arrival,
    ArrivalStatus,
    FollowUpKind,
    FollowUpToken,
    Kiosk,
    Question,
    Rating,
    ReceivedRecord,
    ReviewState,
    utcnow,
)
from clinic.security import hash_token
from sync.protocol import (
    IDENTIFYING_FIELDS,
    OUTCOME_STATUS,
    CheckInBody,
    ContactUpdateBody,
    QuestionBody,
    RatingBody,
    RatingDetailBody,
    RecordEnvelope,
    RecordError,
    RecordKind,
    RecordOutcome,
    RecordResult,
    WalkInBody,
    WireRecord,
    body_hash,
    parse_body,
    unstorable_text,
)
from sync.rules import RATING_DIMENSIONS, RECOMMEND_DIMENSION

log = logging.getLogger(__name__)

PRIMARY_KINDS = frozenset(
    {RecordKind.CHECK_IN, RecordKind.WALK_IN, RecordKind.QUESTION, RecordKind.RATING}
)
#: What a rating_detail sets on its rating: each dimension's score, then the rest.
DETAIL_FIELDS = (*RATING_DIMENSIONS, RECOMMEND_DIMENSION, "comment", "contact_phone")


def result(record_id: uuid.UUID, outcome: RecordOutcome, detail: str | None = None) -> RecordResult:
    """Build one per-record result with its protocol status."""
    return RecordResult(
        id=record_id, outcome=outcome, status=OUTCOME_STATUS[outcome], detail=detail
    )


@dataclass
class _Valid:
    index: int
    record: WireRecord
    kind: RecordKind
    body: Any  # the parsed protocol model
    hash: str
    skewed: bool = False  # a timestamp outside the plausible window: use the receipt time

    def at(self, claimed: datetime, now: datetime) -> datetime:
        """Return the time to store for one of the record's timestamps."""
        return now if self.skewed else claimed


@dataclass
class _Batch:
    """What one transaction has created so far (objects not yet visible by query)."""

    arrivals: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)  # new rows
    ratings: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)  # new rows
    arrival_by_appointment: dict[int, uuid.UUID] = field(default_factory=dict)
    # A second check-in for an appointment: its id -> the arrival it was merged into.
    merged: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    applied: list[uuid.UUID] = field(default_factory=list)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database dialect {dialect}")


def _target_id(kind: RecordKind, body: Any) -> uuid.UUID | None:
    if kind == RecordKind.RATING_DETAIL:
        return uuid.UUID(str(body.rating_id))
    if kind == RecordKind.CONTACT_UPDATE:
        return uuid.UUID(str(body.check_in_id))
    return None


def ingest_batch(
    *,
    session: Session,
    settings: Settings,
    kiosk: Kiosk,
    records: Sequence[WireRecord | RecordEnvelope | dict[str, Any]],
) -> list[RecordResult]:
    """Store a batch and commit; return one result per record, in order.

    Commits itself so that a failed commit turns into RETRY results, never into STORED.
    """
    now = utcnow()
    results: list[RecordResult | None] = [None] * len(records)
    valid: list[_Valid] = []
    first: dict[uuid.UUID, _Valid] = {}
    repeats: list[tuple[int, uuid.UUID, str]] = []
    for index, raw in enumerate(records):
        checked = _validate(raw, settings=settings, now=now)
        if isinstance(checked, RecordResult):
            results[index] = checked
            continue
        record, body, digest, skewed = checked
        if record.id in first:
            repeats.append((index, record.id, digest))
            continue
        item = _Valid(index, record, RecordKind(record.kind), body, digest, skewed)
        first[record.id] = item
        valid.append(item)
    skewed_count = sum(item.skewed for item in valid)
    if skewed_count:
        log.warning(
            "ingest: kiosk %s sent %d records with an implausible clock", kiosk.id, skewed_count
        )

    try:
        try:
            with session.begin_nested():
                outcomes = _store(
                    session=session, settings=settings, kiosk=kiosk, items=valid, now=now
                )
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - any record may be the one at fault
            # Something in one record the database refuses (a reused follow-up token, a
            # value out of a column's range...): redo one record at a time, each in its own
            # savepoint, so the good ones are stored and the bad one alone gets a 422.
            log.info("ingest: batch refused (%s); storing record by record", type(exc).__name__)
            outcomes = _store_one_by_one(
                session=session, settings=settings, kiosk=kiosk, items=valid, now=now
            )
        _announce(
            session=session, settings=settings, kiosk=kiosk, items=valid, outcomes=outcomes, now=now
        )
        session.commit()
    except OperationalError:
        session.rollback()
        log.warning("ingest: database busy, %d records asked to retry", len(valid))
        outcomes = {
            item.record.id: result(item.record.id, RecordOutcome.RETRY, "database busy")
            for item in valid
        }

    for item in valid:
        results[item.index] = outcomes[item.record.id]
    for index, record_id, digest in repeats:
        earlier = first[record_id]
        outcome = outcomes[record_id]
        if outcome.outcome == RecordOutcome.RETRY:
            results[index] = outcome
        elif digest == earlier.hash:
            results[index] = result(record_id, RecordOutcome.DUPLICATE)
        else:
            results[index] = result(
                record_id, RecordOutcome.CONFLICT, "id repeated in the batch with another body"
            )
    return [r for r in results if r is not None]


#: Set in session.info when an alert raised at ingest waits for its e-mail.
ALERT_EMAIL_PENDING = "clinic_alert_email_pending"
_LIVE_KIND = {
    RecordKind.CHECK_IN: "arrival",
    RecordKind.WALK_IN: "arrival",
    # An update of an arrival (e.g. an interpreter asked for after the receipt).
    RecordKind.CONTACT_UPDATE: "arrival",
    RecordKind.QUESTION: "question",
    RecordKind.RATING: "rating",
}


def _announce(
    *,
    session: Session,
    settings: Settings,
    kiosk: Kiosk,
    items: list[_Valid],
    outcomes: dict[uuid.UUID, RecordResult],
    now: datetime,
) -> None:
    """Tell open dashboards about new records and run the alert rules that fire on arrival.

    In a savepoint of the ingest transaction: a failure here never costs a record.
    """
    from clinic.alerting import Stored, on_records_stored
    from clinic.models import AlertEmail

    stored = [
        Stored(
            kind=_LIVE_KIND[item.kind],
            record_id=str(item.record.id),
            emergency=bool(getattr(item.body, "emergency_flag", False)),
            at=item.at(item.body.rated_at, now) if item.kind == RecordKind.RATING else None,
        )
        for item in items
        if item.kind in _LIVE_KIND and outcomes[item.record.id].outcome == RecordOutcome.STORED
    ]
    if not stored:
        return
    # Same guard as around _store in ingest_batch: a lost database is raised, anything else is
    # contained (here: alerts must never refuse a record).
    try:
        with session.begin_nested():
            raised = on_records_stored(
                session=session, settings=settings, kiosk=kiosk, stored=stored, now=now
            )
    except OperationalError:
        raise
    except Exception as exc:  # noqa: BLE001 - alerts must never refuse a record
        log.error("ingest: live events/alerts failed: %s", type(exc).__name__)
        return
    if any(alert.email_state == AlertEmail.PENDING for alert in raised):
        session.info[ALERT_EMAIL_PENDING] = True


def _validate(
    raw: WireRecord | RecordEnvelope | dict[str, Any], *, settings: Settings, now: datetime
) -> RecordResult | tuple[WireRecord, Any, str, bool]:
    """Check one record on its own: its 422 result, or (record, body, hash, skewed)."""
    if isinstance(raw, RecordEnvelope):
        envelope = raw.model_dump()  # as received: JSON mode could not hold a lone surrogate
    elif isinstance(raw, WireRecord):
        envelope = raw.model_dump(mode="json")
    else:
        envelope = raw
    try:
        record_id = RecordEnvelope.model_validate(envelope).id
    except ValidationError:
        raise RecordError("record id missing or not a UUID") from None
    problem = unstorable_text(envelope)
    if problem:
        # Neither database can store it, and the body hash could not even be computed.
        return result(record_id, RecordOutcome.INVALID, problem)
    try:
        record = WireRecord.model_validate(envelope)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return result(
            record_id, RecordOutcome.INVALID, _describe(RecordError("invalid record", errors))
        )
    try:
        body = parse_body(record.kind, record.body)
    except RecordError as exc:
        return result(record_id, RecordOutcome.INVALID, _describe(exc))
    earliest = now - timedelta(days=settings.max_record_age_days)
    latest = now + timedelta(seconds=settings.clock_skew_seconds)
    claimed = [record.created_at, *_body_times(body)]
    skewed = any(not earliest <= moment <= latest for moment in claimed)
    return record, body, body_hash(record.body), skewed


def _body_times(body: Any) -> list[datetime]:
    names = ("checked_in_at", "arrived_at", "asked_at", "rated_at")
    return [getattr(body, name) for name in names if getattr(body, name, None) is not None]


def contains_nul(value: Any) -> bool:
    """Return whether any string inside a JSON value holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def _describe(exc: RecordError) -> str:
    parts = [str(exc)]
    for error in exc.errors[:5]:
        loc = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{loc}: {error.get('msg')}")
    return "; ".join(parts)[:500]


def _store_one_by_one(
    *, session: Session, settings: Settings, kiosk: Kiosk, items: list[_Valid], now: datetime
) -> dict[uuid.UUID, RecordResult]:
    """Store each record in its own savepoint; a record that fails alone gets a 422."""
    outcomes: dict[uuid.UUID, RecordResult] = {}
    for item in items:
        try:
            with session.begin_nested():
                outcomes.update(
                    _store(session=session, settings=settings, kiosk=kiosk, items=[item], now=now)
                )
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - this record alone is at fault
            # The type only: a driver's message can quote the record's values.
            log.info("ingest: record refused by the database: %s", type(exc).__name__)
            outcomes[item.record.id] = result(
                item.record.id,
                RecordOutcome.INVALID,
                f"the server cannot store this record ({type(exc).__name__})",
            )
    return outcomes


def _store(
    *, session: Session, settings: Settings, kiosk: Kiosk, items: list[_Valid], now: datetime
) -> dict[uuid.UUID, RecordResult]:
    if not items:
        return {}
    rows = [
        {
            "id": item.record.id,
            "kiosk_id": kiosk.id,
            "kind": item.kind.value,
            # An amendment keeps its body until it is applied (its target may come later).
            "body": (
                redact_body(item.kind, item.record.body)
                if item.kind in PRIMARY_KINDS
                else item.record.body
            ),
            "body_hash": item.hash,
            "created_at": item.record.created_at,
            "received_at": now,
            "target_id": _target_id(item.kind, item.body),
            "applied_at": None if item.kind not in PRIMARY_KINDS else now,
            "clock_skewed": item.skewed,
        }
        for item in items
    ]
    # A fixed order: two batches holding the same ids cannot deadlock on PostgreSQL.
    rows.sort(key=lambda row: str(row["id"]))
    insert = _insert(session)
    # One cached statement run as an executemany ("insertmanyvalues" batches it into
    # multi-row INSERTs); RETURNING gives exactly the ids this transaction inserted.
    stmt: Insert = (
        insert(ReceivedRecord.__table__)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ReceivedRecord.__table__.c.id)
    )
    stored = set(session.connection().execute(stmt, rows).scalars().all())
    outcomes: dict[uuid.UUID, RecordResult] = {}
    existing_ids = [item.record.id for item in items if item.record.id not in stored]
    if existing_ids:
        hashes = {
            rid: (digest, owner)
            for rid, digest, owner in session.execute(
                select(ReceivedRecord.id, ReceivedRecord.body_hash, ReceivedRecord.kiosk_id).where(
                    ReceivedRecord.id.in_(existing_ids)
                )
            )
        }
        for item in items:
            if item.record.id in stored:
                continue
            digest, owner = hashes.get(item.record.id, (None, None))
            if owner is not None and owner != kiosk.id:
                # Another kiosk's id: answer as for an id never seen, so the answer tells
                # nothing about other kiosks' records. Nothing is stored or changed.
                log.warning("ingest: kiosk %s sent an id another kiosk used", kiosk.id)
                outcomes[item.record.id] = result(item.record.id, RecordOutcome.STORED)
            elif digest == item.hash:
                outcomes[item.record.id] = result(item.record.id, RecordOutcome.DUPLICATE)
            else:
                outcomes[item.record.id] = result(
                    item.record.id,
                    RecordOutcome.CONFLICT,
                    "a different record with this id was already received",
                )
    new_items = [item for item in items if item.record.id in stored]
    _apply(session=session, settings=settings, kiosk=kiosk, items=new_items, now=now)
    for item in new_items:
        outcomes[item.record.id] = result(item.record.id, RecordOutcome.STORED)
    return outcomes


# ---------------------------------------------------------------------------------------
# Typed effects of newly stored records (Core executemany: the ORM's per-object
# bookkeeping costs more than the database work at thousands of records per second)
# ---------------------------------------------------------------------------------------
def _apply(
    *, session: Session, settings: Settings, kiosk: Kiosk, items: list[_Valid], now: datetime
) -> None:
    if not items:
        return
    _lock_targets(session=session, items=items)
    batch = _Batch()
    refs = {item.body.appointment_ref for item in items if item.kind == RecordKind.CHECK_IN}
    appointments: dict[str, Appointment] = {}
    if refs:
        appointments = {
            a.ref: a for a in session.scalars(select(Appointment).where(Appointment.ref.in_(refs)))
        }
        appointment_ids = [a.id for a in appointments.values()]
        for arrival_id, appointment_id in session.execute(
            select(Arrival.id, Arrival.appointment_id).where(
                Arrival.appointment_id.in_(appointment_ids)
            )
        ):
            if appointment_id is not None:
                batch.arrival_by_appointment[appointment_id] = arrival_id
    # A link's lifetime counts from the server's receipt, never from a kiosk's clock.
    expires_at = now + timedelta(days=settings.follow_up_token_days)
    questions: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []

    def token(value: str, kind: FollowUpKind, target: uuid.UUID, language: str) -> None:
        tokens.append(
            {
                "token_hash": hash_token(value),
                "kind": kind.value,
                "target_id": target,
                "language": language,
                "created_at": now,
                "expires_at": expires_at,
            }
        )

    for item in items:
        rid = item.record.id
        body = item.body
        if isinstance(body, CheckInBody):
            appointment = appointments.get(body.appointment_ref)
            target = batch.arrival_by_appointment.get(appointment.id) if appointment else None
            if target is None:
                target = rid
                batch.arrivals[rid] = _arrival_row(
                    rid,
                    kiosk,
                    now,
                    walk_in=False,
                    queue_number=body.queue_number,
                    arrived_at=item.at(body.checked_in_at, now),
                    language=body.language,
                    appointment_id=appointment.id if appointment else None,
                    appointment_ref=body.appointment_ref,
                    **_interpreter(body.interpreter_language, item.at(body.checked_in_at, now)),
                )
                if appointment is not None:
                    batch.arrival_by_appointment[appointment.id] = rid
                    if appointment.status == AppointmentStatus.BOOKED:
                        appointment.status = AppointmentStatus.ARRIVED
                        appointment.arrived_at = item.at(body.checked_in_at, now)
            else:
                batch.merged[rid] = target
            token(
                body.follow_up_token,
                FollowUpKind.CHECK_IN,
                target,
                body.language,
            )
        elif isinstance(body, WalkInBody):
            # Same call as the check-in branch's: what the two share is _arrival_row; the
            # fields each body brings differ.
            batch.arrivals[rid] = _arrival_row(
                rid,
                kiosk,
                now,
                walk_in=True,
                queue_number=body.queue_number,
                arrived_at=item.at(body.arrived_at, now),
                language=body.language,
                first_name=body.first_name,
                last_name=body.last_name,
                date_of_birth=body.date_of_birth,
                reason=body.reason,
                phone=body.phone,
                **_interpreter(body.interpreter_language, item.at(body.arrived_at, now)),
            )
            token(body.follow_up_token, FollowUpKind.WALK_IN, rid, body.language)
        elif isinstance(body, QuestionBody):
            questions.append(
                {
                    "id": rid,
                    "kiosk_id": kiosk.id,
                    "text": body.text,
                    "contact_name": body.contact_name,
                    "contact_phone": body.contact_phone,
                    "contact_email": body.contact_email,
                    "emergency": body.emergency_flag,
                    "language": body.language,
                    "asked_at": item.at(body.asked_at, now),
                    "received_at": now,
                    "done": False,
                }
            )
            token(body.follow_up_token, FollowUpKind.QUESTION, rid, body.language)
        elif isinstance(body, RatingBody):
            batch.ratings[rid] = {
                "id": rid,
                "kiosk_id": kiosk.id,
                "face": body.face,
                "appointment_ref": body.appointment_ref,
                "rated_at": item.at(body.rated_at, now),
                "language": body.language,
                "received_at": now,
                "consent_to_contact": False,
                "review_state": ReviewState.NEW.value,
                **dict.fromkeys(DETAIL_FIELDS),
                "detail_at": None,
            }
            token(body.follow_up_token, FollowUpKind.RATING, rid, body.language)

    # Amendments received earlier whose target arrives now (oldest first), then this batch's.
    this_batch = {item.record.id for item in items}
    applied_bodies: dict[uuid.UUID, tuple[RecordKind, dict[str, Any]]] = {}
    targets = list(batch.arrivals) + list(batch.merged) + list(batch.ratings)
    if targets:
        # Every target here came from this kiosk: only its own amendments may apply.
        waiting = session.execute(
            select(
                ReceivedRecord.id,
                ReceivedRecord.kind,
                ReceivedRecord.body,
                ReceivedRecord.created_at,
                ReceivedRecord.received_at,
                ReceivedRecord.clock_skewed,
            )
            .where(
                ReceivedRecord.target_id.in_(targets),
                ReceivedRecord.applied_at.is_(None),
                ReceivedRecord.kiosk_id == kiosk.id,
            )
            .order_by(ReceivedRecord.received_at, ReceivedRecord.created_at)
        ).all()
        for earlier_id, kind, raw, created_at, received_at, skewed in waiting:
            if earlier_id in this_batch:
                continue
            parsed = parse_body(kind, raw)
            at = received_at if skewed else created_at
            if _amend(session=session, batch=batch, body=parsed, created_at=at):
                batch.applied.append(earlier_id)
                applied_bodies[earlier_id] = (RecordKind(kind), raw)
    for item in items:
        if (
            item.kind in (RecordKind.RATING_DETAIL, RecordKind.CONTACT_UPDATE)
            and _sent_by(session=session, kiosk=kiosk, record_id=_target_id(item.kind, item.body))
            and _amend(
                session=session,
                batch=batch,
                body=item.body,
                created_at=item.at(item.record.created_at, now),
            )
        ):
            batch.applied.append(item.record.id)
            applied_bodies[item.record.id] = (item.kind, item.record.body)

    connection = session.connection()
    for model, rows in (
        (Arrival, list(batch.arrivals.values())),
        (Question, questions),
        (Rating, list(batch.ratings.values())),
    ):
        if rows:
            connection.execute(sa_insert(model), rows)
    if tokens:
        # A token already stored keeps pointing where it did: whoever sends it again (a
        # buggy or hostile kiosk) learns nothing, and the record is stored without it.
        connection.execute(
            _insert(session)(FollowUpToken.__table__).on_conflict_do_nothing(
                index_elements=["token_hash"]
            ),
            tokens,
        )
    ehr_queue.records_stored(
        session=session,
        arrivals=list(batch.arrivals.values()),
        ratings=list(batch.ratings.values()),
        now=now,
    )
    if batch.applied:
        session.execute(
            update(ReceivedRecord)
            .where(ReceivedRecord.id.in_(batch.applied))
            .values(applied_at=now)
        )
        for applied_id, (kind, raw) in applied_bodies.items():
            session.execute(
                update(ReceivedRecord)
                .where(ReceivedRecord.id == applied_id)
                .values(body=redact_body(kind, raw))
            )
    session.flush()


def redact_body(kind: RecordKind, body: dict[str, Any]) -> dict[str, Any]:
    """Return a stored body without what identifies a patient (the hash keeps the rest).

    The follow-up token is kept as its SHA-256 only: a second check-in's contact updates
    find the arrival it was merged into through it.
    """
    kept = {k: v for k, v in body.items() if k not in IDENTIFYING_FIELDS[kind]}
    token = kept.pop("follow_up_token", None)
    if isinstance(token, str):
        kept["follow_up_token_sha256"] = hash_token(token)
    return kept


def _sent_by(*, session: Session, kiosk: Kiosk, record_id: uuid.UUID | None) -> bool:
    """Return whether this kiosk sent the record an amendment points at."""
    if record_id is None:
        return False
    owner = session.scalar(select(ReceivedRecord.kiosk_id).where(ReceivedRecord.id == record_id))
    return owner == kiosk.id


#: A target (check-in or rating id) and its amendments meet under this advisory lock.
_ADVISORY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest(:keys) AS k ORDER BY k) s"
).bindparams(bindparam("keys", type_=postgresql.ARRAY(postgresql.BIGINT)))


def _lock_targets(*, session: Session, items: list[_Valid]) -> None:
    """On PostgreSQL, serialize the transactions that touch one target (transaction locks).

    Under READ COMMITTED two transactions that are both open do not see each other: a
    check-in and its contact update stored at the same moment would each miss the other
    (the update pending for ever), and two kiosks checking one appointment in at once would
    both create an arrival. Each batch first locks every record id that amendments point at
    (check-ins, walk-ins, ratings and the targets of its amendments) and every appointment
    ref it checks in, so the later transaction waits and then sees the other's rows.
    SQLite needs nothing: its writers already take turns.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys: set[int] = set()
    for item in items:
        target = _target_id(item.kind, item.body)
        if target is not None:
            keys.add(_lock_key(target.bytes))
        elif item.kind in (RecordKind.CHECK_IN, RecordKind.WALK_IN, RecordKind.RATING):
            keys.add(_lock_key(item.record.id.bytes))
        if item.kind == RecordKind.CHECK_IN:
            ref = item.body.appointment_ref
            keys.add(_lock_key(hashlib.sha256(b"appointment|" + ref.encode()).digest()))
    if keys:
        # One statement, keys sorted: two batches locking overlapping keys cannot deadlock.
        session.execute(_ADVISORY_LOCKS, {"keys": sorted(keys)})


def _lock_key(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big", signed=True)


def _arrival_row(rid: uuid.UUID, kiosk: Kiosk, now: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(
        (
            "appointment_id",
            "appointment_ref",
            "first_name",
            "last_name",
            "date_of_birth",
            "reason",
            "phone",
            "email",
            "called_at",
            "seen_at",
            "interpreter_language",
            "interpreter_requested_at",
        )
    )
    row.update(id=rid, kiosk_id=kiosk.id, status=ArrivalStatus.WAITING.value, received_at=now)
    row.update(values)
    return row


def _interpreter(language: str | None, at: datetime) -> dict[str, Any]:
    """Return an arrival's interpreter columns for a request made with the record."""
    if language is None:
        return {}
    return {"interpreter_language": language, "interpreter_requested_at": at}


def _set(target: dict[str, Any] | object, name: str, value: Any) -> None:
    if isinstance(target, dict):
        target[name] = value
    else:
        setattr(target, name, value)


def _amend(*, session: Session, batch: _Batch, body: Any, created_at: datetime) -> bool:
    """Apply a rating_detail or contact_update to its target; False if it has not arrived."""
    if isinstance(body, RatingDetailBody):
        rating: dict[str, Any] | Rating | None = batch.ratings.get(body.rating_id) or session.get(
            Rating, body.rating_id
        )
        if rating is None:
            return False
        for name in DETAIL_FIELDS:
            value = getattr(body, name)
            if value is not None:
                _set(rating, name, value)
        _set(rating, "consent_to_contact", body.consent_to_contact)
        _set(rating, "detail_at", created_at)
        return True
    if isinstance(body, ContactUpdateBody):
        arrival_id = body.check_in_id
        if arrival_id not in batch.arrivals:
            arrival_id = batch.merged.get(arrival_id) or _merged_into(
                session=session, check_in_id=arrival_id
            )
        arrival: dict[str, Any] | Arrival | None = batch.arrivals.get(arrival_id) or session.get(
            Arrival, arrival_id
        )
        if arrival is None:
            return False
        if body.phone is not None:
            _set(arrival, "phone", body.phone)
        if body.email is not None:
            _set(arrival, "email", body.email)
        if body.interpreter_language is not None:
            _set(arrival, "interpreter_language", body.interpreter_language)
            _set(arrival, "interpreter_requested_at", created_at)
        return True
    return False


def _merged_into(*, session: Session, check_in_id: uuid.UUID) -> uuid.UUID:
    """Return the arrival a stored check-in became: itself, or the one it was merged into.

    A second check-in for an appointment creates no arrival; its follow-up token points at
    the first arrival, so its contact updates go there too.
    """
    if session.get(Arrival, check_in_id) is not None:
        return check_in_id
    raw = session.scalar(
        select(ReceivedRecord.body).where(
            ReceivedRecord.id == check_in_id, ReceivedRecord.kind == RecordKind.CHECK_IN.value
        )
    )
    if not isinstance(raw, dict):
        return check_in_id
    digest = raw.get("follow_up_token_sha256")
    if not isinstance(digest, str) and isinstance(raw.get("follow_up_token"), str):
        digest = hash_token(raw["follow_up_token"])  # stored before bodies were redacted
    if not isinstance(digest, str):
        return check_in_id
    target = session.scalar(
        select(FollowUpToken.target_id).where(FollowUpToken.token_hash == digest)
    )
    return target if target is not None else check_in_id
