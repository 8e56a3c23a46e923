"""The sync worker's decisions, one cycle at a time: an injected clock and HTTP client.

No server and no thread (except for shutdown): each test drives `SyncWorker._cycle()` the
way the worker's loop does, with a clock that only moves when the test moves it, and a
client that answers from the test's script. The outbox is a real SQLite file. The same paths
against a real server are in test_sync_e2e.py and test_sync_faults.py.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from sync import outbox
from sync.client import PullResult, Refused, Retryable, Revoked
from sync.outbox import OutboxBase, OutboxRecord, OutboxStatus
from sync.protocol import Heartbeat, RecordKind, RecordOutcome, RecordResult
from sync.retry import RetryPolicy
from sync.worker import Credentials, SyncHooks, SyncWorker, WorkerSettings

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Clock:
    """The worker's wall clock: moves only when the test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


#: What the scripted server does with one batch: return per-record results or raise.
BatchHandler = Callable[[list[dict[str, Any]]], list[RecordResult]]


def store_all(records: list[dict[str, Any]]) -> list[RecordResult]:
    return [RecordResult(id=r["id"], outcome=RecordOutcome.STORED, status=201) for r in records]


class ScriptedServer:
    """Every request the worker's client makes, and the answers the test scripted."""

    def __init__(self) -> None:
        self.on_batch: BatchHandler = store_all
        self.on_heartbeat: Callable[[Heartbeat], None] = lambda _beat: None
        self.batches: list[list[str]] = []  # record ids per request, in order
        self.stored: list[str] = []
        self.heartbeats = 0
        self.pulls = 0

    def client(self, server_url: str, token: str, *, timeout: Any) -> ScriptedClient:
        return ScriptedClient(self)


class ScriptedClient:
    """Stands in for sync.client.KioskClient (same methods, same exceptions)."""

    last_server_date: datetime | None = None

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server

    def send_batch(self, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        batch = list(records)
        self.server.batches.append([r["id"] for r in batch])
        results = self.server.on_batch(batch)
        self.server.stored += [str(r.id) for r in results if r.outcome == RecordOutcome.STORED]
        return results

    def pull(self, etag: str | None = None) -> PullResult | None:
        self.server.pulls += 1
        return None  # 304: nothing new

    def heartbeat(self, beat: Heartbeat) -> None:
        self.server.heartbeats += 1
        self.server.on_heartbeat(beat)

    def close(self) -> None:
        pass


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'kiosk.db'}")
    OutboxBase.metadata.create_all(engine)
    return sessionmaker(engine)


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def statuses() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def make_worker(
    factory: sessionmaker[Session],
    server: ScriptedServer,
    clock: Clock,
    statuses: list[dict[str, Any]],
) -> Iterator[Callable[..., SyncWorker]]:
    made: list[SyncWorker] = []

    def make(**overrides: Any) -> SyncWorker:
        settings = WorkerSettings(
            app_version="test",
            pull_interval=3600,
            heartbeat_interval=3600,
            auth_recheck_interval=60,
            status_min_interval=0,
            policy=RetryPolicy(base_seconds=1, cap_seconds=2, retry_after_cap_seconds=600),
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        hooks = SyncHooks(
            credentials=lambda: Credentials("http://clinic.invalid", "t" * 32),
            on_pull=lambda _pull, _etag: None,
            on_status=statuses.append,
        )
        worker = SyncWorker(
            factory,
            hooks,
            settings,
            client_factory=server.client,
            clock=clock,
            rng=random.Random(7),
        )
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop()


def enqueue(factory: sessionmaker[Session], clock: Clock, count: int) -> list[str]:
    ids = []
    with factory.begin() as session:
        for i in range(count):
            body = {
                "face": 4,
                "rated_at": "2026-11-28T08:00:00+00:00",
                "follow_up_token": f"{i:024d}",
                "language": "en",
            }
            # One second apart, so the outbox hands them out in this order.
            moment = clock() - timedelta(seconds=count - i)
            row = outbox.enqueue(RecordKind.RATING, body, session=session, now=moment)
            ids.append(row.id)
    return ids


def rows(factory: sessionmaker[Session]) -> dict[str, OutboxRecord]:
    with factory() as session:
        return {row.id: row for row in session.scalars(select(OutboxRecord))}


def drain(worker: SyncWorker, factory: sessionmaker[Session], cycles: int = 50) -> None:
    """Run cycles until no record waits to be sent (the clock does not move)."""
    for _ in range(cycles):
        worker._cycle()
        with factory() as session:
            counts = outbox.counts(session=session)
        if counts[OutboxStatus.PENDING] + counts[OutboxStatus.IN_FLIGHT] == 0:
            return
    raise AssertionError(f"records still waiting after {cycles} cycles")


# --- batch halving ------------------------------------------------------------------------
def test_a_refused_batch_is_halved_down_to_the_bad_record(
    factory: sessionmaker[Session], server: ScriptedServer, make_worker: Any
) -> None:
    ids = enqueue(factory, Clock(), 8)
    bad = ids[5]

    def refuse_the_bad_one(records: list[dict[str, Any]]) -> list[RecordResult]:
        if any(r["id"] == bad for r in records):
            raise Refused(422, "unreadable request")
        return store_all(records)

    server.on_batch = refuse_the_bad_one
    worker = make_worker(batch_size=8)
    for _ in range(10):
        worker._cycle()

    sizes = [len(b) for b in server.batches]
    assert sizes[:2] == [8, 4]
    # Every refused batch (one holding the bad record) is followed by one half its size,
    # down to the bad record alone.
    for i, batch in enumerate(server.batches):
        if bad in batch and len(batch) > 1:
            assert sizes[i + 1] == len(batch) // 2, sizes
    assert [bad] in server.batches
    # A success doubles the limit again, so the bad record can be met twice per size:
    # still O(log n) refused requests, never one per record.
    refused = [len(b) for b in server.batches if bad in b]
    assert len(refused) <= 2 * 3, sizes
    assert refused[-1] == 1
    state = rows(factory)
    assert state[bad].status == OutboxStatus.FAILED
    assert "refused: HTTP 422" in (state[bad].last_error or "")
    good = [i for i in ids if i != bad]
    assert all(state[i].status == OutboxStatus.SENT for i in good)
    assert sorted(server.stored) == sorted(good)  # each good record sent and stored once


def test_the_batch_grows_back_after_the_bad_record_is_parked(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    first = enqueue(factory, clock, 2)

    def refuse_first(records: list[dict[str, Any]]) -> list[RecordResult]:
        if any(r["id"] == first[0] for r in records):
            raise Refused(413, "too large")
        return store_all(records)

    server.on_batch = refuse_first
    worker = make_worker(batch_size=8)
    drain(worker, factory)
    assert [len(b) for b in server.batches] == [2, 1, 1]
    server.batches.clear()
    enqueue(factory, clock, 20)
    drain(worker, factory)
    # After a success the limit doubles: 1 -> 2 -> 4 -> 8, capped at batch_size.
    assert [len(b) for b in server.batches] == [2, 4, 8, 6]


def test_a_single_refused_record_is_parked_not_retried(
    factory: sessionmaker[Session], server: ScriptedServer, make_worker: Any
) -> None:
    (only,) = enqueue(factory, Clock(), 1)

    def refuse(_records: list[dict[str, Any]]) -> list[RecordResult]:
        raise Refused(422, "bad")

    server.on_batch = refuse
    worker = make_worker()
    for _ in range(5):
        worker._cycle()
    assert server.batches == [[only]]
    assert rows(factory)[only].status == OutboxStatus.FAILED


def test_records_the_server_refuses_one_by_one_are_parked_and_never_resent(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    ids = enqueue(factory, clock, 3)
    verdicts = {
        ids[0]: (RecordOutcome.CONFLICT, 409),
        ids[1]: (RecordOutcome.INVALID, 422),
        ids[2]: (RecordOutcome.STORED, 201),
    }

    def judge(records: list[dict[str, Any]]) -> list[RecordResult]:
        return [
            RecordResult(id=r["id"], outcome=verdicts[r["id"]][0], status=verdicts[r["id"]][1])
            for r in records
        ]

    server.on_batch = judge
    worker = make_worker()
    for _ in range(5):
        worker._cycle()
        clock.advance(3600)  # long past any backoff
    assert server.batches == [ids]
    state = rows(factory)
    assert state[ids[0]].status == OutboxStatus.FAILED
    assert "conflict (HTTP 409)" in (state[ids[0]].last_error or "")
    assert state[ids[1]].status == OutboxStatus.FAILED
    assert state[ids[2]].status == OutboxStatus.SENT


# --- Retry-After --------------------------------------------------------------------------
def test_no_request_of_any_kind_before_retry_after(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    ids = enqueue(factory, clock, 3)
    answers: list[BatchHandler] = []

    def busy_then_ok(records: list[dict[str, Any]]) -> list[RecordResult]:
        if not answers:
            answers.append(store_all)
            raise Retryable("HTTP 429", retry_after=30)
        return store_all(records)

    server.on_batch = busy_then_ok
    worker = make_worker(pull_interval=1, heartbeat_interval=1)
    worker._cycle()
    assert len(server.batches) == 1
    requests = (server.pulls, server.heartbeats, len(server.batches))

    for step in (0, 10, 19.9):  # 29.9 s after the refusal
        clock.advance(step)
        worker._cycle()
        # Not a batch, a pull or a heartbeat, though pull and heartbeat are long due.
        assert (server.pulls, server.heartbeats, len(server.batches)) == requests
    # The idle wait ends at the deadline, not a whole poll interval later.
    assert worker._idle_wait() == pytest.approx(0.1)

    clock.advance(0.1)  # 30 s: the deadline
    drain(worker, factory)
    assert len(server.batches) == 2 and server.pulls > requests[0]
    assert all(row.status == OutboxStatus.SENT for row in rows(factory).values())
    assert sorted(server.stored) == sorted(ids)


def test_a_huge_retry_after_is_capped(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    enqueue(factory, clock, 1)
    calls: list[int] = []

    def busy_for_a_week(records: list[dict[str, Any]]) -> list[RecordResult]:
        calls.append(1)
        if len(calls) == 1:
            raise Retryable("HTTP 503", retry_after=7 * 24 * 3600)
        return store_all(records)

    server.on_batch = busy_for_a_week
    worker = make_worker()
    worker._cycle()
    clock.advance(599)
    worker._cycle()
    assert len(calls) == 1
    clock.advance(1)  # retry_after_cap_seconds = 600
    worker._cycle()
    assert len(calls) == 2


def test_a_per_record_retry_waits_for_that_record_only(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    ids = enqueue(factory, clock, 2)

    def second_retries(records: list[dict[str, Any]]) -> list[RecordResult]:
        return [
            RecordResult(
                id=r["id"],
                outcome=RecordOutcome.RETRY if r["id"] == ids[1] else RecordOutcome.STORED,
                status=503 if r["id"] == ids[1] else 201,
            )
            for r in records
        ]

    server.on_batch = second_retries
    worker = make_worker()
    worker._cycle()
    state = rows(factory)
    assert state[ids[0]].status == OutboxStatus.SENT
    assert state[ids[1]].status == OutboxStatus.PENDING
    assert state[ids[1]].next_attempt_at.replace(tzinfo=UTC) > clock()
    worker._cycle()  # not due yet: nothing sent
    assert len(server.batches) == 1
    clock.advance(2)  # the policy's cap
    server.on_batch = store_all
    worker._cycle()
    assert server.batches[-1] == [ids[1]]


# --- revocation ---------------------------------------------------------------------------
def test_revoked_kiosk_keeps_its_records_and_asks_again_now_and_then(
    factory: sessionmaker[Session],
    server: ScriptedServer,
    clock: Clock,
    statuses: list[dict[str, Any]],
    make_worker: Any,
) -> None:
    ids = enqueue(factory, clock, 4)
    revoked = True

    def maybe_revoked(records: list[dict[str, Any]]) -> list[RecordResult]:
        if revoked:
            raise Revoked("403")
        return store_all(records)

    def heartbeat(_beat: Heartbeat) -> None:
        if revoked:
            raise Revoked("403")

    server.on_batch = maybe_revoked
    server.on_heartbeat = heartbeat
    worker = make_worker(auth_recheck_interval=60)
    worker._cycle()  # the heartbeat is refused first; no batch is sent after that
    assert server.heartbeats == 1 and server.batches == []
    assert any(s.get("revoked") is True for s in statuses)
    # The records stay on the kiosk, pending, not parked as failed.
    assert {row.status for row in rows(factory).values()} == {OutboxStatus.PENDING}

    beats = server.heartbeats
    clock.advance(59)
    worker._cycle()
    assert server.heartbeats == beats and server.batches == []  # quiet until the recheck
    clock.advance(1)
    worker._cycle()
    assert server.heartbeats == beats + 1 and server.batches == []  # still revoked

    revoked = False  # the clinic re-admits the kiosk
    clock.advance(60)
    drain(worker, factory)
    assert [s["revoked"] for s in statuses if "revoked" in s][-1] is False
    assert sorted(server.stored) == sorted(ids)


def test_revocation_during_a_batch_puts_the_batch_back(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    ids = enqueue(factory, clock, 3)

    def revoke(_records: list[dict[str, Any]]) -> list[RecordResult]:
        raise Revoked("403")

    server.on_batch = revoke
    worker = make_worker()
    worker._cycle()
    assert server.batches == [ids]
    state = rows(factory)
    assert {state[i].status for i in ids} == {OutboxStatus.PENDING}
    worker._cycle()
    assert len(server.batches) == 1  # no resend while the token is refused


# --- shutdown -----------------------------------------------------------------------------
def test_stop_during_a_request_lets_it_finish_and_claims_nothing_more(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    ids = enqueue(factory, clock, 6)
    in_request = threading.Event()
    release = threading.Event()

    def slow(records: list[dict[str, Any]]) -> list[RecordResult]:
        in_request.set()
        assert release.wait(10)
        return store_all(records)

    server.on_batch = slow
    worker = make_worker(batch_size=2)
    worker.start()
    assert in_request.wait(10)
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(worker.stop(timeout=10)))
    stopper.start()
    assert worker._stop.wait(10)  # stop() has asked; the request is still out
    release.set()
    stopper.join(10)
    assert stopped == [True]
    state = rows(factory)
    assert [state[i].status for i in ids[:2]] == [OutboxStatus.SENT] * 2
    # The next batch was not claimed (or was given back): nothing is left in flight.
    assert {state[i].status for i in ids[2:]} == {OutboxStatus.PENDING}
    assert len(server.batches) == 1


def test_stop_gives_back_a_batch_claimed_ahead(
    factory: sessionmaker[Session], server: ScriptedServer, clock: Clock, make_worker: Any
) -> None:
    ids = enqueue(factory, clock, 6)
    worker = make_worker(batch_size=2)
    # Right after the first batch's results (and the next batch's claim) are committed.
    worker._hooks.on_outbox_change = worker._stop.set
    worker.start()
    assert worker._stop.wait(10)
    assert worker.stop(timeout=10)
    state = rows(factory)
    assert [state[i].status for i in ids[:2]] == [OutboxStatus.SENT] * 2
    assert {state[i].status for i in ids[2:]} == {OutboxStatus.PENDING}
    assert "worker stopped" in (state[ids[2]].last_error or "")
    assert len(server.batches) == 1


def test_each_record_goes_out_under_its_outbox_id(
    factory: sessionmaker[Session], server: ScriptedServer, make_worker: Any
) -> None:
    # The server de-duplicates on this id: a resend after a lost answer is harmless.
    ids = enqueue(factory, Clock(), 2)
    worker = make_worker()
    drain(worker, factory)
    assert server.batches == [ids]
