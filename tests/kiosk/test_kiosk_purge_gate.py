"""The purge steps aside for the kiosk's own writers (kiosk.db.WriterGate).

Real SQLite file, real threads, real time with short intervals: while a foreground write
transaction is open, and for the gate's quiet time after it, no purge batch begins; a
writer that never pauses does not stop the purge for longer than the gate's bound; a
patient's commit that arrives during a batch waits on the gate (woken when the batch
ends), not in SQLite's busy handler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

from kiosk.db import Database, WriterGate
from kiosk.purge import purge
from sync import outbox
from sync.protocol import RecordKind

NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)


def _sent_questions(db: Database, count: int) -> None:
    with db.write() as session:
        ids = [
            outbox.enqueue(
                RecordKind.QUESTION,
                {
                    "text": f"Synthetic question {i}",
                    "asked_at": "2027-03-10T09:00:00+00:00",
                    "emergency_flag": False,
                    "follow_up_token": f"{i:024d}",
                    "language": "en",
                },
                session=session,
                now=NOW,
            ).id
            for i in range(count)
        ]
        outbox.mark_sent_many(ids, session=session, now=NOW - timedelta(days=30))


def test_no_purge_batch_begins_while_a_patient_writes_or_just_after(tmp_path: Path) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    db.gate = WriterGate(quiet_seconds=0.05, max_wait_seconds=5.0)
    _sent_questions(db, 300)
    held, release = threading.Event(), threading.Event()
    ended: list[float] = []

    def patient() -> None:
        with db.write() as session:
            session.execute(text("INSERT INTO kiosk_state (key, value) VALUES ('p', 'x')"))
            held.set()
            release.wait(5)
        ended.append(time.monotonic())

    writer = threading.Thread(target=patient)
    writer.start()
    assert held.wait(5)
    starts: list[float] = []

    @contextmanager
    def step_aside() -> Iterator[None]:
        with db.gate.background():
            starts.append(time.monotonic())
            yield

    purger = threading.Thread(
        target=lambda: purge(
            db.engine,
            db.sessions,
            tz=ZoneInfo("UTC"),
            now=NOW,
            sent_retention=timedelta(days=14),
            batch_rows=100,
            pause=0.0,
            step_aside=step_aside,
        )
    )
    purger.start()
    time.sleep(0.3)
    assert starts == []  # the patient's transaction is open: the purge has not begun
    release.set()
    writer.join(5)
    purger.join(30)
    assert not purger.is_alive()
    assert len(starts) >= 6  # 3 erase + 3 delete batches, their empty ends, vacuum steps
    assert starts[0] - ended[0] >= 0.045  # began after the gate's quiet time
    with db.read_session() as session:
        counts = outbox.scan_counts(session=session)
    assert counts == {"pending": 0, "in_flight": 0, "sent": 0, "failed": 0}
    db.close()


def test_a_patient_arriving_during_a_batch_waits_on_the_gate_and_goes_when_it_ends(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "kiosk.sqlite3")
    db.gate = WriterGate(quiet_seconds=0.0, max_wait_seconds=30.0)
    in_batch, end_batch = threading.Event(), threading.Event()
    order: list[str] = []

    def batch() -> None:
        raw = db.engine.raw_connection()
        sqlite = raw.driver_connection
        assert sqlite is not None
        previous = sqlite.isolation_level
        sqlite.isolation_level = None  # BEGIN and COMMIT are ours, as in kiosk.purge
        try:
            with db.gate.background():
                sqlite.execute("BEGIN IMMEDIATE")
                sqlite.execute("INSERT INTO kiosk_state (key, value) VALUES ('purge', 'x')")
                in_batch.set()  # the batch holds SQLite's write lock now
                end_batch.wait(10)
                sqlite.execute("COMMIT")
                order.append("batch committed")
        finally:
            sqlite.isolation_level = previous
            raw.close()

    def patient() -> None:
        with db.write() as session:
            order.append("patient began")
            session.execute(text("INSERT INTO kiosk_state (key, value) VALUES ('p', 'y')"))
        order.append("patient committed")

    purger = threading.Thread(target=batch)
    purger.start()
    assert in_batch.wait(10)
    writer = threading.Thread(target=patient)
    writer.start()
    # The patient is held at the gate, not inside a transaction polling SQLite's lock.
    assert _returns(lambda: _until(lambda: db.gate.held_off == 1))
    assert order == []
    end_batch.set()
    purger.join(10)
    writer.join(10)
    assert order == ["batch committed", "patient began", "patient committed"]
    assert db.gate.held_off == 0
    db.close()


def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        time.sleep(0.01)


def test_a_writer_that_never_pauses_delays_the_purge_only_up_to_the_bound() -> None:
    gate = WriterGate(quiet_seconds=0.05, max_wait_seconds=0.3)
    stop = threading.Event()
    writing = threading.Event()

    def busy() -> None:
        # One write that never ends: a loop of short writes leaves gaps, and on a loaded
        # machine a gap can outlast quiet_seconds, which rightly opens the gate early.
        with gate.foreground():
            writing.set()
            stop.wait()

    writer = threading.Thread(target=busy)
    writer.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        assert _returns(gate.wait_quiet), "the gate waited for a writer that never ends"
        waited = time.monotonic() - started
        assert not stop.is_set() and writer.is_alive()  # opened with the write still open
    finally:
        stop.set()
        writer.join(5)
    assert waited >= 0.3  # but not before the bound


def test_the_gate_opens_at_once_when_nobody_writes() -> None:
    # Were it to wait for quiet at all, it would wait an hour.
    gate = WriterGate(quiet_seconds=3600, max_wait_seconds=3600)
    assert _returns(gate.wait_quiet)


def _returns(call: Callable[[], None], within: float = 10.0) -> bool:
    """Run `call` in a thread; whether it returned (a generous bound, not a timing target)."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(within)
    return not thread.is_alive()
