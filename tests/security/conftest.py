"""Fixtures for the security tests: a real clinic server process on loopback, over a fresh
database on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).

Every test here talks HTTP to that process, as an outside attacker would. PostgreSQL
parameters skip when the server does not answer, unless REQUIRE_POSTGRES=1: then they fail.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from pg_support import create_database, drop_database, pg_url, require_postgres  # noqa: E402
from serverproc import ServerProcess  # noqa: E402 - tests/sync holds the process helper


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def security_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a fresh, empty database (one per test, per backend)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clinic.db'}"
        return
    require_postgres()
    name = create_database("clinic_sec_")
    yield pg_url(name)
    drop_database(name)


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
    """Return a function starting a migrated server over `security_db_url` with settings.

    Keyword arguments become CLINIC_<NAME> environment variables of the process, e.g.
    `start_clinic_server(trusted_proxies="127.0.0.1/32")`. Servers started this way share
    the database and are stopped after the test.
    """
    started: list[ServerProcess] = []

    def start(**settings: str) -> ServerProcess:
        proc = ServerProcess(
            tmp_path / f"server-{len(started)}", database_url=security_db_url, **settings
        )
        proc.database_url = security_db_url
        if not started:
            proc.migrate()
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.close()
