"""One record delivered 10 times at once over HTTP to a real uvicorn server: one row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
from fastapi import FastAPI
from server_helpers import LiveServer, bearer, free_port, new_kiosk, rating_record, record
from sqlalchemy import func, select, text

from clinic import ingest
from clinic.ingest import ingest_batch
from clinic.models import Appointment, Arrival, FollowUpToken, Kiosk, Rating, ReceivedRecord
from sync.protocol import INGEST_PATH, WireRecord, new_follow_up_token

SENDERS = 10


def _deliver_concurrently(url: str, token: str, rec: dict) -> list[str]:
    """POST one record from SENDERS threads released together; return the outcomes."""
    barrier = threading.Barrier(SENDERS)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                barrier.wait()
                response = http.post(INGEST_PATH, json={"records": [rec]}, headers=bearer(token))
                response.raise_for_status()
                with lock:
                    outcomes.append(response.json()["results"][0]["outcome"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return outcomes


def test_same_record_sent_concurrently_is_stored_once(live_server: LiveServer) -> None:
    _, token = new_kiosk(live_server.app)
    for _round in range(3):  # several rounds: races are probabilistic
        rec = rating_record(face=3)
        outcomes = _deliver_concurrently(live_server.url, token, rec)
        assert sorted(outcomes) == ["duplicate"] * (SENDERS - 1) + ["stored"]
        with live_server.app.state.db.reader() as session:
            rid = uuid.UUID(rec["id"])
            stored = session.scalar(
                select(func.count()).select_from(ReceivedRecord).where(ReceivedRecord.id == rid)
            )
            ratings = session.scalar(
                select(func.count()).select_from(Rating).where(Rating.id == rid)
            )
        assert (stored, ratings) == (1, 1)


def test_different_records_from_many_kiosks_at_once_are_all_stored(
    live_server: LiveServer,
) -> None:
    tokens = [new_kiosk(live_server.app, f"k{i}")[1] for i in range(4)]
    batches = [[rating_record() for _ in range(25)] for _ in tokens]
    errors: list[BaseException] = []

    def send(token: str, batch: list[dict]) -> None:
        try:
            with httpx.Client(base_url=live_server.url, timeout=30) as http:
                results = http.post(
                    INGEST_PATH, json={"records": batch}, headers=bearer(token)
                ).json()["results"]
                assert {r["outcome"] for r in results} == {"stored"}
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=send, args=pair) for pair in zip(tokens, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with live_server.app.state.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 100


def _start_server(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CLINIC_DATABASE_URL": database_url, "CLINIC_ENVIRONMENT": "test"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clinic.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server at {url} did not start")


def test_two_server_processes_on_one_database_store_a_record_once(
    app: FastAPI, database_url: str
) -> None:
    """Several server processes behind a load balancer share one database."""
    _, token = new_kiosk(app)
    servers = [_start_server(database_url) for _ in range(2)]
    try:
        for process, url in servers:
            _wait_healthy(url, process)
        rec = rating_record(face=2)
        barrier = threading.Barrier(SENDERS)
        outcomes: list[str] = []

        def send(url: str) -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                barrier.wait()
                response = http.post(INGEST_PATH, json={"records": [rec]}, headers=bearer(token))
                outcomes.append(response.json()["results"][0]["outcome"])

        threads = [threading.Thread(target=send, args=(servers[i % 2][1],)) for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["duplicate"] * (SENDERS - 1) + ["stored"]
        with app.state.db.reader() as session:
            count = session.scalar(
                select(func.count())
                .select_from(ReceivedRecord)
                .where(ReceivedRecord.id == uuid.UUID(rec["id"]))
            )
        assert count == 1
    finally:
        for process, _url in servers:
            os.killpg(process.pid, signal.SIGTERM)
        for process, _url in servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_blocked(app: FastAPI, thread: threading.Thread) -> None:
    """Return once `thread`'s transaction is waiting for the open one's lock.

    PostgreSQL: an advisory lock not granted in this database (clinic.ingest._lock_targets).
    SQLite: the thread stands in the writers' queue (clinic.db's begin hook).
    """
    engine = app.state.db.engine
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert thread.is_alive(), "the second transaction did not wait for the first"
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                waiting = conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        " AND database = (SELECT oid FROM pg_database"
                        " WHERE datname = current_database())"
                    )
                )
            if waiting:
                return
        else:
            frame = sys._current_frames().get(thread.ident or 0)
            while frame is not None:
                if frame.f_code.co_name == "_sqlite_begin":
                    return
                frame = frame.f_back
        time.sleep(0.005)  # poll the condition, not a guess at how long the thread takes
    raise AssertionError("the second transaction never reached the lock")


def _while_open(app: FastAPI, held: dict, meanwhile: dict, kiosks: tuple[uuid.UUID, ...]) -> str:
    """Store `held` in a transaction kept open while `meanwhile` is ingested by another
    thread; commit `held` once the other is waiting for it; return `meanwhile`'s outcome."""
    settings = app.state.settings
    first = app.state.db.writer()
    rec = WireRecord.model_validate(held)
    body = ingest.parse_body(rec.kind, rec.body)
    item = ingest._Valid(0, rec, ingest.RecordKind(rec.kind), body, ingest.body_hash(rec.body))
    kiosk = first.get(Kiosk, kiosks[0])
    outcomes = ingest._store(
        session=first, settings=settings, kiosk=kiosk, items=[item], now=datetime.now(UTC)
    )
    assert outcomes[rec.id].outcome == "stored"
    results: list[str] = []

    def second() -> None:
        with app.state.db.writer() as session:
            other = session.get(Kiosk, kiosks[-1])
            records = [WireRecord.model_validate(meanwhile)]
            results.extend(
                r.outcome
                for r in ingest_batch(
                    session=session, settings=settings, kiosk=other, records=records
                )
            )

    thread = threading.Thread(target=second)
    thread.start()
    _wait_until_blocked(app, thread)  # the second transaction waits for the first: commit
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert len(results) == 1
    return results[0]


def test_contact_update_stored_while_its_check_in_is_being_stored_is_applied(
    app: FastAPI,
) -> None:
    """Neither transaction may miss the other: the update must not stay pending for ever."""
    kiosk_id, _ = new_kiosk(app)
    check_in_id = uuid.uuid4()
    walk_in = record(
        "walk_in",
        {
            "first_name": "Race",
            "last_name": "Condition",
            "date_of_birth": "1980-01-01",
            "reason": "Test",
            "arrived_at": datetime.now(UTC).isoformat(),
            "queue_number": "R01",
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
        check_in_id,
    )
    update = record("contact_update", {"check_in_id": str(check_in_id), "phone": "555 0123"})
    assert _while_open(app, walk_in, update, (kiosk_id,)) == "stored"
    with app.state.db.reader() as session:
        assert session.get(Arrival, check_in_id).phone == "555 0123"
        pending = session.scalar(
            select(func.count())
            .select_from(ReceivedRecord)
            .where(ReceivedRecord.applied_at.is_(None))
        )
    assert pending == 0


def test_two_kiosks_checking_one_appointment_in_at_once_make_one_arrival(app: FastAPI) -> None:
    """The second check-in, stored while the first is still open, joins the first arrival."""
    kiosk_a, _ = new_kiosk(app, "a")
    kiosk_b, _ = new_kiosk(app, "b")
    with app.state.db.writer.begin() as session:
        session.add(
            Appointment(
                ref="RACE-1",
                first_name="Race",
                last_name="Twice",
                date_of_birth=date(1970, 1, 1),
                starts_at=datetime.now(UTC) + timedelta(minutes=5),
                clinician="Dr. Test",
            )
        )

    def check_in(queue_number: str) -> dict:
        return record(
            "check_in",
            {
                "appointment_ref": "RACE-1",
                "checked_in_at": datetime.now(UTC).isoformat(),
                "queue_number": queue_number,
                "follow_up_token": new_follow_up_token(),
                "language": "en",
            },
        )

    first, second = check_in("A001"), check_in("B001")
    assert _while_open(app, first, second, (kiosk_a, kiosk_b)) == "stored"
    with app.state.db.reader() as session:
        arrivals = session.scalars(select(Arrival.id)).all()
        targets = session.scalars(select(FollowUpToken.target_id)).all()
    assert [str(a) for a in arrivals] == [first["id"]]
    assert [str(t) for t in targets] == [first["id"]] * 2
