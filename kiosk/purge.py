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

import json
import logging
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import sleep as sleep_seconds
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kiosk.models import CheckIn, ContactUpdate, Question, Rating, RatingDetail, WalkIn
from kiosk.store import drop_stale_match_keys
from sync.protocol import IDENTIFYING_FIELDS, RecordKind
from sync.rules import day_bounds, local_day, utcnow

#: What a purge step runs inside: kiosk.db.WriterGate.background on a kiosk.
StepAside = Callable[[], AbstractContextManager[None]]

log = logging.getLogger(__name__)

#: How long compaction waits for other connections (ms) before giving up until next time.
COMPACT_BUSY_TIMEOUT_MS = 250
#: Rows per write transaction (erase and delete); a few milliseconds of write lock each.
BATCH_ROWS = 100
#: Pages handed back to the file system per incremental_vacuum step (4 KiB each).
VACUUM_STEP_PAGES = 128
#: Pause between two batches, so a waiting patient commit gets the lock in between.
BATCH_PAUSE_SECONDS = 0.02
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
    start_of_today, _end = day_bounds(local_day(now, tz), tz)
    return start_of_today


def _db_time(moment: datetime) -> str:
    """Return a timestamp as the kiosk's UTCDateTime columns store it (naive UTC text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def erase_identifying_fields(
    db: sqlite3.Connection, *, cutoff: datetime, now: datetime, limit: int
) -> int:
    """Remove identifying fields from up to `limit` sent rows acked before `cutoff`."""
    rows = db.execute(
        # ix_outbox_unpurged holds only sent rows not yet erased: no walk over old ones.
        "SELECT id, kind FROM outbox INDEXED BY ix_outbox_unpurged "
        "WHERE status = 'sent' AND purged_at IS NULL AND sent_at < ? LIMIT ?",
        (_db_time(cutoff), limit),
    ).fetchall()
    by_kind: dict[str, list[str]] = {}
    for record_id, kind in rows:
        by_kind.setdefault(kind, []).append(record_id)
    stamp = _db_time(now)
    for kind, ids in by_kind.items():
        try:
            fields: tuple[str, ...] | None = IDENTIFYING_FIELDS[RecordKind(kind)]
        except ValueError:  # an unknown kind: keep nothing but the kind
            fields = None
        if fields is None:
            payload_sql = "'{}'"
        elif fields:
            payload_sql = "json_remove(payload, " + ", ".join(f"'$.{f}'" for f in fields) + ")"
        else:
            payload_sql = "payload"
        db.execute(
            f"UPDATE outbox SET payload = {payload_sql}, purged_at = ? "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (stamp, json.dumps(ids)),
        )
    return len(rows)


def delete_sent_before(db: sqlite3.Connection, *, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` records acked before `cutoff`, outbox and domain rows; count."""
    ids = [
        row[0]
        for row in db.execute(
            "SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ? "
            "ORDER BY sent_at LIMIT ?",  # ix_outbox_sent: no walk over younger rows
            (_db_time(cutoff), limit),
        )
    ]
    if not ids:
        return 0
    id_list = json.dumps(ids)
    for model in _DOMAIN_MODELS:
        db.execute(
            f"DELETE FROM {model.__tablename__} WHERE id IN (SELECT value FROM json_each(?))",
            (id_list,),
        )
    db.execute("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", (id_list,))
    return len(ids)


def _checkpoint_passive(db: sqlite3.Connection) -> None:
    """Copy the WAL into the database without blocking writers.

    Without it the purge's pages pile up in the WAL until a commit crosses
    wal_autocheckpoint, and that commit (often a patient's) does the copying.
    """
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _in_batches(
    engine: Engine,
    step: Callable[[sqlite3.Connection], int],
    *,
    pause: float,
    sleep: Callable[[float], None],
    step_aside: StepAside = nullcontext,
) -> int:
    """Run `step` in one short write transaction after another until it does nothing; sum.

    Each transaction and its checkpoint run inside `step_aside()` (on a kiosk
    kiosk.db.WriterGate.background): it begins after the kiosk's other writers are done,
    and a patient's commit that arrives meanwhile starts the moment it ends.

    Plain SQL on one connection: the write lock is held for the statements only, not for
    ORM bookkeeping. The purge's own commits are not synced to disk (synchronous=NORMAL):
    a batch lost to a power cut only comes back to be purged again, while a patient's
    commit on another connection keeps synchronous=FULL.
    """
    raw = engine.raw_connection()
    try:
        db = raw.driver_connection
        assert db is not None
        previous = db.isolation_level
        db.isolation_level = None  # BEGIN and COMMIT are ours
        db.execute("PRAGMA synchronous=NORMAL")
        total = 0
        try:
            while True:
                with step_aside():
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        done = step(db)
                        db.execute("COMMIT")
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    if done:
                        _checkpoint_passive(db)
                total += done
                if not done:
                    return total
                sleep(pause)
        finally:
            db.execute("PRAGMA synchronous=FULL")
            db.isolation_level = previous
    finally:
        raw.close()


def compact(
    engine: Engine,
    *,
    step_pages: int = VACUUM_STEP_PAGES,
    pause: float = BATCH_PAUSE_SECONDS,
    sleep: Callable[[float], None] = sleep_seconds,
    step_aside: StepAside = nullcontext,
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
                # executescript steps the pragma to its end: execute() stops after one
                # step, which frees a single page (and costs a whole durable commit).
                with step_aside():
                    dbapi.executescript(f"PRAGMA incremental_vacuum({int(step_pages)});")
                    _checkpoint_passive(dbapi)
                sleep(pause)
            # Copy what the WAL holds without blocking writers, then truncate what is left.
            with step_aside():
                dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            with step_aside():
                busy, _log_frames, _moved = dbapi.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                ).fetchone()
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
    step_aside: StepAside = nullcontext,
) -> PurgeReport:
    """Erase what is due, delete what is old, then compact; return what was done.

    Every batch and vacuum step runs inside `step_aside()` (kiosk.db.WriterGate.background
    on a kiosk), so the kiosk's own commits go first and never poll for the lock.
    """
    moment = now or utcnow()
    cutoff = purge_cutoff(moment, tz=tz, retention=retention)
    erased = _in_batches(
        engine,
        lambda db: erase_identifying_fields(db, cutoff=cutoff, now=moment, limit=batch_rows),
        pause=pause,
        sleep=sleep,
        step_aside=step_aside,
    )
    deleted = 0
    if sent_retention is not None:
        old = moment - sent_retention
        deleted = _in_batches(
            engine,
            lambda db: delete_sent_before(db, cutoff=old, limit=batch_rows),
            pause=pause,
            sleep=sleep,
            step_aside=step_aside,
        )
    with session_factory.begin() as session:
        stale_keys = drop_stale_match_keys(session=session, today=moment.astimezone(tz).date())
    compacted = False
    if erased or deleted or stale_keys or force_compact:
        try:
            compacted = compact(engine, pause=pause, sleep=sleep, step_aside=step_aside)
        except Exception as exc:  # e.g. SQLITE_BUSY: the caller owes a compaction
            log.warning("purge: compaction failed (%s); will retry", type(exc).__name__)
    if erased or deleted:
        log.info(
            "purge: erased identifying fields of %d and deleted %d acknowledged records",
            erased,
            deleted,
        )
    return PurgeReport(erased=erased, compacted=compacted, deleted=deleted)
