"""Server-side retention: erase what identifies patients once the clinic's period has passed.

`purge` blanks names, birth dates, contact details, free text (question texts and answers,
reasons, comments, staff notes, survey answers) and match keys older than
`Settings.retention_days`, redacts the stored bodies of amendments that never found their
target, drops long-expired follow-up tokens, audits what it did, and on SQLite compacts the
file so erased values do not linger in free pages or the WAL. `clinic-server purge` runs it
on demand; every server process checks hourly and the first to claim the day's run (one
row in `maintenance_runs`, claimed by a conditional UPDATE) runs it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from clinic import maintenance
from clinic.audit import audit
from clinic.config import Settings
from clinic.db import Database
from clinic.followup.models import FollowUpResponse
from clinic.ingest import redact_body
from clinic.logsafe import describe_exception
from clinic.models import (
    Appointment,
    Arrival,
    FollowUpToken,
    MaintenanceRun,
    Question,
    Rating,
    ReceivedRecord,
    utcnow,
)
from sync.protocol import RecordKind

log = logging.getLogger(__name__)

PURGE_JOB = "purge"
#: The in-app purge runs at most this often, whatever the number of server processes.
PURGE_EVERY = timedelta(hours=24)
#: What an erased appointment's birth date becomes (the column may not be empty).
ERASED_DATE = date(1900, 1, 1)
_REDACT_CHUNK = 1000


@dataclass
class PurgeReport:
    appointments: int = 0
    arrivals: int = 0
    questions: int = 0
    ratings: int = 0
    follow_up_responses: int = 0
    received_bodies: int = 0
    tokens: int = 0

    @property
    def total(self) -> int:
        """Return how many rows were changed or deleted."""
        return sum(asdict(self).values())


def purge(*, session: Session, settings: Settings, now: datetime, actor: str) -> PurgeReport:
    """Erase identifying data older than the retention period; audit the counts."""
    cutoff = now - timedelta(days=settings.retention_days)
    report = PurgeReport()
    # Not _erase (below): an appointment's birth date is never empty (ERASED_DATE), so its
    # last name alone tells whether it still holds what identifies a patient.
    report.appointments = _count(
        session.execute(
            update(Appointment)
            .where(Appointment.starts_at < cutoff, Appointment.last_name != "")
            .values(
                first_name="",
                last_name="",
                date_of_birth=ERASED_DATE,
                phone=None,
                match_key=None,
                phone_key=None,
                match_tag=None,
            )
        )
    )
    report.arrivals = _erase(
        session,
        Arrival.arrived_at,
        cutoff,
        first_name=None,
        last_name=None,
        date_of_birth=None,
        reason=None,
        phone=None,
        email=None,
    )
    report.questions = _erase(
        session,
        Question.asked_at,
        cutoff,
        text="",
        contact_name=None,
        contact_phone=None,
        contact_email=None,
        answer=None,
    )
    report.ratings = _erase(
        session, Rating.rated_at, cutoff, comment=None, contact_phone=None, staff_note=None
    )
    report.follow_up_responses = _erase(
        session, FollowUpResponse.created_at, cutoff, answers=None, phone=None
    )
    report.received_bodies = _redact_received(session=session, cutoff=cutoff)
    report.tokens = _count(
        session.execute(delete(FollowUpToken).where(FollowUpToken.expires_at < cutoff))
    )
    audit(
        session=session,
        action="retention.purge",
        actor=actor,
        details={"cutoff": cutoff.isoformat(), **asdict(report)},
    )
    return report


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _erase(session: Session, stamp: Any, cutoff: datetime, **erased: Any) -> int:
    """Erase columns of the rows whose stamp is before cutoff and that still hold any of them.

    A column erased to "" still holds a value when it is not ""; one erased to None, when it
    is not NULL. Return how many rows were changed.
    """
    model = stamp.class_
    held = [
        getattr(model, name) != "" if value == "" else getattr(model, name).is_not(None)
        for name, value in erased.items()
    ]
    return _count(session.execute(update(model).where(stamp < cutoff, or_(*held)).values(**erased)))


def _redact_received(*, session: Session, cutoff: datetime) -> int:
    """Redact stored bodies older than the cutoff that still hold identifying fields.

    Applied records are stored redacted; what is left are amendments whose target never
    came, and bodies stored before redaction existed.
    """
    changed = 0
    last_id = None
    while True:
        query = (
            select(ReceivedRecord.id, ReceivedRecord.kind, ReceivedRecord.body)
            .where(ReceivedRecord.received_at < cutoff)
            .order_by(ReceivedRecord.id)
            .limit(_REDACT_CHUNK)
        )
        if last_id is not None:
            query = query.where(ReceivedRecord.id > last_id)
        rows = session.execute(query).all()
        if not rows:
            return changed
        for record_id, kind, body in rows:
            last_id = record_id
            if not isinstance(body, dict):
                continue
            try:
                redacted = redact_body(RecordKind(kind), body)
            except ValueError:
                redacted = {}
            if redacted != body:
                session.execute(
                    update(ReceivedRecord)
                    .where(ReceivedRecord.id == record_id)
                    .values(body=redacted)
                )
                changed += 1


def compact_sqlite(db: Database) -> None:
    """Move erased pages out of the WAL and rewrite the file (SQLite only)."""
    if db.engine.dialect.name != "sqlite":
        return
    # Outside any transaction (VACUUM refuses to run inside one): the pool's connections
    # leave transaction control to SQLAlchemy, so the raw connection is in autocommit.
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("VACUUM")
        busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        cursor.close()
        if busy:
            log.warning("retention purge: WAL checkpoint blocked by a reader")
    finally:
        raw.close()


def run_purge(db: Database, *, now: datetime, actor: str) -> PurgeReport:
    """Purge in one write transaction, record the run, then compact (SQLite)."""
    with db.writer.begin() as session:
        report = purge(session=session, settings=db.settings, now=now, actor=actor)
        _record_run(session=session, now=now)
    compact_sqlite(db)
    log.info("retention purge: %d rows erased or dropped", report.total)
    return report


def _record_run(*, session: Session, now: datetime) -> None:
    row = session.get(MaintenanceRun, PURGE_JOB)
    if row is None:
        session.add(MaintenanceRun(name=PURGE_JOB, last_run_at=now))
    else:
        row.last_run_at = now


def claim_purge_run(db: Database, *, now: datetime) -> bool:
    """Claim today's purge for this process; False if another ran it in the last day."""
    return maintenance.claim_run(db, name=PURGE_JOB, now=now, every=PURGE_EVERY)


def purge_if_due(db: Database) -> PurgeReport | None:
    """Run the purge if no process has run it in the last day."""
    now = utcnow()
    if not claim_purge_run(db, now=now):
        return None
    return run_purge(db, now=now, actor="system")


async def purge_loop(db: Database, every_seconds: int) -> None:
    """Check every `every_seconds` whether the daily purge is due; never raise."""
    while True:
        # Sleep first: a process starting up (or a test's) does not write at once.
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(purge_if_due, db)
        except Exception as exc:  # noqa: BLE001 - a failed purge is retried at the next check
            log.error("retention purge failed: %s", describe_exception(exc))
