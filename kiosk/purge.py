"""Erase patient-identifying data the server already has, and compact the database file.

The kiosk keeps a record's identifying fields (sync.protocol.IDENTIFYING_FIELDS: names,
date of birth, phone, email, free text) only until the server has acknowledged it and a
retention window has passed (default: the end of the clinic day on which it was acked).
Then the fields are removed from the outbox payload, and the file is rewritten (VACUUM)
and its write-ahead log truncated (wal_checkpoint(TRUNCATE)), so the erased values cannot
be read back from the bytes of kiosk.sqlite3 or kiosk.sqlite3-wal. SQLite's secure_delete
is switched on for the erase, so freed space is zeroed even before the VACUUM.

The kiosk's own domain tables (kiosk/models.py) hold no identifying fields: appointments
are keyed hashes, check-ins/walk-ins/questions keep only times, queue numbers and tokens.
Rows never acked (pending, failed) keep their data: they have not reached the server.
No Kivy here; runs in the sync worker thread, never on the UI thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from kiosk.store import drop_stale_match_keys
from sync.outbox import OutboxRecord, OutboxStatus, utcnow
from sync.protocol import IDENTIFYING_FIELDS, RecordKind

log = logging.getLogger(__name__)

#: How long compaction waits for other connections (ms) before giving up until next time.
COMPACT_BUSY_TIMEOUT_MS = 250


@dataclass(frozen=True)
class PurgeReport:
    erased: int  # outbox rows whose identifying fields were erased now
    compacted: bool  # whether VACUUM + checkpoint ran

    @property
    def compaction_owed(self) -> bool:
        """Return whether erased bytes may still be in the file (compaction failed)."""
        return self.erased > 0 and not self.compacted


def purge_cutoff(now: datetime, *, tz: ZoneInfo, retention: timedelta | None) -> datetime:
    """Return the ack time before which a row may be purged.

    With no explicit retention, a row is kept until the end of the clinic day (in the
    clinic's time zone) on which the server acknowledged it.
    """
    if retention is not None:
        return now - retention
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0, 0), tzinfo=tz)


def erase_identifying_fields(*, session: Session, cutoff: datetime, now: datetime) -> int:
    """Remove identifying fields from sent outbox rows acked before `cutoff`; return count."""
    rows = session.scalars(
        select(OutboxRecord).where(
            OutboxRecord.status == OutboxStatus.SENT,
            OutboxRecord.purged_at.is_(None),
            OutboxRecord.sent_at < cutoff,
        )
    )
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


def compact(engine: Engine) -> bool:
    """Rewrite the database file and truncate its WAL; False if a reader blocked the end.

    In WAL mode VACUUM writes the new pages to the WAL; the old ones (with the erased
    values) stay in the main file until a checkpoint copies the new ones over them.
    """
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        previous = dbapi.isolation_level
        dbapi.isolation_level = None  # VACUUM cannot run inside a transaction
        old_timeout = dbapi.execute("PRAGMA busy_timeout").fetchone()[0]
        # A waiting TRUNCATE checkpoint blocks new writers (the UI's commits): wait briefly,
        # and rather retry at the next purge than hold a patient's "saved" back.
        dbapi.execute(f"PRAGMA busy_timeout={COMPACT_BUSY_TIMEOUT_MS}")
        try:
            # Move committed pages home first, so VACUUM copies only current data.
            dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            dbapi.execute("VACUUM")
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
    now: datetime | None = None,
    force_compact: bool = False,
) -> PurgeReport:
    """Erase what is due and compact the file if anything was erased; return what was done."""
    moment = now or utcnow()
    cutoff = purge_cutoff(moment, tz=tz, retention=retention)
    with session_factory.begin() as session:
        session.execute(text("PRAGMA secure_delete=ON"))
        erased = erase_identifying_fields(session=session, cutoff=cutoff, now=moment)
        stale_keys = drop_stale_match_keys(session=session, today=moment.astimezone(tz).date())
    compacted = False
    if erased or stale_keys or force_compact:
        try:
            compacted = compact(engine)
        except Exception as exc:  # e.g. SQLITE_BUSY: the caller owes a compaction
            log.warning("purge: compaction failed (%s); will retry", type(exc).__name__)
    if erased:
        log.info("purge: erased identifying fields of %d acknowledged records", erased)
    return PurgeReport(erased=erased, compacted=compacted)
