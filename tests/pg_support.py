"""The test PostgreSQL server (127.0.0.1:5432, user postgres, trust), shared by the
clinic, dashboard and security conftests: where it is, whether it answers, a fresh database.

Without an answering server the PostgreSQL parameters skip, unless REQUIRE_POSTGRES=1 (CI on
a machine that has one): then they fail.
"""

from __future__ import annotations

import os
import secrets

import pytest
import sqlalchemy as sa

PG_HOST = os.environ.get("CLINIC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CLINIC_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"


def pg_url(name: str) -> str:
    """Return the URL of database `name` on the test server."""
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def postgres_problem() -> str | None:
    """Return None if PostgreSQL accepts a connection, else why not."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return None


def require_postgres() -> None:
    """Skip the test when PostgreSQL does not answer (fail under REQUIRE_POSTGRES=1)."""
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL at {PG_HOST}:{PG_PORT}: {problem}")
    pytest.skip(f"PostgreSQL not available: {problem}")


def create_database(prefix: str, *, template: str | None = None) -> str:
    """Create a database named `prefix` + a random suffix, empty or a copy of `template`
    (which nobody may be connected to); return its name."""
    name = f"{prefix}{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    admin.dispose()
    return name


def drop_database(name: str) -> None:
    """Drop a database made by create_database (closing its remaining connections)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
