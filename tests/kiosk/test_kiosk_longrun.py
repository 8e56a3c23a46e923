"""A year without attention: exact counters without scans, retention, short purge batches.

Fast unit tests on real SQLite files; bench/longrun.py measures the same code at a year's
scale (1,000,000 records).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk_core_helpers import Clock, row_counts
from sqlalchemy import delete, select

from kiosk import syncing
from kiosk.clockcheck import RELEASE_DATE, clock_problem
from kiosk.db import SCHEMA_VERSION, Database
from kiosk.models import CheckIn, Question
from kiosk.purge import purge
from kiosk.services import Kiosk
from kiosk.state import StateKey, set_state
from sync import outbox
from sync.outbox import OutboxRecord
from sync.protocol import ClockProblem, RecordKind

NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)
TZ = ZoneInfo("America/New_York")


def _question(i: int) -> dict[str, object]:
    return {
        "text": f"Synthetic question Vexilloid{i:05d} " + "x" * 300,
        "asked_at": "2027-03-10T09:00:00+00:00",
        "emergency_flag": False,
        "follow_up_token": f"{i:024d}",
        "language": "en",
    }


def _check(db: Database) -> dict[str, int]:
    with db.read_session() as session:
        kept = outbox.counts(session=session)
        assert kept == outbox.scan_counts(session=session)
    return kept


def test_counters_stay_exact_through_every_kind_of_write(tmp_path: Path) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    rng = random.Random(7)
    ids: list[str] = []
    for step in range(60):
        with db.write() as session:
            action = rng.choice(["enqueue", "claim", "ack", "retry", "park", "reset", "delete"])
            if action == "enqueue" or not ids:
                for _ in range(rng.randint(1, 5)):
                    ids.append(
                        outbox.enqueue(
                            RecordKind.QUESTION, _question(len(ids)), session=session, now=NOW
                        ).id
                    )
            elif action == "claim":
                outbox.claim_due_batch(session=session, limit=rng.randint(1, 6), now=NOW)
            elif action == "ack":
                outbox.mark_sent_many(rng.sample(ids, min(4, len(ids))), session=session, now=NOW)
            elif action == "retry":
                outbox.reschedule(rng.choice(ids), session=session, next_attempt_at=NOW, reason="r")
            elif action == "park":
                outbox.mark_failed(rng.choice(ids), session=session, reason="refused")
            elif action == "reset":
                outbox.reset_in_flight(session=session)
            else:
                gone = ids.pop(rng.randrange(len(ids)))
                session.execute(delete(OutboxRecord).where(OutboxRecord.id == gone))
        counted = _check(db)
        assert sum(counted.values()) == len(ids), step
    db.close()


def test_a_version_2_file_gets_counters_index_and_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.sqlite3"
    db = Database(path)
    with db.write() as session:
        made = [
            outbox.enqueue(RecordKind.QUESTION, _question(i), session=session, now=NOW).id
            for i in range(30)
        ]
        outbox.mark_sent_many(made[:10], session=session, now=NOW)
        outbox.mark_failed(made[10], session=session, reason="refused")
    db.close()
    raw = sqlite3.connect(path)  # make it look like a file written by schema version 2
    for trigger in ("outbox_count_insert", "outbox_count_delete", "outbox_count_move"):
        raw.execute(f"DROP TRIGGER {trigger}")
    raw.execute("DROP TABLE outbox_counters")
    raw.execute("DROP INDEX ix_outbox_sent")
    raw.execute("PRAGMA auto_vacuum=NONE")
    raw.execute("VACUUM")
    raw.execute("PRAGMA user_version=2")
    raw.commit()
    assert raw.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    raw.close()

    db = Database(path)
    assert db.pragma("user_version") == SCHEMA_VERSION == 3
    assert db.pragma("auto_vacuum") == 2  # incremental
    assert _check(db) == {"pending": 19, "in_flight": 0, "sent": 10, "failed": 1}
    with db.read_engine.connect() as connection:
        indexes = {row[1] for row in connection.exec_driver_sql("PRAGMA index_list(outbox)")}
    assert "ix_outbox_sent" in indexes
    db.close()


def test_retention_deletes_old_acknowledged_records_with_their_domain_rows(
    kiosk: Kiosk, clock: Clock
) -> None:
    old = kiosk.ask_question("An old question Quaxtermont", "en")
    clock.advance(days=20)
    recent = kiosk.ask_question("A recent question", "en")
    unsent = kiosk.ask_question("Not sent yet", "en")
    failed = kiosk.ask_question("Refused by the server", "en")
    with kiosk.db.write() as session:
        outbox.mark_sent_many(
            [old.question_id], session=session, now=clock.now - timedelta(days=20)
        )
        outbox.mark_sent_many([recent.question_id], session=session, now=clock.now)
        outbox.mark_failed(failed.question_id, session=session, reason="refused")
    with kiosk.db.write() as session:  # a failed record from long ago is kept too
        session.execute(
            OutboxRecord.__table__.update()
            .where(OutboxRecord.id.in_([failed.question_id, unsent.question_id]))
            .values(created_at=clock.now - timedelta(days=60))
        )
    before = row_counts(kiosk)

    syncing.purge_now(kiosk, now=clock.now)  # sent_retention_days = 14 by default

    after = row_counts(kiosk)
    assert after["outbox"] == before["outbox"] - 1
    assert after["questions"] == before["questions"] - 1
    with kiosk.db.read_session() as session:
        assert session.get(OutboxRecord, old.question_id) is None
        assert session.get(Question, old.question_id) is None
        for kept in (recent, unsent, failed):
            assert session.get(OutboxRecord, kept.question_id) is not None
            assert session.get(Question, kept.question_id) is not None
    assert _check(kiosk.db)["failed"] == 1
    assert b"Quaxtermont" not in kiosk.db.path.read_bytes()


def test_purge_works_in_short_batches_that_let_a_patient_commit_in_between(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    with db.write() as session:
        ids = [
            outbox.enqueue(RecordKind.QUESTION, _question(i), session=session, now=NOW).id
            for i in range(1000)
        ]
        outbox.mark_sent_many(ids, session=session, now=NOW - timedelta(days=30))
    pages_before = db.pragma("page_count")
    patient = sqlite3.connect(db.path, timeout=0, isolation_level=None)  # no waiting at all
    commits: list[int] = []

    def between_batches(_seconds: float) -> None:
        # The write lock must be free here: a check-in commits without waiting.
        patient.execute("BEGIN IMMEDIATE")
        patient.execute(
            "INSERT INTO kiosk_state (key, value) VALUES (?, 'x')", (f"k{len(commits)}",)
        )
        patient.execute("COMMIT")
        commits.append(1)

    report = purge(
        db.engine,
        db.sessions,
        tz=TZ,
        now=NOW,
        sent_retention=timedelta(days=14),
        batch_rows=100,
        sleep=between_batches,
    )
    patient.close()
    assert report.erased == 1000 and report.deleted == 1000 and report.compacted
    assert len(commits) >= 20  # 10 erase + 10 delete batches, then vacuum steps
    assert _check(db) == {"pending": 0, "in_flight": 0, "sent": 0, "failed": 0}
    assert db.pragma("freelist_count") == 0
    assert db.pragma("page_count") < pages_before / 4  # the file gave its space back
    assert db.pragma("integrity_check") == "ok"
    db.close()


def test_sync_status_reads_counters_and_flags_an_implausible_clock(
    kiosk: Kiosk, clock: Clock
) -> None:
    clock.now = RELEASE_DATE + timedelta(days=30)
    before = kiosk.sync_status().pending  # the demo's seeded check-in
    kiosk.ask_question("Where is the pharmacy?", "en")
    status = kiosk.sync_status()
    assert (status.pending, status.failed, status.clock_problem) == (before + 1, 0, None)
    with kiosk.db.write() as session:
        set_state(StateKey.CLOCK_SKEW_SECONDS, "-600", session=session)
    status = kiosk.sync_status()
    assert status.clock_problem == ClockProblem.SKEWED and status.clock_skew_seconds == -600
    clock.now = RELEASE_DATE - timedelta(days=1)
    with kiosk.db.write() as session:
        set_state(StateKey.CLOCK_SKEW_SECONDS, "0", session=session)
    assert kiosk.sync_status().clock_problem == ClockProblem.BEFORE_RELEASE


def test_clock_problem_thresholds() -> None:
    later = RELEASE_DATE + timedelta(days=1)
    assert clock_problem(later, None) is None
    assert clock_problem(later, 120) is None and clock_problem(later, -120) is None
    assert clock_problem(later, 125) is ClockProblem.SKEWED
    assert clock_problem(RELEASE_DATE - timedelta(seconds=1), 0) is ClockProblem.BEFORE_RELEASE


def test_status_listeners_hear_commits(kiosk: Kiosk) -> None:
    heard: list[int] = []
    syncing.watch_status(kiosk, lambda: heard.append(1))
    kiosk.ask_question("Is there parking?", "en")
    assert heard == [1]
    with kiosk.db.read_session() as session:
        assert session.scalar(select(CheckIn).limit(1)) is not None  # demo data still there
