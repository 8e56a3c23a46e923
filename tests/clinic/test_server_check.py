"""`clinic-server check`: settings, a reachable database, the schema at the newest revision."""

from __future__ import annotations

from pathlib import Path

from server_helpers import free_port, make_settings

from clinic.db import migrate
from clinic.ops import check, head_revisions


def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    report = check(make_settings(f"sqlite:///{path}"))
    assert not report.ok and "does not exist: run migrate" in report.problems[0]
    assert not path.exists()


def test_an_older_schema_is_reported_until_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(url, "0102")
    report = check(make_settings(url))
    assert report.current == ("0102",) and report.head == head_revisions()
    assert not report.ok and "run migrate" in report.problems[0]
    migrate(url)
    assert check(make_settings(url)).ok


def test_the_shared_database_at_head_passes(database_url: str) -> None:
    report = check(make_settings(database_url))  # SQLite and PostgreSQL, migrated
    assert report.ok and report.current == head_revisions()


def test_an_unreachable_server_is_reported() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/clinic?connect_timeout=2"
    report = check(make_settings(url))
    assert not report.ok and report.problems[0].startswith("database unreachable:")
