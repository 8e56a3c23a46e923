"""The store: durability pragmas, BEGIN IMMEDIATE, schema version, one-transaction writes."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from kiosk_core_helpers import row_counts
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from kiosk.db import SCHEMA_VERSION, Database, SchemaTooNewError
from kiosk.facade import MatchStatus, RatingDetails, StorageError
from kiosk.models import Appointment, QueueCounter
from kiosk.services import Kiosk

DOB = date(1984, 3, 12)


def test_wal_synchronous_full_and_foreign_keys_are_in_effect(kiosk: Kiosk) -> None:
    assert kiosk.db.pragma("journal_mode") == "wal"
    assert kiosk.db.pragma("synchronous") == 2  # FULL
    assert kiosk.db.pragma("foreign_keys") == 1
    # Every pooled connection, not only the first: hold one, check another.
    with kiosk.db.read_engine.connect() as first, kiosk.db.read_engine.connect() as second:
        for connection in (first, second):
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # The WAL mode is persistent in the file itself: a plain sqlite3 client sees it.
    raw = sqlite3.connect(kiosk.db.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_writes_begin_immediate(kiosk: Kiosk) -> None:
    statements: list[str] = []

    @event.listens_for(kiosk.db.engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement.split()[0].upper() + " " + (statement.split() + [""])[1])

    kiosk.check_in(kiosk.find_appointment("Okafor", DOB).appointment_ref, "en")
    event.remove(kiosk.db.engine, "before_cursor_execute", _record)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert "BEGIN IMMEDIATE" in begins
    first_insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT"))
    last_begin = max(i for i, s in enumerate(statements[:first_insert]) if s.startswith("BEGIN"))
    assert statements[last_begin] == "BEGIN IMMEDIATE"


def test_a_write_waits_for_the_lock_up_front_while_reads_go_on(tmp_path) -> None:
    db = Database(tmp_path / "k.sqlite3", busy_timeout_ms=100)
    blocker = sqlite3.connect(db.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        with pytest.raises(OperationalError, match="locked"), db.write() as session:
            session.add(QueueCounter(day="2026-03-10", last_number=1))
        with db.read_session() as session:  # WAL: readers are not blocked by the writer
            assert session.scalars(select(QueueCounter)).all() == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with db.write() as session:
        session.add(QueueCounter(day="2026-03-10", last_number=1))
    db.close()


def test_schema_version_is_kept_and_reopening_is_harmless(tmp_path) -> None:
    db = Database(tmp_path / "k.sqlite3")
    assert db.pragma("user_version") == SCHEMA_VERSION
    with db.write() as session:
        session.add(QueueCounter(day="2026-03-10", last_number=7))
    db.close()
    again = Database(tmp_path / "k.sqlite3")
    with again.read_session() as session:
        assert session.get(QueueCounter, "2026-03-10").last_number == 7  # type: ignore[union-attr]
    again.close()


def test_a_database_from_a_newer_kiosk_is_refused(tmp_path) -> None:
    path = tmp_path / "k.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaTooNewError):
        Database(path)


def _break_outbox(kiosk: Kiosk) -> None:
    with kiosk.db.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER outbox_full BEFORE INSERT ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
        )


def _mend_outbox(kiosk: Kiosk) -> None:
    with kiosk.db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER outbox_full")


def test_failed_outbox_insert_leaves_no_domain_row(kiosk: Kiosk) -> None:
    ref = kiosk.find_appointment("Okafor", DOB).appointment_ref
    _break_outbox(kiosk)
    counts = row_counts(kiosk)
    with pytest.raises(StorageError) as caught:
        kiosk.check_in(ref, "en")
    assert caught.value.message == "Sorry, this could not be saved. Please see the front desk."
    with pytest.raises(StorageError):
        kiosk.register_walk_in("Jonas", "Weber", date(1970, 4, 1), "Rash", None, "en")
    with pytest.raises(StorageError):
        kiosk.ask_question("Parking?", "en")
    with pytest.raises(StorageError):
        kiosk.rate_visit(3, "en")
    assert row_counts(kiosk) == counts  # no check-in, walk-in, question, rating, counter...
    with kiosk.db.read_session() as session:
        appointment = session.get(Appointment, ref)
        assert appointment is not None and appointment.checked_in is False
    assert kiosk.find_appointment("Okafor", DOB).status is MatchStatus.MATCHED
    _mend_outbox(kiosk)
    receipt = kiosk.check_in(ref, "en")
    assert receipt.queue_number == "A002"  # the failed attempts used no number


def test_failed_outbox_insert_for_details_and_contact(kiosk: Kiosk) -> None:
    rating = kiosk.rate_visit(3, "en")
    check = kiosk.check_in(kiosk.find_appointment("Okafor", DOB).appointment_ref, "en")
    _break_outbox(kiosk)
    counts = row_counts(kiosk)
    with pytest.raises(StorageError):
        kiosk.add_rating_details(rating.rating_id, RatingDetails(overall=5))
    with pytest.raises(StorageError):
        kiosk.update_contact(check.check_in_id, "+1 555 010 2222", None)
    assert row_counts(kiosk) == counts
    _mend_outbox(kiosk)
    kiosk.add_rating_details(rating.rating_id, RatingDetails(overall=5))
    assert row_counts(kiosk)["rating_details"] == counts["rating_details"] + 1


def test_commit_listeners_run_after_commit_only(kiosk: Kiosk) -> None:
    seen: list[int] = []
    kiosk.add_commit_listener(lambda: seen.append(row_counts(kiosk)["questions"]))
    kiosk.ask_question("Parking?", "en")
    assert seen == [1]  # the row was already committed when the listener ran
    _break_outbox(kiosk)
    with pytest.raises(StorageError):
        kiosk.ask_question("Hours?", "en")
    assert seen == [1]


def test_concurrent_check_ins_get_distinct_queue_numbers(tmp_path, settings) -> None:
    import threading

    from kiosk_core_helpers import Person, load_people

    kiosk = Kiosk.open(settings, seed_demo=False)
    now = kiosk.now()
    people = [Person(f"r{i}", f"Para{chr(65 + i)}", DOB, now) for i in range(8)]
    load_people(kiosk, people)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker(ref: str) -> None:
        try:
            results.append(kiosk.check_in(ref, "en").queue_number)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p.ref,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [f"A{i:03d}" for i in range(1, 9)]
    kiosk.close()


def test_a_returned_check_in_survives_kill_9(tmp_path) -> None:
    """The process dies right after check_in returns: the record is on disk."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from kiosk.config import KioskSettings
    from sync.outbox import OutboxRecord

    root = Path(__file__).resolve().parents[2]
    code = (
        "import os, signal, sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from kiosk.config import KioskSettings\n"
        "from kiosk.services import Kiosk\n"
        "k = Kiosk.open(KioskSettings.load(environ={}, demo=True, data_dir=Path(sys.argv[1])))\n"
        "m = k.find_appointment('Okafor', date(1984, 3, 12))\n"
        "r = k.check_in(m.appointment_ref, 'en')\n"
        "print(r.check_in_id, r.queue_number, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    check_in_id, queue_number = result.stdout.split()
    assert os.path.exists(tmp_path / "kiosk.sqlite3-wal")  # killed: no clean checkpoint
    settings = KioskSettings.load(environ={}, demo=True, data_dir=tmp_path)
    kiosk = Kiosk.open(settings, seed_demo=False)
    with kiosk.db.read_session() as session:
        row = session.get(OutboxRecord, check_in_id)
        assert row is not None and row.payload["queue_number"] == queue_number
    assert row_counts(kiosk)["check_ins"] == 2  # the seeded one + the one just made
    kiosk.close()


def test_a_version_1_database_is_migrated(tmp_path) -> None:
    """A file from the first kiosk release (no walk_ins.identity_key) upgrades in place."""
    path = tmp_path / "k.sqlite3"
    Database(path).close()
    raw = sqlite3.connect(path)
    raw.execute("DROP INDEX ix_walk_ins_identity_key")
    raw.execute("ALTER TABLE walk_ins DROP COLUMN identity_key")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    db = Database(path)
    assert db.pragma("user_version") == SCHEMA_VERSION == 3
    with db.read_engine.connect() as connection:
        columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(walk_ins)")}
    assert "identity_key" in columns
    db.close()
