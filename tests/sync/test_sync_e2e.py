"""Kiosk services + sync worker against the real clinic server process on loopback."""

from __future__ import annotations

import logging
import string
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_WORKER, open_kiosk, pair_kiosk, wait_for
from serverproc import ServerProcess
from sqlalchemy import select, update

from kiosk import syncing
from kiosk.state import StateKey, get_state
from sync import outbox
from sync.outbox import OutboxRecord, OutboxStatus
from sync.worker import WorkerSettings


def letters(i: int, width: int = 4) -> str:
    """Spell a number in letters (names must be letters): 0 -> 'aaaa'."""
    out = ""
    for _ in range(width):
        i, rem = divmod(i, 26)
        out = string.ascii_lowercase[rem] + out
    return out


def synthetic_name(i: int) -> tuple[str, str]:
    tag = letters(i)
    return f"Zorblina{tag}", f"Quaxtermont{tag}"


def submit_mixed(kiosk: Any, count: int, offset: int = 0) -> list[str]:
    """Save `count` walk-ins and questions through the real services; return their ids."""
    ids = []
    for i in range(offset, offset + count):
        first, last = synthetic_name(i)
        if i % 2:
            receipt = kiosk.register_walk_in(
                first,
                last,
                date(1940, 1, 1) + timedelta(days=i % 20000),
                f"Vexilloid {letters(i)}",
                "+1 555 0100",
                "en",
            )
            ids.append(receipt.check_in_id)
        else:
            ids.append(kiosk.ask_question(f"Where is parking {letters(i)}?", "en").question_id)
    return ids


@pytest.fixture
def kiosk(tmp_path: Path, server: ServerProcess):  # type: ignore[no-untyped-def]
    k = open_kiosk(tmp_path / "kiosk", server_url=server.url)
    pair_kiosk(k, server.url, server.pairing_code())
    yield k
    syncing.stop_sync(k)
    k.close()


def start(kiosk: Any, **overrides: Any) -> Any:
    return syncing.start_sync(
        kiosk, settings=syncing.worker_settings(kiosk, **{**FAST_WORKER, **overrides})
    )


def drained(kiosk: Any) -> bool:
    return kiosk.sync_status().pending == 0


def test_saved_records_reach_the_server_exactly_once(kiosk: Any, server: ServerProcess) -> None:
    before = set(server.received_ids())
    ids = submit_mixed(kiosk, 300)
    assert kiosk.sync_status().pending == 300
    start(kiosk)
    wait_for(lambda: drained(kiosk), 60, "outbox drained")
    stored = Counter(i for i in server.received_ids() if i not in before)
    assert set(stored) == {uuid.UUID(i).hex for i in ids}
    assert max(stored.values()) == 1
    status = kiosk.sync_status()
    assert status.failed == 0 and status.online is True and status.last_success_at
    # The pull landed too: today's match-key salt and the ETag stored for the next start.
    with kiosk.db.read_session() as session:
        assert get_state(StateKey.MATCH_KDF, session=session)
        assert get_state(StateKey.PULL_ETAG, session=session)


def test_heartbeat_reports_version_and_backlog_and_pull_is_cached(
    kiosk: Any, server: ServerProcess
) -> None:
    from sync.client import KioskClient

    submit_mixed(kiosk, 3, offset=4000)
    start(kiosk)
    wait_for(lambda: drained(kiosk), 30, "outbox drained")
    with kiosk.db.read_session() as session:
        kiosk_id = get_state(StateKey.KIOSK_ID, session=session)
        token = get_state(StateKey.KIOSK_TOKEN, session=session)
        etag = get_state(StateKey.PULL_ETAG, session=session)

    def reported() -> bool:
        line = next(ln for ln in server.cli("list-kiosks").splitlines() if kiosk_id in ln)
        return f"v{syncing.app_version()}" in line and "backlog 0" in line

    wait_for(reported, 20, "heartbeat on the server")
    # An unchanged pull costs a 304 with no body; a changed one comes back whole.
    assert etag
    client = KioskClient(server.url, token)
    fresh = client.pull('"stale"')
    assert fresh is not None and fresh.etag
    assert client.pull(fresh.etag) is None
    client.close()


def test_new_record_is_sent_promptly_while_running(kiosk: Any, server: ServerProcess) -> None:
    start(kiosk, poll_interval=5.0)  # only the commit nudge can make this fast
    wait_for(lambda: kiosk.sync_status().online is True, 20, "worker online")
    [record_id] = submit_mixed(kiosk, 1, offset=5000)
    wait_for(lambda: uuid.UUID(record_id).hex in set(server.received_ids()), 3, "record sent")


def test_conflict_and_invalid_are_parked_with_reason(
    kiosk: Any, server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    [conflicting, good] = submit_mixed(kiosk, 2, offset=6000)
    worker = start(kiosk)
    wait_for(lambda: drained(kiosk), 30, "first delivery")
    worker.stop()
    with kiosk.db.write() as session:
        # Same id, different body: what a kiosk bug or a tampered file would send.
        row = session.get(OutboxRecord, conflicting)
        changed = {**row.payload, "text": row.payload["text"] + " (edited)"}
        session.execute(
            update(OutboxRecord)
            .where(OutboxRecord.id == conflicting)
            .values(payload=changed, status=OutboxStatus.PENDING)
        )
        # A body that passes no server check (face 9), slipped past the kiosk's validation.
        bad = OutboxRecord(
            id=str(uuid.uuid4()),
            kind="rating",
            payload={
                "face": 9,
                "rated_at": "2026-11-28T09:00:00+00:00",
                "follow_up_token": "B" * 24,
                "language": "en",
            },
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=outbox.utcnow(),
            next_attempt_at=outbox.utcnow(),
        )
        session.add(bad)
        bad_id = bad.id
    syncing.stop_sync(kiosk)
    start(kiosk)
    wait_for(lambda: kiosk.sync_status().failed == 2, 30, "two rows parked")
    # That parked rows are never tried again is test_sync_worker_logic's (no waiting here).
    with kiosk.db.read_session() as session:
        rows = {
            r.id: r
            for r in session.scalars(
                select(OutboxRecord).where(OutboxRecord.id.in_([conflicting, bad_id]))
            )
        }
        assert rows[conflicting].status == OutboxStatus.FAILED
        assert "conflict" in (rows[conflicting].last_error or "")
        assert "409" in (rows[conflicting].last_error or "")
        assert rows[bad_id].status == OutboxStatus.FAILED
        assert "invalid" in (rows[bad_id].last_error or "")
        assert rows[conflicting].attempts == 2 and rows[bad_id].attempts == 1
    status = kiosk.sync_status()
    assert status.pending == 0 and status.failed == 2 and status.last_error
    # What the staff corner shows: the newest refusal, with its kind and the server's reason.
    shown = status.last_failure or ""
    assert "conflict (HTTP 409)" in shown or "invalid" in shown
    # The server kept the first version and never stored the invalid one.
    assert uuid.UUID(bad_id).hex not in set(server.received_ids())
    assert uuid.UUID(good).hex in set(server.received_ids())
    # Every give-up is logged with its reason, and no patient data is.
    give_ups = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
    assert any(conflicting in m and "conflict" in m for m in give_ups)
    assert any(bad_id in m and "invalid" in m for m in give_ups)
    assert "parking" not in caplog.text and "Zorblina" not in caplog.text


def test_whole_batch_refused_is_narrowed_to_the_bad_record(
    kiosk: Any, server: ServerProcess
) -> None:
    ids = submit_mixed(kiosk, 7, offset=6500)
    with kiosk.db.write() as session:
        # An id that is not a UUID: the one flaw that refuses the whole request (422), since
        # the server cannot answer for that record alone. Anything else is a per-record 422.
        bad = OutboxRecord(
            id="not-a-uuid-" + uuid.uuid4().hex[:20],
            kind="question",
            payload={"text": "?"},
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=outbox.utcnow(),
            next_attempt_at=outbox.utcnow(),
        )
        session.add(bad)
        bad_id = bad.id
    start(kiosk)
    wait_for(lambda: drained(kiosk), 30, "good records delivered")
    with kiosk.db.read_session() as session:
        row = session.get(OutboxRecord, bad_id)
        assert row is not None and row.status == OutboxStatus.FAILED
        assert "refused: HTTP 422" in (row.last_error or "")
    assert {uuid.UUID(i).hex for i in ids} <= set(server.received_ids())
    assert kiosk.sync_status().failed == 1


def test_revoked_kiosk_says_so_and_keeps_its_records(kiosk: Any, server: ServerProcess) -> None:
    start(kiosk)
    wait_for(lambda: kiosk.sync_status().online is True, 20, "worker online")
    with kiosk.db.read_session() as session:
        kiosk_id = get_state(StateKey.KIOSK_ID, session=session)
    assert kiosk_id
    server.revoke(kiosk_id)
    ids = submit_mixed(kiosk, 5, offset=7000)
    wait_for(lambda: kiosk.sync_status().revoked, 20, "kiosk shows revoked")
    wait_for(lambda: kiosk.sync_status().pending == 5, 20, "records kept on the kiosk")
    status = kiosk.sync_status()
    assert status.revoked and status.pending == 5 and status.failed == 0
    assert not {uuid.UUID(i).hex for i in ids} & set(server.received_ids())
    # Pairing again (a new code) resumes delivery of the kept records.
    pair_kiosk(kiosk, server.url, server.pairing_code())
    wait_for(lambda: drained(kiosk), 30, "kept records delivered after re-pairing")
    assert not kiosk.sync_status().revoked
    assert {uuid.UUID(i).hex for i in ids} <= set(server.received_ids())


def test_purge_after_sync_leaves_no_names_in_the_file(kiosk: Any, server: ServerProcess) -> None:
    submit_mixed(kiosk, 40, offset=8000)
    start(kiosk)
    wait_for(lambda: drained(kiosk), 30, "outbox drained")
    syncing.stop_sync(kiosk)
    path = kiosk.db.path
    wal = path.with_name(path.name + "-wal")

    def file_bytes() -> bytes:
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    names = [n for i in range(8001, 8040, 2) for n in synthetic_name(i)]
    assert any(n.encode() in file_bytes() for n in names)  # the check can fail
    # Past the retention window (the end of the clinic day).
    erased = syncing.purge_now(kiosk, now=outbox.utcnow() + timedelta(days=1))
    assert erased == 40
    data = file_bytes()
    found = [n for n in names if n.encode() in data]
    assert not found, f"names still in the database bytes: {found[:3]}"
    assert b"Vexilloid" not in data and b"Where is parking" not in data
    assert kiosk.db.pragma("integrity_check") == "ok"


def test_worker_settings_are_the_worker_defaults_without_overrides(kiosk: Any) -> None:
    settings = syncing.worker_settings(kiosk)
    assert isinstance(settings, WorkerSettings) and settings.batch_size == 100
