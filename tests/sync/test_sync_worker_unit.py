"""The worker's own guarantees, against a real loopback socket: the shutdown bound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from sync import outbox
from sync.outbox import OutboxBase, OutboxRecord, OutboxStatus
from sync.protocol import RecordKind
from sync.retry import RetryPolicy
from sync.worker import Credentials, SyncHooks, SyncWorker, WorkerSettings


class StallingServer:
    """A TCP server on loopback that accepts requests and never answers them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = threading.Event()
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.recv(65536)
            self.requests.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def stalling() -> Iterator[StallingServer]:
    server = StallingServer()
    yield server
    server.close()


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'kiosk.db'}")
    OutboxBase.metadata.create_all(engine)
    return sessionmaker(engine)


def _rating() -> dict[str, Any]:
    return {
        "face": 4,
        "rated_at": "2026-11-28T09:00:00+00:00",
        "follow_up_token": "A" * 24,
        "language": "en",
    }


def _worker(
    factory: sessionmaker[Session], url: str | None, idle: threading.Event | None = None
) -> SyncWorker:
    def on_status(changes: dict[str, Any]) -> None:
        if idle is not None and changes.get("online", False) is None:
            idle.set()  # the unpaired worker finished a cycle and goes to sleep

    hooks = SyncHooks(
        credentials=lambda: Credentials(url, "t" * 32) if url else None,
        on_pull=lambda pull, etag: None,
        on_status=on_status,
    )
    settings = WorkerSettings(
        app_version="test",
        timeout=(1.0, 30.0),  # the read timeout is far beyond the shutdown bound
        policy=RetryPolicy(base_seconds=0.05, cap_seconds=0.2),
        pull_interval=3600,
        heartbeat_interval=3600,
    )
    return SyncWorker(factory, hooks, settings)


def test_stop_abandons_a_stalled_request_within_bound(
    factory: sessionmaker[Session], stalling: StallingServer
) -> None:
    with factory.begin() as session:
        for _ in range(3):
            outbox.enqueue(RecordKind.RATING, _rating(), session=session)
    worker = _worker(factory, f"http://127.0.0.1:{stalling.port}")
    worker.start()
    assert stalling.requests.wait(10), "worker never reached the server"
    started = time.monotonic()
    finished = worker.stop(timeout=2.0)
    elapsed = time.monotonic() - started
    assert not finished  # the request was still waiting for an answer
    assert elapsed < 20  # gave up at its bound, not after the 30 s read timeout
    # Nothing was lost: the rows are still in the outbox and go back to pending on restart.
    with factory() as session:
        statuses = set(session.scalars(select(OutboxRecord.status)))
    assert OutboxStatus.SENT not in statuses
    with factory.begin() as session:
        assert (
            outbox.reset_in_flight(session=session)
            + outbox.counts(session=session)[OutboxStatus.PENDING]
            == 3
        )


def test_idle_worker_stops_promptly(factory: sessionmaker[Session]) -> None:
    idle = threading.Event()
    worker = _worker(factory, None, idle)  # not paired: nothing to do but wait
    worker.start()
    assert idle.wait(10)
    # Its next cycle is an hour away (pull and heartbeat intervals): stopping within the
    # bound shows the stop wakes the sleeping worker rather than waiting for that cycle.
    assert worker.stop(timeout=10.0)
    assert not worker.is_alive


def test_start_resets_rows_left_in_flight(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        outbox.enqueue(RecordKind.RATING, _rating(), session=session)
        session.flush()
        outbox.claim_due_batch(session=session, limit=10)
    worker = _worker(factory, None)
    worker.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with factory() as session:
            if outbox.counts(session=session)[OutboxStatus.PENDING] == 1:
                break
        time.sleep(0.05)
    assert worker.stop()
    with factory() as session:
        assert outbox.counts(session=session)[OutboxStatus.PENDING] == 1
