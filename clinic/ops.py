"""Server operations: pre-start check, online backup and restore (SQLite and PostgreSQL).

Backups are safe while kiosks are sending: SQLite's online backup API copies a consistent
snapshot (in WAL mode writers go on meanwhile), and ``pg_dump`` reads one snapshot in a
repeatable-read transaction. Neither blocks ingest; a record acknowledged before the backup
began is in it. Restores go into an empty database unless ``force`` says to replace it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from clinic.config import Settings


class OperationError(RuntimeError):
    """A check, backup or restore that cannot be done (message says why and what to do)."""


@dataclass(frozen=True)
class CheckReport:
    """What `check` found: the schema revisions and the problems, if any."""

    current: tuple[str, ...]
    head: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Tell whether the server may start."""
        return not self.problems


def head_revisions() -> tuple[str, ...]:
    """Return the newest migration revision(s) shipped with this server."""
    from alembic.script import ScriptDirectory

    from clinic.db import alembic_config

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("")).get_heads()))


def _sqlite_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def check(settings: Settings) -> CheckReport:
    """Check that the database is reachable and migrated to the newest revision."""
    from alembic.runtime.migration import MigrationContext

    head = head_revisions()
    url = make_url(settings.database_url)
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        # Connecting would create an empty file; say what to do instead.
        return CheckReport((), head, (f"database file {path} does not exist: run migrate",))
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    except SQLAlchemyError as exc:
        # The driver's message says what failed (host, auth, file); no bound values in it.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return CheckReport((), head, (f"database unreachable: {reason}",))
    finally:
        engine.dispose()
    problems: list[str] = []
    if not current:
        problems.append("database has no schema: run migrate")
    elif current != head:
        problems.append(
            f"database at revision {', '.join(current)}, this server needs "
            f"{', '.join(head)}: run migrate"
        )
    return CheckReport(current, head, tuple(problems))


# --- backup ---------------------------------------------------------------------------------
def backup(settings: Settings, destination: Path) -> Path:
    """Write a consistent copy of the database to `destination` while the server runs."""
    url = make_url(settings.database_url)
    destination = destination.resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is None or not path.is_file():
            raise OperationError(f"no SQLite database file to back up at {url.database}")
        _sqlite_copy(path, destination)
        problems = sqlite_integrity(destination)
        if problems:
            destination.unlink(missing_ok=True)
            raise OperationError(f"backup failed its integrity check: {problems[0]}")
        return destination
    if url.get_backend_name() == "postgresql":
        partial = destination.with_name(destination.name + ".partial")
        _run_pg("pg_dump", url, ["--format=custom", "--no-owner", f"--file={partial}"])
        os.replace(partial, destination)
        return destination
    raise OperationError(f"backup of {url.get_backend_name()} databases is not supported")


def _sqlite_copy(source: Path, destination: Path) -> None:
    """Copy with the online backup API into a temporary file, then rename into place."""
    handle, tmp_name = tempfile.mkstemp(prefix=destination.name, dir=destination.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        # Read-only URI: a backup must never create or change the live database.
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(tmp)
        try:
            # One step (pages=-1): the copy is a single snapshot, not pages of different moments.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sqlite_integrity(path: Path) -> list[str]:
    """Run SQLite's integrity check on a file; return its complaints (empty: ok)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
    finally:
        connection.close()
    return [] if rows == ["ok"] else rows


# --- restore --------------------------------------------------------------------------------
def restore(settings: Settings, source: Path, *, force: bool = False) -> None:
    """Load a backup into the configured database (empty, or replaced when `force`)."""
    if not source.is_file():
        raise OperationError(f"no backup file at {source}")
    url = make_url(settings.database_url)
    if not force and _has_tables(url):
        raise OperationError(
            "the target database already holds tables: restore into an empty database, "
            "or pass --force to replace it (stop the server first)"
        )
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is None:
            raise OperationError("restore needs a SQLite database file, not :memory:")
        problems = sqlite_integrity(source)
        if problems:
            raise OperationError(f"the backup fails its integrity check: {problems[0]}")
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        _sqlite_copy(source, path)
        return
    if url.get_backend_name() == "postgresql":
        args = ["--no-owner", "--exit-on-error", "--single-transaction"]
        if force:
            args += ["--clean", "--if-exists"]
        _run_pg("pg_restore", url, [*args, str(source)])
        return
    raise OperationError(f"restore of {url.get_backend_name()} databases is not supported")


def _has_tables(url: URL) -> bool:
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        return False
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as connection:
            return bool(inspect(connection).get_table_names())
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise OperationError(f"database unreachable: {reason}") from None
    finally:
        engine.dispose()


def _run_pg(tool: str, url: URL, args: list[str]) -> None:
    """Run pg_dump/pg_restore with the connection in the environment (no password in argv)."""
    executable = shutil.which(tool)
    if executable is None:
        raise OperationError(f"{tool} not found: install Debian's postgresql-client")
    env: dict[str, Any] = dict(os.environ)
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[key] = str(value)
    if tool == "pg_restore":
        args = [f"--dbname={url.database}", *args]
    done = subprocess.run([executable, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OperationError(f"{tool} failed: {done.stderr.strip()}")
