"""A migrated database per backend (SQLite file; PostgreSQL when it answers) for this area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database, pg_url, require_postgres

from clinic.config import Settings
from clinic.db import Database, migrate


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def dash_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """Yield a Database on a freshly migrated schema (tests isolate by their own kiosk)."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("dash-sqlite") / "clinic.db"
        url = f"sqlite:///{path}"
        migrate(url)
        db = Database(Settings(database_url=url, environment="test"))
        yield db
        db.dispose()
        return
    require_postgres()
    name = create_database("clinic_test_dash_")
    url = pg_url(name)
    migrate(url)
    db = Database(Settings(database_url=url, environment="test"))
    try:
        yield db
    finally:
        db.dispose()
        drop_database(name)
