"""Queue operations staff run from the arrivals page: call, recall, seen, no-show, back.

The arrival's state machine (docs/queue.md):

    waiting  --call-->      called_in  --seen-->  seen
    waiting  --no_show-->   no_show    --back-->  waiting   (they turned up after all)
    called_in --recall-->   called_in  (called again: the display chimes once more)
    called_in --no_show-->  no_show
    called_in --back-->     waiting    (sent back to wait; keeps their place)
    waiting  --seen-->      seen       (seen without being called through the queue)

"Called" (asked to come to a room) and "seen" (the visit happened) are distinct states.
Every operation is audited by the route that runs it; a refused transition changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.config import Settings
from clinic.live import publish
from clinic.models import Appointment, Arrival, ArrivalStatus
from clinic.queue import today_bounds, waiting_since

MAX_ROOM_CHARS = 40
#: Who counts as still in today's queue: arrived within this many hours (a rolling span,
#: so a patient who arrived at 23:50 is still called, and counted, at 00:10).
QUEUE_HOURS = 18
#: On the display, a call stays listed this long after it was made (or repeated).
DISPLAY_CALL_MINUTES = 15
#: The display lists at most this many recent calls.
DISPLAY_CALLS = 8


class QueueAction(StrEnum):
    CALL = "call"
    RECALL = "recall"
    SEEN = "seen"
    NO_SHOW = "no_show"
    BACK_TO_WAITING = "back_to_waiting"


TRANSITIONS: dict[QueueAction, tuple[frozenset[str], ArrivalStatus]] = {
    QueueAction.CALL: (frozenset({ArrivalStatus.WAITING}), ArrivalStatus.CALLED_IN),
    QueueAction.RECALL: (frozenset({ArrivalStatus.CALLED_IN}), ArrivalStatus.CALLED_IN),
    QueueAction.SEEN: (
        frozenset({ArrivalStatus.WAITING, ArrivalStatus.CALLED_IN}),
        ArrivalStatus.SEEN,
    ),
    QueueAction.NO_SHOW: (
        frozenset({ArrivalStatus.WAITING, ArrivalStatus.CALLED_IN}),
        ArrivalStatus.NO_SHOW,
    ),
    QueueAction.BACK_TO_WAITING: (
        frozenset({ArrivalStatus.CALLED_IN, ArrivalStatus.NO_SHOW}),
        ArrivalStatus.WAITING,
    ),
}


class TransitionRefused(ValueError):
    """The operation does not apply to the arrival's current state."""


def clean_room(room: str | None) -> str | None:
    """Return the room as shown to patients (trimmed, one line), None when blank."""
    if room is None:
        return None
    text = " ".join(room.split())
    if len(text) > MAX_ROOM_CHARS:
        raise ValueError(f"room: at most {MAX_ROOM_CHARS} characters")
    return text or None


def apply(
    arrival: Arrival,
    action: QueueAction,
    *,
    session: Session,
    now: datetime,
    room: str | None = None,
    clinician: str | None = None,
) -> Arrival:
    """Run one operation on an arrival or raise TransitionRefused (nothing changed)."""
    allowed, target = TRANSITIONS[action]
    if arrival.status not in allowed:
        raise TransitionRefused(f"cannot {action.value} a patient who is {arrival.status}")
    if action == QueueAction.RECALL:
        arrival.last_called_at = now
        arrival.call_count = (arrival.call_count or 0) + 1
        if room:
            arrival.room = room
        publish("queue", {"arrival_id": str(arrival.id)}, session=session)
        return arrival
    # Imported here: clinic.dashboard's routes import this module.
    from clinic.dashboard import queries

    called_at = arrival.called_at
    queries.set_arrival_status(arrival.id, target, session=session, now=now)
    if action == QueueAction.CALL:
        arrival.room = room  # set_arrival_status counted the call
        if clinician and arrival.appointment_id is None:
            arrival.clinician = clinician
    elif action == QueueAction.BACK_TO_WAITING:
        arrival.room = None
        arrival.last_called_at = None
    elif action == QueueAction.SEEN and called_at is not None:
        arrival.called_at = called_at
    return arrival


def next_waiting(
    *, session: Session, settings: Settings, now: datetime, clinician: str | None
) -> Arrival | None:
    """Return who is next: the clinician's earliest booked patient, or the first walk-in.

    `clinician` None: the longest-waiting patient of any queue. A booked patient is next
    by appointment time (then arrival), a walk-in by arrival.
    """
    start = now - timedelta(hours=QUEUE_HOURS)
    query = (
        select(Arrival)
        .outerjoin(Appointment, Arrival.appointment_id == Appointment.id)
        .where(Arrival.status == ArrivalStatus.WAITING, Arrival.arrived_at >= start)
    )
    if clinician is None:
        query = query.order_by(Arrival.arrived_at, Arrival.id)
    elif clinician == "":
        query = query.where(Arrival.appointment_id.is_(None)).order_by(
            Arrival.arrived_at, Arrival.id
        )
    else:
        query = query.where(Appointment.clinician == clinician).order_by(
            Appointment.starts_at, Arrival.arrived_at, Arrival.id
        )
    return session.scalars(query.limit(1)).first()


def call_next(
    *,
    session: Session,
    settings: Settings,
    now: datetime,
    clinician: str | None,
    room: str | None,
) -> Arrival | None:
    """Call the next patient of a queue to a room; None when nobody is waiting there."""
    arrival = next_waiting(session=session, settings=settings, now=now, clinician=clinician)
    if arrival is None:
        return None
    return apply(
        arrival, QueueAction.CALL, session=session, now=now, room=room, clinician=clinician
    )


def clinicians_today(*, session: Session, settings: Settings, now: datetime) -> list[str]:
    """Return the clinicians with appointments today, for the call-next choice."""
    start, end = today_bounds(settings.tz, now)
    return list(
        session.scalars(
            select(Appointment.clinician)
            .where(Appointment.starts_at >= start, Appointment.starts_at < end)
            .group_by(Appointment.clinician)
            .order_by(Appointment.clinician)
        )
    )


def last_rooms(*, session: Session, settings: Settings, now: datetime) -> dict[str, str]:
    """Return each queue's most recent room (to pre-fill the call-next form)."""
    start = now - timedelta(hours=QUEUE_HOURS)
    rows = session.execute(
        select(Arrival, Appointment)
        .outerjoin(Appointment, Arrival.appointment_id == Appointment.id)
        .where(Arrival.last_called_at >= start, Arrival.room.is_not(None))
        .order_by(Arrival.last_called_at)
    ).all()
    rooms: dict[str, str] = {}
    for arrival, appointment in rows:
        key = appointment.clinician if appointment is not None else (arrival.clinician or "")
        if arrival.room:
            rooms[key] = arrival.room
    return rooms


@dataclass(frozen=True)
class DisplayCall:
    """One line on the waiting-room display: a number and where to go (nothing else)."""

    queue_number: str
    room: str | None
    called_at: datetime
    call_count: int


def display_calls(*, session: Session, now: datetime) -> Sequence[DisplayCall]:
    """Return the recent calls for the display, newest first."""
    since = now - timedelta(minutes=DISPLAY_CALL_MINUTES)
    rows = session.execute(
        select(Arrival.queue_number, Arrival.room, Arrival.last_called_at, Arrival.call_count)
        .where(
            Arrival.status == ArrivalStatus.CALLED_IN,
            Arrival.last_called_at >= since,
        )
        .order_by(Arrival.last_called_at.desc())
        .limit(DISPLAY_CALLS)
    ).all()
    return [DisplayCall(n, r, at, c or 0) for n, r, at, c in rows if at is not None]


def waiting_count(*, session: Session, settings: Settings, now: datetime) -> int:
    """Return how many patients are waiting (arrived within QUEUE_HOURS)."""
    return waiting_since(session, now - timedelta(hours=QUEUE_HOURS))


def get(session: Session, arrival_id: uuid.UUID) -> Arrival | None:
    """Return an arrival by id."""
    return session.get(Arrival, arrival_id)
