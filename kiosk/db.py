"""The kiosk's SQLite database: engine, session factory, schema creation and migration.

Durability settings on every connection: WAL journal, synchronous=FULL (a committed
check-in survives power loss), foreign keys on, a busy timeout. pysqlite's own implicit
BEGIN is disabled and each transaction starts with BEGIN IMMEDIATE, so a write transaction
takes the write lock up front and never fails half-way with SQLITE_BUSY on upgrade
(SQLAlchemy's "pysqlite serializable" recipe). Read-only work may use `read_session()`,
which begins DEFERRED and so never waits for the writer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from kiosk.models import KioskBase
from sync.outbox import OutboxBase

#: Bump when the schema changes and add a step to MIGRATIONS (from version N to N + 1).
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 5000
_BEGIN_OPTION = "kiosk_sqlite_begin"


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer kiosk version; refuse to touch it."""


def make_engine(path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """Return an engine for the SQLite file at `path` with the durability settings."""
    db_path = Path(path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite+pysqlite:///{db_path}",
        # The sync worker thread shares the pool; a pooled connection is used by one
        # thread at a time, so the same-thread check only gets in the way.
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        # A failed statement's message would carry its parameters (outbox payloads with
        # names, phones...) into every log.exception; keep them out of errors and logs.
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Autocommit at the driver level: we emit BEGIN ourselves in _on_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Set before the first table exists: freed pages can then be returned to the file
            # system a few at a time (kiosk/purge.py) instead of by a VACUUM that holds the
            # write lock for the whole file. An existing file is converted once on open.
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            # Deleted and overwritten patient data is zeroed in the file, not just unlinked.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def schema_version(engine: Engine) -> int:
    """Return the schema version stored in PRAGMA user_version."""
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())


def _columns(connection: Any, table: str) -> set[str]:
    rows = connection.exec_driver_sql(f"PRAGMA table_info({table})").all()
    return {str(row[1]) for row in rows}


def _v1_to_v2(connection: Any) -> None:
    """Add walk_ins.identity_key (same-day walk-in de-duplication)."""
    if "identity_key" not in _columns(connection, "walk_ins"):
        connection.exec_driver_sql(
            "ALTER TABLE walk_ins ADD COLUMN identity_key VARCHAR(64) NOT NULL DEFAULT ''"
        )
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_walk_ins_identity_key ON walk_ins (identity_key)"
    )


def _v2_to_v3(connection: Any) -> None:
    """Index acknowledged rows by ack time (retention); the counters table follows."""
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_outbox_sent ON outbox (status, sent_at)"
    )
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_outbox_unpurged ON outbox (sent_at) "
        "WHERE status = 'sent' AND purged_at IS NULL"
    )


#: MIGRATIONS[n] upgrades a database at version n to n + 1 (runs inside one transaction).
MIGRATIONS: dict[int, Callable[[Any], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


def ensure_incremental_vacuum(engine: Engine) -> bool:
    """Switch a file made before auto_vacuum=INCREMENTAL over (one VACUUM); True if it did."""
    with engine.connect() as connection:
        if int(connection.exec_driver_sql("PRAGMA auto_vacuum").scalar_one()) == 2:
            return False
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        dbapi.execute("PRAGMA auto_vacuum=INCREMENTAL")
        dbapi.execute("VACUUM")  # once, at start-up, before any patient is served
        dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return True


def create_or_migrate(engine: Engine) -> int:
    """Create missing tables, run pending migrations, and return the schema version."""
    current = schema_version(engine)
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {current} is newer than this kiosk ({SCHEMA_VERSION})"
        )
    with engine.begin() as connection:
        if current == 0:
            KioskBase.metadata.create_all(connection)
            OutboxBase.metadata.create_all(connection)
        else:
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](connection)
            # New tables added since (create_all skips existing ones).
            KioskBase.metadata.create_all(connection)
            OutboxBase.metadata.create_all(connection)
        connection.exec_driver_sql(f"PRAGMA user_version={SCHEMA_VERSION}")
    return SCHEMA_VERSION


class WriterGate:
    """Lets background maintenance (the purge) step aside for the kiosk's other writers.

    Every `Database.write()` transaction is a foreground writer. The purge runs each of its
    batches inside `background()`: it begins once no foreground transaction is open and the
    last one ended `quiet_seconds` ago (`wait_quiet`), so a batch and its disk writes start
    in the gap after a patient's commit rather than under it. It never waits longer than
    `max_wait_seconds`, so a kiosk that writes without pause still gets purged.

    A foreground writer that arrives while a batch runs waits here, on a condition that
    wakes it the moment the batch ends, instead of in SQLite's busy handler, which polls
    the lock after sleeps of 1, 2, 5, 10, 15, 20, 25... ms: a patient's commit queued
    behind a 4 ms batch would otherwise start only after 8 ms, one behind a 9 ms batch
    after 18 ms.
    """

    def __init__(
        self,
        *,
        quiet_seconds: float = 0.015,
        max_wait_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet_seconds = quiet_seconds
        self.max_wait_seconds = max_wait_seconds
        self._clock = clock
        self._changed = threading.Condition()
        self._active = 0
        self._background = False
        self._last_end = float("-inf")
        #: Foreground writers waiting here for a background batch to end (0 most of the time).
        self.held_off = 0

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Mark one foreground write transaction for the duration of the block.

        Waits for a background batch in progress (bounded, like `wait_quiet`: past the
        bound SQLite's own busy timeout takes over).
        """
        with self._changed:
            deadline = self._clock() + self.max_wait_seconds
            self.held_off += 1
            try:
                while self._background:
                    left = deadline - self._clock()
                    if left <= 0:
                        break
                    self._changed.wait(left)
            finally:
                self.held_off -= 1
            self._active += 1
        try:
            yield
        finally:
            with self._changed:
                self._active -= 1
                self._last_end = self._clock()
                self._changed.notify_all()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Run one background batch: after `wait_quiet`, with foreground writers held off."""
        with self._changed:
            self._wait_quiet_locked()
            self._background = True
        try:
            yield
        finally:
            with self._changed:
                self._background = False
                self._changed.notify_all()

    def wait_quiet(self) -> None:
        """Block until no foreground writer is busy or just finished (bounded wait)."""
        with self._changed:
            self._wait_quiet_locked()

    def _wait_quiet_locked(self) -> None:
        """wait_quiet with the condition held (the wait releases it)."""
        deadline = self._clock() + self.max_wait_seconds
        while True:
            now = self._clock()
            if now >= deadline:
                return
            if self._active == 0:
                idle = now - self._last_end
                if idle >= self.quiet_seconds:
                    return
                self._changed.wait(min(self.quiet_seconds - idle, deadline - now))
            else:
                self._changed.wait(deadline - now)


class Database:
    """The kiosk's engine and session factory, created and migrated on open."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path)
        self.engine = make_engine(self.path, busy_timeout_ms=busy_timeout_ms)
        create_or_migrate(self.engine)
        ensure_incremental_vacuum(self.engine)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        #: The same pool, but transactions begin DEFERRED: for reads that must not wait.
        self.read_engine = self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        self._read_sessions: sessionmaker[Session] = make_session_factory(self.read_engine)
        #: Foreground writers (patients' commits, the sync worker) go before the purge.
        self.gate = WriterGate()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Open a BEGIN IMMEDIATE transaction; commit on success, roll back on error."""
        with self.gate.foreground(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """Open a read-only (BEGIN DEFERRED) transaction; it never takes the write lock."""
        # Closing (not rolling back) keeps loaded objects readable, detached, after the block.
        with self._read_sessions() as session:
            yield session

    def pragma(self, name: str) -> Any:
        """Return a PRAGMA value as seen by a pooled connection (for checks and tests)."""
        with self.read_engine.connect() as connection:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
