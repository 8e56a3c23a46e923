"""Erase patient-identifying data the server already has, delete old records, shrink the file.

The kiosk keeps a record's identifying fields (sync.protocol.IDENTIFYING_FIELDS: names,
date of birth, phone, email, free text) only until the server has acknowledged it and a
retention window has passed (default: the end of the clinic day on which it was acked).
Then the fields are removed from the outbox payload. After `sent_retention_days` the whole
acknowledged record goes: its outbox row and its domain row (check-in, question...), so a
kiosk that runs for years holds a few weeks of records, not its whole history.

Every change runs in small batches, each its own short write transaction, with a pause
between them: a patient's check-in waits at most one batch for the write lock, never for
the whole purge. SQLite's secure_delete (kiosk/db.py) zeroes erased and deleted values in
their pages; freed pages are handed back a few at a time with `incremental_vacuum`
(auto_vacuum=INCREMENTAL) instead of a VACUUM that would rewrite and lock the whole file,
and a `wal_checkpoint(TRUNCATE)` leaves no old page image in kiosk.sqlite3-wal.

The kiosk's own domain tables (kiosk/models.py) hold no identifying fields: appointments
are keyed hashes, check-ins/walk-ins/questions keep only times, queue numbers and tokens.
Rows never acked (pending, failed) keep their data: they have not reached the server.
No Kivy here; runs in a background thread, never on the UI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import sleep as sleep_seconds
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from kiosk.models import CheckIn, ContactUpdate, Question, Rating, RatingDetail, WalkIn
from sync.outbox import OutboxRecord, OutboxStatus, utcnow
from sync.protocol import IDENTIFYING_FIELDS, RecordKind

log = logging.getLogger(__name__)

#: How long compaction waits for other connections (ms) before giving up until next time.
COMPACT_BUSY_TIMEOUT_MS = 250
#: Rows per write transaction (erase and delete); a few milliseconds of write lock each.
BATCH_ROWS = 200
#: Pages handed back to the file system per incremental_vacuum step (4 KiB each).
VACUUM_STEP_PAGES = 256
#: Pause between two batches, so a waiting patient commit gets the lock in between.
BATCH_PAUSE_SECONDS = 0.005
#: Domain models whose row id is the id of its outbox record (deleted together).
_DOMAIN_MODELS: tuple[
    type[CheckIn | WalkIn | ContactUpdate | Question | RatingDetail | Rating], ...
] = (
    CheckIn,
    WalkIn,
    ContactUpdate,
    Question,
    RatingDetail,  # before its rating (foreign key)
    Rating,
)


@dataclass(frozen=True)
class PurgeReport:
    erased: int  # outbox rows whose identifying fields were erased now
    compacted: bool  # whether free pages were returned and the WAL truncated
    deleted: int = 0  # acknowledged records deleted after sent_retention

    @property
    def compaction_owed(self) -> bool:
        """Return whether erased bytes may still be in the file (compaction failed)."""
        return (self.erased > 0 or self.deleted > 0) and not self.compacted


def purge_cutoff(now: datetime, *, tz: ZoneInfo, retention: timedelta | None) -> datetime:
    """Return the ack time before which a row may be purged.

    With no explicit retention, a row is kept until the end of the clinic day (in the
    clinic's time zone) on which the server acknowledged it.
    """
    if retention is not None:
        return now - retention
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0, 0), tzinfo=tz)


def erase_identifying_fields(
    *, session: Session, cutoff: datetime, now: datetime, limit: int | None = None
) -> int:
    """Remove identifying fields from sent rows acked before `cutoff` (up to `limit`)."""
    query = select(OutboxRecord).where(
        OutboxRecord.status == OutboxStatus.SENT,
        OutboxRecord.sent_at < cutoff,
        OutboxRecord.purged_at.is_(None),
    )
    rows = session.scalars(query if limit is None else query.limit(limit))
    erased = 0
    for row in rows:
        try:
            fields = IDENTIFYING_FIELDS[RecordKind(row.kind)]
        except ValueError:  # an unknown kind: keep nothing but the kind
            fields = tuple(row.payload)
        if fields:
            # A new dict, so SQLAlchemy sees the JSON column change.
            row.payload = {k: v for k, v in row.payload.items() if k not in fields}
        row.purged_at = now
        erased += 1
    session.flush()
    return erased


def delete_sent_before(*, session: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` records acked before `cutoff`, outbox and domain rows; count."""
    ids = list(
        session.scalars(
            select(OutboxRecord.id)
            .where(OutboxRecord.status == OutboxStatus.SENT, OutboxRecord.sent_at < cutoff)
            .order_by(OutboxRecord.sent_at)  # ix_outbox_sent: no scan of younger rows
            .limit(limit)
        )
    )
    if not ids:
        return 0
    for model in _DOMAIN_MODELS:
        session.execute(delete(model).where(model.id.in_(ids)))
    session.execute(delete(OutboxRecord).where(OutboxRecord.id.in_(ids)))
    return len(ids)


def _in_batches(
    session_factory: sessionmaker[Session],
    step: Callable[[Session], int],
    *,
    pause: float,
    sleep: Callable[[float], None],
) -> int:
    """Run `step` in one short transaction after another until it does nothing; sum."""
    total = 0
    while True:
        with session_factory.begin() as session:
            done = step(session)
        total += done
        if not done:
            return total
        sleep(pause)


def compact(
    engine: Engine,
    *,
    step_pages: int = VACUUM_STEP_PAGES,
    pause: float = BATCH_PAUSE_SECONDS,
    sleep: Callable[[float], None] = sleep_seconds,
) -> bool:
    """Return free pages to the file system and truncate the WAL; False if a reader blocked.

    In WAL mode new page images go to the WAL; the old ones stay in the main file until a
    checkpoint copies the new ones over them, and the WAL's own bytes stay until truncated.
    """
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        previous = dbapi.isolation_level
        dbapi.isolation_level = None  # each step is its own short transaction
        old_timeout = dbapi.execute("PRAGMA busy_timeout").fetchone()[0]
        # A waiting TRUNCATE checkpoint blocks new writers (the UI's commits): wait briefly,
        # and rather retry at the next purge than hold a patient's "saved" back.
        dbapi.execute(f"PRAGMA busy_timeout={COMPACT_BUSY_TIMEOUT_MS}")
        try:
            while int(dbapi.execute("PRAGMA freelist_count").fetchone()[0]) > 0:
                # fetchall: the pragma frees one page per result row it is stepped through.
                dbapi.execute(f"PRAGMA incremental_vacuum({int(step_pages)})").fetchall()
                sleep(pause)
            # Copy what the WAL holds without blocking writers, then truncate what is left.
            dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            busy, _log_frames, _moved = dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                log.warning("purge: WAL checkpoint blocked by a reader; retried next time")
            return not busy
        finally:
            dbapi.execute(f"PRAGMA busy_timeout={int(old_timeout)}")
            dbapi.isolation_level = previous
    finally:
        raw.close()


def purge(
    engine: Engine,
    session_factory: sessionmaker[Session],
    *,
    tz: ZoneInfo,
    retention: timedelta | None = None,
    sent_retention: timedelta | None = None,
    now: datetime | None = None,
    force_compact: bool = False,
    batch_rows: int = BATCH_ROWS,
    pause: float = BATCH_PAUSE_SECONDS,
    sleep: Callable[[float], None] = sleep_seconds,
) -> PurgeReport:
    """Erase what is due, delete what is old, then compact; return what was done."""
    moment = now or utcnow()
    cutoff = purge_cutoff(moment, tz=tz, retention=retention)
    erased = _in_batches(
        session_factory,
        lambda s: erase_identifying_fields(session=s, cutoff=cutoff, now=moment, limit=batch_rows),
        pause=pause,
        sleep=sleep,
    )
    deleted = 0
    if sent_retention is not None:
        old = moment - sent_retention
        deleted = _in_batches(
            session_factory,
            lambda s: delete_sent_before(session=s, cutoff=old, limit=batch_rows),
            pause=pause,
            sleep=sleep,
        )
    compacted = False
    if erased or deleted or force_compact:
        try:
            compacted = compact(engine, pause=pause, sleep=sleep)
        except Exception as exc:  # e.g. SQLITE_BUSY: the caller owes a compaction
            log.warning("purge: compaction failed (%s); will retry", type(exc).__name__)
    if erased or deleted:
        log.info(
            "purge: erased identifying fields of %d and deleted %d acknowledged records",
            erased,
            deleted,
        )
    return PurgeReport(erased=erased, compacted=compacted, deleted=deleted)
