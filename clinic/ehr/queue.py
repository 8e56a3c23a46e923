"""The durable outbound queue: enqueue in the caller's transaction, pick due messages, record.

Messages of one patient (one lane, `patient_key`) go out strictly in the order they were
made: a lane's next message waits while an earlier one is still pending, even when that one
is only backing off. Sent, refused and given-up messages no longer hold their lane.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, event, exists, func, select, update
from sqlalchemy.orm import Session, aliased, object_session

from clinic.ehr.models import EhrLinkState, EhrOutbox, EventKind, OutboxStatus
from clinic.models import Rating

#: session.info key holding the outbound targets ("fhir", "hl7") of this application.
TARGETS_INFO_KEY = "ehr_targets"
#: What each target is told: a walk-in is an arrived Encounter over FHIR (no appointment
#: to update) and an A04 over HL7; HL7 v2 has no event for "called in" or "back to waiting".
SENT_TO: dict[str, frozenset[EventKind]] = {
    "fhir": frozenset(
        {
            EventKind.ARRIVED,
            EventKind.WALK_IN,
            EventKind.CALLED_IN,
            EventKind.SEEN,
            EventKind.NO_SHOW,
            EventKind.WAITING,
            EventKind.RATING,
            EventKind.QUESTION,
        }
    ),
    "hl7": frozenset({EventKind.ARRIVED, EventKind.WALK_IN, EventKind.SEEN, EventKind.NO_SHOW}),
}
#: session.info key: (send feedback?, seconds a rating waits for its survey details).
FEEDBACK_INFO_KEY = "ehr_feedback"
FEEDBACK_EVENTS = frozenset({EventKind.RATING, EventKind.QUESTION})
#: session.info key set when the session queued a message (the worker is woken on commit).
WAKE_INFO_KEY = "ehr_wake"


def targets_of(session: Session) -> tuple[str, ...]:
    """Return the outbound targets configured for the application that made `session`."""
    return tuple(session.info.get(TARGETS_INFO_KEY, ()))


# ---------------------------------------------------------------------------------------
# Enqueue (called inside the transaction that makes the change)
# ---------------------------------------------------------------------------------------
def enqueue(
    *,
    session: Session,
    event: EventKind,
    patient_key: str,
    payload: dict[str, Any],
    now: datetime,
    targets: Iterable[str] | None = None,
    not_before: datetime | None = None,
) -> int:
    """Queue one event for each target in use; return how many messages were queued."""
    if event in FEEDBACK_EVENTS and not session.info.get(FEEDBACK_INFO_KEY, (False, 0))[0]:
        return 0
    rows = [
        {
            "target": target,
            "event": event.value,
            "patient_key": patient_key,
            "payload": payload,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": not_before or now,
        }
        for target in (targets_of(session) if targets is None else targets)
        if event in SENT_TO.get(target, ())
    ]
    for row in rows:
        session.add(EhrOutbox(**row))
    if rows:
        session.info[WAKE_INFO_KEY] = True
    return len(rows)


#: session.info key: ids of stored ratings whose survey details arrived in this session.
AMENDED_RATINGS_INFO_KEY = "ehr_amended_ratings"


@event.listens_for(Rating.detail_at, "set")
def _rating_detail_arrived(target: Rating, value: Any, _old: Any, _initiator: Any) -> None:
    """Note a stored rating that just got its survey details (sent again, completed)."""
    session = object_session(target)
    if session is not None and value is not None:
        session.info.setdefault(AMENDED_RATINGS_INFO_KEY, set()).add(target.id)


def records_stored(
    *,
    session: Session,
    arrivals: Sequence[dict[str, Any]],
    ratings: Sequence[dict[str, Any]],
    now: datetime,
) -> None:
    """Queue a message for each new arrival (check-in, walk-in) and rating row."""
    if not targets_of(session):
        return
    _send, wait = session.info.get(FEEDBACK_INFO_KEY, (False, 0))
    amended = session.info.pop(AMENDED_RATINGS_INFO_KEY, set()) - {r["id"] for r in ratings}
    for rating_id in sorted(amended, key=str):
        already_waiting = session.scalar(
            select(EhrOutbox.id).where(
                EhrOutbox.patient_key == str(rating_id),
                EhrOutbox.event == EventKind.RATING.value,
                EhrOutbox.status == OutboxStatus.PENDING.value,
            )
        )
        if already_waiting is None:
            # The first QuestionnaireResponse went out without the survey: replace it.
            _enqueue_about(session, EventKind.RATING, "rating_id", rating_id, now)
    for rating in ratings:
        # Sent after a pause, so the survey details that follow the face are included.
        _enqueue_about(
            session,
            EventKind.RATING,
            "rating_id",
            rating["id"],
            now,
            not_before=now + timedelta(seconds=wait),
        )
    for row in arrivals:
        enqueue(
            session=session,
            event=EventKind.WALK_IN if row.get("walk_in") else EventKind.ARRIVED,
            patient_key=str(row["id"]),
            payload={
                "arrival_id": str(row["id"]),
                "appointment_id": row.get("appointment_id"),
                "at": row["arrived_at"].isoformat(),
            },
            now=now,
        )


def _enqueue_about(
    session: Session,
    event: EventKind,
    id_field: str,
    row_id: Any,
    now: datetime,
    *,
    not_before: datetime | None = None,
) -> None:
    """Queue an event about one row, keyed and named by the row's id."""
    enqueue(
        session=session,
        event=event,
        patient_key=str(row_id),
        payload={id_field: str(row_id), "at": now.isoformat()},
        now=now,
        not_before=not_before,
    )


def question_answered(*, session: Session, question_id: Any, now: datetime) -> None:
    """Queue a staff answer: the question and the answer go out as Communications."""
    if not targets_of(session):
        return
    _enqueue_about(session, EventKind.QUESTION, "question_id", question_id, now)


def status_changed(
    *, session: Session, arrival_id: Any, appointment_id: int | None, status: str, now: datetime
) -> None:
    """Queue a staff status change (called in, seen, no-show, back to waiting)."""
    if not targets_of(session):
        return
    enqueue(
        session=session,
        event=EventKind(status),
        patient_key=str(arrival_id),
        payload={
            "arrival_id": str(arrival_id),
            "appointment_id": appointment_id,
            "at": now.isoformat(),
        },
        now=now,
    )


# ---------------------------------------------------------------------------------------
# Retry policy (pure)
# ---------------------------------------------------------------------------------------
def backoff_seconds(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Return the wait before attempt `attempts + 1`: capped exponential, half jittered."""
    ceiling = min(cap, base * (2.0 ** max(0, min(attempts - 1, 32))))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Delivered:
    outcome: str


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Retry:
    reason: str
    retry_after: float | None = None


SendResult = Delivered | Refused | Retry


# ---------------------------------------------------------------------------------------
# Picking and recording
# ---------------------------------------------------------------------------------------
def due_messages(
    *, session: Session, target: str, now: datetime, limit: int
) -> Sequence[EhrOutbox]:
    """Return due messages of `target`, oldest first, each the head of its lane."""
    earlier = aliased(EhrOutbox)
    head_of_lane = ~exists().where(
        and_(
            earlier.target == EhrOutbox.target,
            earlier.patient_key == EhrOutbox.patient_key,
            earlier.status == OutboxStatus.PENDING.value,
            earlier.id < EhrOutbox.id,
        )
    )
    return session.scalars(
        select(EhrOutbox)
        .where(
            EhrOutbox.target == target,
            EhrOutbox.status == OutboxStatus.PENDING.value,
            EhrOutbox.next_attempt_at <= now,
            head_of_lane,
        )
        .order_by(EhrOutbox.id)
        .limit(limit)
    ).all()


def record_result(
    *,
    session: Session,
    message: EhrOutbox,
    result: SendResult,
    now: datetime,
    base: float,
    cap: float,
    give_up_after: float,
) -> float | None:
    """Store what one attempt gave: sent, refused, retry later or give up (with the reason).

    Return the wait before the next attempt when the message is to be retried.
    """
    message.attempts += 1
    if isinstance(result, Delivered):
        message.status = OutboxStatus.SENT
        message.done_at = now
        message.outcome = result.outcome[:200]
        _link(session, message.target).last_success_at = now
        return None
    reason = result.reason[:500]
    message.last_error = reason
    state = _link(session, message.target)
    state.last_error, state.last_error_at = f"#{message.id} {message.event}: {reason}"[:500], now
    if isinstance(result, Refused):
        message.status = OutboxStatus.REFUSED
        message.done_at = now
        return None
    wait = backoff_seconds(message.attempts, base=base, cap=cap)
    if result.retry_after is not None:
        wait = max(wait, min(result.retry_after, cap))
    if (now - message.created_at).total_seconds() + wait > give_up_after:
        message.status = OutboxStatus.GAVE_UP
        message.done_at = now
        message.last_error = (
            f"gave up after {message.attempts} attempts over "
            f"{int((now - message.created_at).total_seconds())} s: {reason}"
        )[:500]
        return None
    message.next_attempt_at = now + timedelta(seconds=wait)
    return wait


def prune_done(*, session: Session, target: str, before: datetime) -> int:
    """Delete sent messages of `target` finished before `before`; keep refused/given-up."""
    deleted = session.execute(
        delete(EhrOutbox).where(
            EhrOutbox.target == target,
            EhrOutbox.status == OutboxStatus.SENT.value,
            EhrOutbox.done_at < before,
        )
    )
    return int(getattr(deleted, "rowcount", 0) or 0)


def _link(session: Session, target: str) -> EhrLinkState:
    state = session.get(EhrLinkState, target)
    if state is None:
        state = EhrLinkState(target=target)
        session.add(state)
    return state


def take_lease(*, session: Session, target: str, owner: str, now: datetime, seconds: float) -> bool:
    """Take or renew the delivery lease of `target`; False while another worker holds it."""
    _link(session, target)
    session.flush()
    taken = session.execute(
        update(EhrLinkState)
        .where(
            EhrLinkState.target == target,
            (EhrLinkState.lease_owner == owner)
            | EhrLinkState.lease_until.is_(None)
            | (EhrLinkState.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0))


def release_leases(*, session: Session, owner: str) -> None:
    """Give up every lease `owner` holds (a clean stop), so another worker goes on at once."""
    session.execute(
        update(EhrLinkState)
        .where(EhrLinkState.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------------------------------
# What staff see (the "EHR link" panel)
# ---------------------------------------------------------------------------------------
@dataclass
class LinkPanel:
    target: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    backlog: int
    oldest_pending_at: datetime | None
    refused: int
    gave_up: int


def link_panel(*, session: Session, targets: Iterable[str]) -> list[LinkPanel]:
    """Return last success, backlog and last error of each target."""
    panels = []
    for target in targets:
        state = session.get(EhrLinkState, target)
        counts = dict(
            session.execute(
                select(EhrOutbox.status, func.count())
                .where(EhrOutbox.target == target)
                .group_by(EhrOutbox.status)
            ).all()
        )
        oldest = session.scalar(
            select(func.min(EhrOutbox.created_at)).where(
                EhrOutbox.target == target, EhrOutbox.status == OutboxStatus.PENDING.value
            )
        )
        panels.append(
            LinkPanel(
                target=target,
                last_success_at=state.last_success_at if state else None,
                last_error_at=state.last_error_at if state else None,
                last_error=state.last_error if state else None,
                backlog=int(counts.get(OutboxStatus.PENDING.value, 0)),
                oldest_pending_at=oldest,
                refused=int(counts.get(OutboxStatus.REFUSED.value, 0)),
                gave_up=int(counts.get(OutboxStatus.GAVE_UP.value, 0)),
            )
        )
    return panels


def problem_messages(*, session: Session, limit: int = 20) -> Sequence[EhrOutbox]:
    """Return the newest refused or given-up messages (shown to staff with their reason)."""
    return session.scalars(
        select(EhrOutbox)
        .where(EhrOutbox.status.in_([OutboxStatus.REFUSED.value, OutboxStatus.GAVE_UP.value]))
        .order_by(EhrOutbox.id.desc())
        .limit(limit)
    ).all()
