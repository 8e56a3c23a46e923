"""Fixtures for the clinic server tests: each test gets a fresh, migrated database on SQLite
and on PostgreSQL (127.0.0.1:5432, user postgres).

Migrations (not create_all) build one template database per backend per session; each test
gets a clean one (a file copy on SQLite; TRUNCATE of every table on PostgreSQL). When
PostgreSQL does not answer, its parameters skip, unless REQUIRE_POSTGRES=1: then they fail.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pg_support import create_database, drop_database, pg_url, require_postgres
from server_helpers import LiveServer, free_port, make_settings

from clinic.app import create_app
from clinic.config import Settings
from clinic.db import migrate


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clinic-sqlite") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_postgres()
    name = create_database("clinic_test_")
    migrate(pg_url(name))
    yield name
    drop_database(name)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a fresh migrated database (one per test, per backend)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "clinic.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name: str = request.getfixturevalue("pg_template")
    _reset_postgres(name)
    yield pg_url(name)


#: Rows the migrations create, restored after TRUNCATE (per table).
_pg_seed_rows: dict[str, list[dict[str, Any]]] = {}
_PG_KEEP = ("alembic_version",)
_PG_SEEDED = ("clinic_settings", "pull_version")


def _reset_postgres(name: str) -> None:
    """Empty every table (TRUNCATE is much faster than a new database per test)."""
    engine = sa.create_engine(pg_url(name), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        tables = [
            t
            for t in conn.scalars(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if t not in _PG_KEEP
        ]
        for table in _PG_SEEDED:
            if table not in _pg_seed_rows:
                rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).mappings().all()
                _pg_seed_rows[table] = [dict(r) for r in rows]
        conn.exec_driver_sql(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )
        for table, rows in _pg_seed_rows.items():
            if rows:
                meta = sa.Table(table, sa.MetaData(), autoload_with=conn)
                conn.execute(meta.insert(), rows)
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use cheap argon2id parameters in tests (production keeps argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    import clinic.security

    cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    monkeypatch.setattr(clinic.security, "_hasher", cheap)
    monkeypatch.setattr(clinic.security, "_DUMMY_HASH", cheap.hash("dummy"))
