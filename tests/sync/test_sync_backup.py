"""`clinic-server backup` while a real kiosk drains 5,000 records, then `restore` elsewhere.

The server is the real process on loopback (SQLite and PostgreSQL), the kiosk the real
services + outbox + sync worker. A record the kiosk saw acknowledged before the backup began
must be in the restored database, and the restored database must pass its integrity check.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FAST_WORKER, open_kiosk, pair_kiosk, wait_for
from serverproc import ROOT, ServerProcess
from sqlalchemy import select

from kiosk import syncing
from sync import outbox
from sync.outbox import OutboxRecord, OutboxStatus
from sync.protocol import QuestionBody, RecordKind, dump_body, new_follow_up_token

RECORDS = 5_000
PG_HOST = os.environ.get("CLINIC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CLINIC_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"


class Databases:
    """Makes fresh, empty databases of one backend and drops them afterwards."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self.made: list[str] = []

    def fresh(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.directory / f'clinic-{secrets.token_hex(4)}.db'}"
        name = f"clinic_backup_{secrets.token_hex(4)}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.made.append(name)
        return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"

    def drop_all(self) -> None:
        if not self.made:
            return
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.made:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    if request.param == "postgresql":
        try:
            engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL does not answer: {exc}")
            pytest.skip(f"PostgreSQL not available: {exc}")
    made = Databases(request.param, tmp_path)
    yield made
    made.drop_all()


def clinic_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `clinic-server` command line against one database."""
    env = {**os.environ, "CLINIC_ENVIRONMENT": "test", "CLINIC_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "clinic.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored_ids(database_url: str) -> list[str]:
    """Return the ids of every record a clinic database holds (one entry per row)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id FROM received_records")).scalars().all()
    finally:
        engine.dispose()
    return [uuid.UUID(str(value)).hex for value in rows]


def fill_outbox(kiosk: Any, count: int) -> None:
    """Queue `count` synthetic questions in the kiosk's outbox, in one transaction."""
    now = datetime.now(UTC)
    with kiosk.db.write() as session:
        for i in range(count):
            body = QuestionBody(
                text=f"Synthetic backup question {i}?",
                asked_at=now,
                follow_up_token=new_follow_up_token(),
                language="en",
            )
            outbox.enqueue(RecordKind.QUESTION, dump_body(body), session=session, now=now)


def acknowledged_ids(kiosk: Any) -> set[str]:
    with kiosk.db.read_session() as session:
        ids = session.scalars(
            select(OutboxRecord.id).where(OutboxRecord.status == OutboxStatus.SENT)
        ).all()
    return {uuid.UUID(value).hex for value in ids}


def test_backup_while_a_kiosk_drains_restores_every_acknowledged_record(
    databases: Databases, tmp_path: Path
) -> None:
    live_url = databases.fresh()
    server = ServerProcess(tmp_path / "server", database_url=live_url)
    server.database_url = live_url
    server.migrate()
    server.start()
    kiosk = open_kiosk(tmp_path / "kiosk", server_url=server.url)
    try:
        pair_kiosk(kiosk, server.url, server.pairing_code())
        fill_outbox(kiosk, RECORDS)
        # Small batches: the drain lasts long enough that the backup lands in its middle.
        settings = syncing.worker_settings(kiosk, **{**FAST_WORKER, "batch_size": 20})
        syncing.start_sync(kiosk, settings=settings)
        wait_for(lambda: len(acknowledged_ids(kiosk)) >= 500, 120, "the drain to get going")

        acked_before = acknowledged_ids(kiosk)
        backup_path = tmp_path / "backups" / f"clinic.{databases.backend}.backup"
        done = clinic_cli(live_url, "backup", str(backup_path))
        still_pending = kiosk.sync_status().pending
        assert done.returncode == 0, done.stderr
        assert still_pending > 0, "the drain ended before the backup: nothing tested"

        wait_for(lambda: kiosk.sync_status().pending == 0, 300, "the drain to finish")
        assert len(set(stored_ids(live_url))) == RECORDS
    finally:
        syncing.stop_sync(kiosk)
        kiosk.close()
        server.close()

    fresh_url = databases.fresh()
    restored = clinic_cli(fresh_url, "restore", str(backup_path))
    assert restored.returncode == 0, restored.stderr
    checked = clinic_cli(fresh_url, "check")
    assert checked.returncode == 0 and "(head)" in checked.stdout, checked.stderr

    ids = stored_ids(fresh_url)
    assert len(ids) == len(set(ids)), "a record is stored twice"
    missing = acked_before - set(ids)
    assert not missing, f"{len(missing)} acknowledged records missing from the backup"
    assert len(ids) <= RECORDS
    if databases.backend == "sqlite":
        from clinic.ops import sqlite_integrity

        path = Path(sa.engine.make_url(fresh_url).database or "")
        assert sqlite_integrity(path) == []
    else:
        _check_postgres_constraints(fresh_url)

    again = clinic_cli(fresh_url, "restore", str(backup_path))
    assert again.returncode == 1 and "already holds tables" in again.stderr


def _check_postgres_constraints(database_url: str) -> None:
    """Every foreign key of the live schema came back, and no row breaks one."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            keys = conn.execute(
                sa.text(
                    "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) "
                    "FROM pg_constraint WHERE contype = 'f'"
                )
            ).all()
            assert keys, "no foreign keys restored"
            orphans = conn.execute(
                sa.text(
                    "SELECT count(*) FROM received_records r "
                    "LEFT JOIN kiosks k ON k.id = r.kiosk_id WHERE k.id IS NULL"
                )
            ).scalar_one()
            assert orphans == 0
            for (table,) in conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ):
                conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
    finally:
        engine.dispose()
