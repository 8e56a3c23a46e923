"""Purge: identifying fields of acked records leave the database file's bytes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kiosk.db import Database
from kiosk.purge import purge, purge_cutoff
from sync import outbox
from sync.outbox import OutboxRecord
from sync.protocol import RecordKind

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
TZ = ZoneInfo("America/New_York")


def _walk_in(i: int) -> dict[str, str]:
    return {
        "first_name": f"Zorblina{i:04d}",
        "last_name": f"Quaxtermont{i:04d}",
        "date_of_birth": "1961-02-03",
        "reason": f"Synthetic reason Vexilloid{i:04d}",
        "phone": "+1 555 0100",
        "arrived_at": "2026-11-28T09:00:00+00:00",
        "queue_number": f"A{i:03d}",
        "follow_up_token": f"{i:024d}",
        "language": "en",
    }


def _file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_cutoff_defaults_to_start_of_clinic_day() -> None:
    cutoff = purge_cutoff(NOW, tz=TZ, retention=None)
    assert cutoff == datetime(2026, 11, 28, 0, 0, tzinfo=TZ)
    assert purge_cutoff(NOW, tz=TZ, retention=timedelta(hours=2)) == NOW - timedelta(hours=2)


def test_purge_erases_acked_names_from_file_bytes(tmp_path: Path) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    acked_yesterday, acked_today, unsent = [], [], []
    with db.write() as session:
        for i in range(60):
            row = outbox.enqueue(RecordKind.WALK_IN, _walk_in(i), session=session)
            (acked_yesterday if i < 40 else acked_today if i < 50 else unsent).append(row.id)
    with db.write() as session:
        outbox.mark_sent_many(acked_yesterday, session=session, now=NOW - timedelta(days=1))
        outbox.mark_sent_many(acked_today, session=session, now=NOW - timedelta(minutes=5))
    before = _file_bytes(db.path)
    assert b"Quaxtermont0001" in before  # the check below can fail

    report = purge(db.engine, db.sessions, tz=TZ, now=NOW)
    assert report.erased == 40 and report.compacted

    after = _file_bytes(db.path)
    for i in range(40):
        for word in (f"Zorblina{i:04d}", f"Quaxtermont{i:04d}", f"Vexilloid{i:04d}"):
            assert word.encode() not in after, word
    # Acked today (retention not over) and never-acked rows keep their data.
    for i in range(40, 60):
        assert f"Quaxtermont{i:04d}".encode() in after
    with db.read_session() as session:
        sample = session.scalars(
            select(OutboxRecord).where(OutboxRecord.id == acked_yesterday[0])
        ).one()
        assert sample.purged_at is not None
        assert "last_name" not in sample.payload and sample.payload["queue_number"] == "A000"
    assert db.pragma("integrity_check") == "ok"
    wal = db.path.with_name(db.path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    db.close()


def test_purge_with_nothing_due_does_not_compact(tmp_path: Path) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    with db.write() as session:
        outbox.enqueue(RecordKind.WALK_IN, _walk_in(1), session=session)
    assert purge(db.engine, db.sessions, tz=TZ, now=NOW).erased == 0
    db.close()


def test_compaction_blocked_by_a_reader_is_owed_then_done(tmp_path: Path) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    with db.write() as session:
        ids = [
            outbox.enqueue(RecordKind.WALK_IN, _walk_in(i), session=session).id for i in range(20)
        ]
    with db.write() as session:
        outbox.mark_sent_many(ids, session=session, now=NOW - timedelta(days=1))
    reader = sqlite3.connect(db.path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM outbox").fetchone()  # holds a read snapshot
    report = purge(db.engine, db.sessions, tz=TZ, now=NOW)
    assert report.erased == 20 and report.compaction_owed
    reader.rollback()
    reader.close()
    again = purge(db.engine, db.sessions, tz=TZ, now=NOW, force_compact=True)
    assert again.erased == 0 and again.compacted
    assert b"Quaxtermont" not in _file_bytes(db.path)
    db.close()
