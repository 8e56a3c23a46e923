"""The kiosk's durable outbox: the on-disk queue of records waiting to reach the server.

A kiosk service writes its domain row and one outbox row in the same SQLite transaction
(`enqueue`); the sync worker claims due rows, sends them, and records the outcome. The
caller owns the session (`with SessionLocal.begin() as session:`); functions here take it
as a keyword-only argument and never commit.

No Kivy, no HTTP here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    Integer,
    String,
    Text,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sync.protocol import RecordKind, parse_body
from sync.rules import utcnow as utcnow  # the kiosk reaches the shared clock here too
from sync.sqltypes import UTCDateTime as UTCDateTime  # kiosk tables use it from here


class OutboxBase(DeclarativeBase):
    """Declarative base of the outbox table; the kiosk creates it beside its own tables."""


class OutboxStatus(StrEnum):
    PENDING = "pending"  # saved, waiting to be sent (or to be retried at next_attempt_at)
    IN_FLIGHT = "in_flight"  # claimed by the worker, request under way
    SENT = "sent"  # acknowledged by the server (stored or duplicate)
    FAILED = "failed"  # refused for good (409 conflict, 422 invalid): parked with a reason


class OutboxRecord(OutboxBase):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # Retention finds old acknowledged rows without scanning a year of history.
        Index("ix_outbox_sent", "status", "sent_at"),
        # Acknowledged rows whose identifying fields are still there: the purge's to-do list.
        Index(
            "ix_outbox_unpurged",
            "sent_at",
            sqlite_where=text("status = 'sent' AND purged_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class OutboxCounter(OutboxBase):
    """How many outbox rows are in one status, kept exact by triggers on the outbox.

    The UI's sync mark and the heartbeat read these four rows instead of counting a
    history that grows by thousands of rows a day. SQLite triggers update them inside the
    very transaction that inserts, moves or deletes an outbox row, whoever writes it.
    """

    __tablename__ = "outbox_counters"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)


_COUNTER_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS outbox_count_insert AFTER INSERT ON outbox BEGIN
        UPDATE outbox_counters SET rows = rows + 1 WHERE status = NEW.status;
    END""",
    """CREATE TRIGGER IF NOT EXISTS outbox_count_delete AFTER DELETE ON outbox BEGIN
        UPDATE outbox_counters SET rows = rows - 1 WHERE status = OLD.status;
    END""",
    """CREATE TRIGGER IF NOT EXISTS outbox_count_move AFTER UPDATE OF status ON outbox
    WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE outbox_counters SET rows = rows - 1 WHERE status = OLD.status;
        UPDATE outbox_counters SET rows = rows + 1 WHERE status = NEW.status;
    END""",
)


def install_counters(connection: Any) -> None:
    """Create the counter triggers (idempotent) and recount the outbox once.

    Runs when the schema is created or migrated: the only time the outbox is scanned.
    """
    for ddl in _COUNTER_TRIGGERS:
        connection.exec_driver_sql(ddl)
    connection.exec_driver_sql("DELETE FROM outbox_counters")
    for status in OutboxStatus:
        connection.exec_driver_sql(
            "INSERT INTO outbox_counters (status, rows) "
            "SELECT ?, count(*) FROM outbox WHERE status = ?",
            (status.value, status.value),
        )


def enqueue(
    kind: RecordKind,
    body: dict[str, Any],
    *,
    session: Session,
    record_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> OutboxRecord:
    """Add a validated record to the outbox in the caller's transaction and return it."""
    parse_body(kind, body)  # refuse to queue what the server would refuse (RecordError)
    moment = now or utcnow()
    row = OutboxRecord(
        id=str(record_id or uuid.uuid4()),
        kind=kind.value,
        payload=body,
        status=OutboxStatus.PENDING,
        attempts=0,
        created_at=moment,
        next_attempt_at=moment,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class ClaimedRecord:
    """A row claimed for sending, as plain values (no ORM object to keep in sync)."""

    id: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int

    def wire(self) -> dict[str, Any]:
        """Return the JSON the server reads for this record (a WireRecord's shape)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "body": self.payload,
        }


def claim_due_batch(
    *, session: Session, limit: int, now: datetime | None = None
) -> list[ClaimedRecord]:
    """Mark up to `limit` due pending rows as in flight and return them as plain values.

    Rows come in order of `next_attempt_at` (for a fresh row, its creation time), which the
    `ix_outbox_due` index yields without sorting the whole backlog for every batch.
    """
    moment = now or utcnow()
    rows = session.execute(
        select(
            OutboxRecord.id,
            OutboxRecord.kind,
            OutboxRecord.payload,
            OutboxRecord.created_at,
            OutboxRecord.attempts,
        )
        .where(
            OutboxRecord.status == OutboxStatus.PENDING,
            OutboxRecord.next_attempt_at <= moment,
        )
        .order_by(OutboxRecord.next_attempt_at)  # ix_outbox_due: no sort of the backlog
        .limit(limit)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.id.in_(ids))
        .values(status=OutboxStatus.IN_FLIGHT, attempts=OutboxRecord.attempts + 1)
    )
    return [
        ClaimedRecord(row.id, row.kind, row.payload, row.created_at, row.attempts + 1)
        for row in rows
    ]


def mark_sent_many(record_ids: list[str], *, session: Session, now: datetime | None = None) -> None:
    """Record the server's acknowledgement of several rows in one statement."""
    if not record_ids:
        return
    session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.id.in_(record_ids))
        .values(status=OutboxStatus.SENT, sent_at=now or utcnow(), last_error=None)
    )


def reschedule(record_id: str, *, session: Session, next_attempt_at: datetime, reason: str) -> None:
    """Put a row back to pending, due again at `next_attempt_at` (a retryable failure)."""
    session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.id == record_id)
        .values(status=OutboxStatus.PENDING, next_attempt_at=next_attempt_at, last_error=reason)
    )


def mark_failed(record_id: str, *, session: Session, reason: str) -> None:
    """Park a row as failed for good, keeping the reason for staff."""
    session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.id == record_id)
        .values(status=OutboxStatus.FAILED, last_error=reason[:1000])
    )


def reset_in_flight(*, session: Session) -> int:
    """Return rows a crash left in flight to pending; return how many there were."""
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.status == OutboxStatus.IN_FLIGHT)
        .values(status=OutboxStatus.PENDING)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def counts(*, session: Session) -> dict[str, int]:
    """Return the number of outbox rows in each status (every status present, 0 if none).

    Reads the trigger-kept counters: constant cost, whatever the history.
    """
    found = dict(session.execute(select(OutboxCounter.status, OutboxCounter.rows)).all())
    return {status.value: int(found.get(status.value, 0)) for status in OutboxStatus}


def scan_counts(*, session: Session) -> dict[str, int]:
    """Return the per-status counts by scanning the outbox (to check the counters)."""
    found = dict(
        session.execute(
            select(OutboxRecord.status, func.count()).group_by(OutboxRecord.status)
        ).all()
    )
    return {status.value: int(found.get(status.value, 0)) for status in OutboxStatus}


@event.listens_for(OutboxBase.metadata, "after_create")
def _after_create(_target: Any, connection: Any, **kw: Any) -> None:
    # `tables` holds only the tables this create_all made: count when the counters are new.
    if any(table.name == OutboxCounter.__tablename__ for table in kw.get("tables", ())):
        install_counters(connection)
