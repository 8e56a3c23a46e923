"""Engine and session factories; Alembic upgrade helper.

SQLite runs in WAL mode with a busy timeout; write transactions there start with
BEGIN IMMEDIATE (a session made by `Database.writer`), so a transaction that reads first and
writes later waits for the lock instead of failing with SQLITE_BUSY_SNAPSHOT.
"""

from __future__ import annotations

import contextlib
import os
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from clinic.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
_HOLDS_WRITE_LOCK = "clinic_holds_write_lock"


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, busy_timeout, foreign keys and explicit BEGIN."""
    url = make_url(database_url)
    # A database error's message (and SQL echo) would otherwise carry the bound values:
    # patient names, comments, tokens. Keep them out of logs and tracebacks.
    kwargs.setdefault("hide_parameters", True)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            private_sqlite_file(Path(url.database))
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL up to power loss
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten rows are zeroed, so erased patient data does not
            # linger in free pages of the file.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        # SQLite has one writer at a time; threads of this process queue on a lock instead
        # of SQLite's busy handler, which polls with sleeps of up to 100 ms (long tails under
        # concurrency). Other processes still meet busy_timeout.
        write_lock = threading.Lock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("sqlite_begin_immediate", False)
            if immediate and write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
                conn.info[_HOLDS_WRITE_LOCK] = True
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        def _release(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
            # Runs when the connection goes back to the pool: after COMMIT/ROLLBACK.
            if record is not None and record.info.pop(_HOLDS_WRITE_LOCK, False):
                write_lock.release()

        event.listen(engine, "checkin", _release)
        event.listen(engine, "invalidate", _release)

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def private_sqlite_file(path: Path) -> None:
    """Create a SQLite file readable by its owner only (or make an existing one so).

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process was first
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    elif path.is_file() and path.stat().st_mode & 0o077:
        with contextlib.suppress(PermissionError):  # not ours: the operator's choice
            path.chmod(0o600)


class Database:
    """The engine and the two session factories (readers and writers) of one database."""

    def __init__(self, settings: Settings, **engine_options: Any) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url, **engine_options)
        self.reader: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        write_engine = self.engine.execution_options(sqlite_begin_immediate=True)
        self.writer: sessionmaker[Session] = sessionmaker(write_engine, expire_on_commit=False)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def alembic_config(database_url: str) -> Any:
    """Return an Alembic Config pointing at clinic/migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("clinic") / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Upgrade the database schema to `revision` (default: the newest)."""
    from alembic import command

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        private_sqlite_file(Path(url.database))
    command.upgrade(alembic_config(database_url), revision)
