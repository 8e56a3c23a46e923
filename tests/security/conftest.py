"""Fixtures for the security tests: a real clinic server process on loopback, over a fresh
database on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).

Every test here talks HTTP to that process, as an outside attacker would. PostgreSQL
parameters skip when the server does not answer, unless REQUIRE_POSTGRES=1: then they fail.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from serverproc import ServerProcess  # noqa: E402 - tests/sync holds the process helper

PG_HOST = os.environ.get("CLINIC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CLINIC_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"


def _postgres_problem() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def security_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a fresh, empty database (one per test, per backend)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clinic.db'}"
        return
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL at {PG_HOST}:{PG_PORT}: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")
    name = f"clinic_sec_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def clinic_server(security_db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A migrated clinic server process on loopback over `security_db_url`.

    Settings can be changed before start through `clinic_server.env` only in a fixture of
    your own; this one starts at once with the test defaults of ServerProcess.
    """
    proc = ServerProcess(tmp_path / "server", database_url=security_db_url)
    proc.database_url = security_db_url
    proc.migrate()
    proc.start()
    yield proc
    proc.close()


@pytest.fixture
def start_clinic_server(
    security_db_url: str, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Return a function that starts a migrated server over `security_db_url` with settings.

    `start_clinic_server(purge_check_seconds="1")` sets CLINIC_PURGE_CHECK_SECONDS=1.
    """
    started: list[ServerProcess] = []

    def start(**settings: str) -> ServerProcess:
        proc = ServerProcess(
            tmp_path / f"server{len(started)}", database_url=security_db_url, **settings
        )
        proc.database_url = security_db_url
        started.append(proc)
        proc.migrate()
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.close()
