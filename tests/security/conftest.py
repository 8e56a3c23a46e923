"""Fixtures for the security tests: a real clinic server process on loopback, over a fresh
database on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).

Every test here talks HTTP to that process, as an outside attacker would. PostgreSQL
parameters skip when the server does not answer, unless REQUIRE_POSTGRES=1: then they fail.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from pg_support import create_database, drop_database, pg_url, require_postgres  # noqa: E402
from serverproc import ServerProcess  # noqa: E402 - tests/sync holds the process helper

from clinic.db import migrate, private_sqlite_file  # noqa: E402


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per test process; each test gets a copy."""
    path = tmp_path_factory.mktemp("security-template") / "clinic.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per test process; each test gets a copy."""
    require_postgres()
    name = create_database("clinic_sectpl_")
    migrate(pg_url(name))
    yield name
    drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def security_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a fresh migrated database (one per test, per backend).

    Copied from a template migrated once: migrating each test's database through
    `clinic-server migrate` started a process and ran every migration, per test.
    """
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "clinic.db"
        private_sqlite_file(path)  # owner-only, as `clinic-server migrate` makes it
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = create_database("clinic_sec_", template=request.getfixturevalue("_pg_template"))
    yield pg_url(name)
    drop_database(name)


@pytest.fixture
def clinic_server(security_db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A clinic server process on loopback over `security_db_url` (already migrated).

    Settings can be changed before start through `clinic_server.env` only in a fixture of
    your own; this one starts at once with the test defaults of ServerProcess.
    """
    proc = ServerProcess(tmp_path / "server", database_url=security_db_url)
    proc.database_url = security_db_url
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
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.close()
