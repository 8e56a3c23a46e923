"""The kiosk API's cheap paths: a cached pull that is never stale, heartbeats that skip writes.

A server process answers an unchanged pull from its last one (clinic.kiosks.PullCache) while
the `pull_version` counter (moved on by database triggers) reads the same; a change written
by anyone (another process, SQL by hand) shows in the next pull. A heartbeat that reports
nothing new within HEARTBEAT_WRITE_SECONDS is not written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, login, new_kiosk, new_user, record

from clinic.app import create_app
from clinic.kiosks import HEARTBEAT_WRITE_SECONDS, PullCache, revoke_kiosk
from clinic.models import Appointment, FaqEntryRow, Kiosk
from clinic.queue import Pace, estimate_minutes, estimate_steady_until
from sync.protocol import (
    HEARTBEAT_PATH,
    INGEST_PATH,
    PULL_PATH,
    PULL_WAIT_RANGES_PARAM,
    new_follow_up_token,
)

HEARTBEAT = {"app_version": "1.2.3", "backlog": 0, "failed": 0}


def test_an_unchanged_pull_is_answered_without_building_it_again(
    app: FastAPI, client: TestClient
) -> None:
    _, token = new_kiosk(app)
    cache: PullCache = app.state.pull_cache
    first = client.get(PULL_PATH, headers=bearer(token))
    assert first.status_code == 200
    built = cache.built
    for _ in range(3):
        again = client.get(
            PULL_PATH, headers={**bearer(token), "If-None-Match": first.headers["ETag"]}
        )
        assert again.status_code == 304
        assert again.headers["ETag"] == first.headers["ETag"]
    full = client.get(PULL_PATH, headers=bearer(token))
    assert full.json() | {"generated_at": None} == first.json() | {"generated_at": None}
    assert full.json()["generated_at"] >= first.json()["generated_at"]
    assert cache.built == built


@pytest.mark.parametrize("table", ["appointments", "faq_entries", "clinic_settings"])
def test_a_change_written_elsewhere_shows_in_the_next_pull(
    app: FastAPI, client: TestClient, settings: object, table: str
) -> None:
    _, token = new_kiosk(app)
    first = client.get(PULL_PATH, headers=bearer(token))
    assert first.status_code == 200
    # Written through another app (another server process) on the same database.
    other = create_app(settings)  # type: ignore[arg-type]
    try:
        with other.state.db.writer.begin() as session:
            if table == "appointments":
                session.add(
                    Appointment(
                        ref="APT-CACHE-1",
                        first_name="Cora",
                        last_name="Cache",
                        date_of_birth=date(1980, 1, 2),
                        starts_at=datetime.now(UTC) + timedelta(minutes=5),
                        clinician="Dr Who",
                    )
                )
            elif table == "faq_entries":
                session.add(FaqEntryRow(language="en", question="Parking?", answer="Level 2"))
            else:
                session.execute(sa.text("UPDATE clinic_settings SET name = 'Renamed clinic'"))
    finally:
        other.state.db.dispose()
    second = client.get(
        PULL_PATH, headers={**bearer(token), "If-None-Match": first.headers["ETag"]}
    )
    assert second.status_code == 200
    assert second.headers["ETag"] != first.headers["ETag"]
    body = second.json()
    if table == "appointments":
        assert [a["ref"] for a in body["appointments"]] == ["APT-CACHE-1"]
    elif table == "faq_entries":
        assert [f["question"] for f in body["faq"]] == ["Parking?"]
    else:
        assert body["clinic"]["name"] == "Renamed clinic"


def test_a_walk_in_sent_to_one_process_shows_in_the_next_pull_from_another(
    app: FastAPI, client: TestClient, settings: object
) -> None:
    _, token = new_kiosk(app)
    other = create_app(settings)  # type: ignore[arg-type]
    try:
        with TestClient(other) as second_process:
            before = second_process.get(PULL_PATH, headers=bearer(token))
            waiting = before.json()["queue"]["waiting"]
            walk_in = record(
                "walk_in",
                {
                    "first_name": "Wanda",
                    "last_name": "Walkin",
                    "date_of_birth": "1990-01-01",
                    "reason": "Cough",
                    "arrived_at": datetime.now(UTC).isoformat(),
                    "queue_number": "W001",
                    "follow_up_token": new_follow_up_token(),
                    "language": "en",
                },
            )
            sent = client.post(INGEST_PATH, json={"records": [walk_in]}, headers=bearer(token))
            assert sent.status_code == 200
            after = second_process.get(
                PULL_PATH, headers={**bearer(token), "If-None-Match": before.headers["ETag"]}
            )
            assert after.status_code == 200
            assert after.json()["queue"]["waiting"] == waiting + 1
    finally:
        other.state.db.dispose()


def test_the_cached_pull_with_wait_ranges_is_kept_apart(app: FastAPI, client: TestClient) -> None:
    _, token = new_kiosk(app)
    plain = client.get(PULL_PATH, headers=bearer(token))
    ranged = client.get(f"{PULL_PATH}?{PULL_WAIT_RANGES_PARAM}=true", headers=bearer(token))
    plain_again = client.get(PULL_PATH, headers=bearer(token))
    ranged_again = client.get(f"{PULL_PATH}?{PULL_WAIT_RANGES_PARAM}=true", headers=bearer(token))
    assert "walk_in_wait" not in plain_again.json()["queue"]
    assert "walk_in_wait" in ranged_again.json()["queue"]
    assert plain_again.headers["ETag"] == plain.headers["ETag"]
    assert ranged_again.headers["ETag"] == ranged.headers["ETag"] != plain.headers["ETag"]


@pytest.mark.parametrize("per_patient", [1.0, 7.5, 12.0, 33.3])
@pytest.mark.parametrize("waiting", [0, 1, 4])
def test_the_queue_estimate_holds_until_the_time_given(per_patient: float, waiting: int) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    due = start + timedelta(minutes=17.3)  # the last call-in plus the pace

    def estimate(at: datetime) -> int:
        # As clinic.queue.current_pace measures it at that time, with no call-in meanwhile.
        return estimate_minutes(Pace(per_patient, max(at, due)), waiting + 1, at)

    now = start
    changes = 0
    while now < start + timedelta(minutes=30):
        until = estimate_steady_until(Pace(per_patient, max(now, due)), waiting + 1, now)
        assert until >= now
        value = estimate(now)
        probe = now
        while probe < min(until, now + timedelta(minutes=20)):
            assert estimate(probe) == value
            probe += timedelta(seconds=1)
        if until < now + timedelta(minutes=20):
            changes += 1
            # While it counts down it changes about every minute, so it is asked again soon.
            assert until - now <= timedelta(minutes=1)
        now = max(until, now + timedelta(seconds=1))
    assert changes >= 10  # it counted down through the 17 minutes before the next call


def _kiosk_row(app: FastAPI, kiosk_id: object) -> Kiosk:
    with app.state.db.reader() as session:
        row = session.get(Kiosk, kiosk_id)
        assert row is not None
        return row


def test_a_heartbeat_with_nothing_new_is_not_written_again_soon(
    app: FastAPI, client: TestClient
) -> None:
    kiosk_id, token = new_kiosk(app)
    assert client.post(HEARTBEAT_PATH, json=HEARTBEAT, headers=bearer(token)).status_code == 200
    stored = _kiosk_row(app, kiosk_id).last_heartbeat_at
    assert stored is not None
    same = client.post(HEARTBEAT_PATH, json=HEARTBEAT, headers=bearer(token))
    assert same.status_code == 200 and same.json()["server_time"]
    assert _kiosk_row(app, kiosk_id).last_heartbeat_at == stored
    # Something new is written at once.
    changed = client.post(HEARTBEAT_PATH, json=HEARTBEAT | {"backlog": 3}, headers=bearer(token))
    assert changed.status_code == 200
    row = _kiosk_row(app, kiosk_id)
    assert row.backlog == 3 and row.last_heartbeat_at is not None
    assert row.last_heartbeat_at >= stored
    # Nothing new, but the stored heartbeat is old: written, so silence is never faked.
    old = row.last_heartbeat_at - timedelta(seconds=HEARTBEAT_WRITE_SECONDS + 1)
    with app.state.db.writer.begin() as session:
        session.execute(sa.update(Kiosk).where(Kiosk.id == kiosk_id).values(last_heartbeat_at=old))
    assert (
        client.post(
            HEARTBEAT_PATH, json=HEARTBEAT | {"backlog": 3}, headers=bearer(token)
        ).status_code
        == 200
    )
    refreshed = _kiosk_row(app, kiosk_id).last_heartbeat_at
    assert refreshed is not None and refreshed > old + timedelta(seconds=HEARTBEAT_WRITE_SECONDS)


def test_a_kiosk_revoked_by_another_process_cannot_pull_even_an_unchanged_pull(
    app: FastAPI, client: TestClient, settings: object
) -> None:
    kiosk_id, token = new_kiosk(app)
    first = client.get(PULL_PATH, headers=bearer(token))
    assert first.status_code == 200
    other = create_app(settings)  # type: ignore[arg-type]
    try:
        with other.state.db.writer.begin() as session:
            assert revoke_kiosk(session=session, kiosk_id=kiosk_id) is not None
    finally:
        other.state.db.dispose()
    refused = client.get(
        PULL_PATH, headers={**bearer(token), "If-None-Match": first.headers["ETag"]}
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "kiosk revoked"
    unknown = client.get(PULL_PATH, headers=bearer(token + "x"))
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"] == "Bearer"


@contextmanager
def one_connection_pool(app: FastAPI, settings: object) -> Iterator[None]:
    """Serve the app from a pool of one connection (waiting up to 10 s for it)."""
    from clinic.db import Database

    big = app.state.db
    app.state.db = Database(settings, pool_size=1, max_overflow=0, pool_timeout=10)  # type: ignore[arg-type]
    try:
        yield
    finally:
        app.state.db.dispose()
        app.state.db = big


def test_a_request_that_touches_its_kiosk_holds_one_pooled_connection_at_a_time(
    app: FastAPI, client: TestClient, settings: object
) -> None:
    # A pool of one connection: a pull that kept its read transaction's connection while
    # asking for a second one to record last_seen_at would wait for itself until the pool
    # timed out (a 500). In a fleet, a burst of such pulls exhausted the pool that way.
    with one_connection_pool(app, settings):
        kiosk_id, token = new_kiosk(app)
        with app.state.db.writer.begin() as session:  # not seen for a day: the pull touches it
            stale = datetime.now(UTC) - timedelta(days=1)
            session.execute(sa.update(Kiosk).where(Kiosk.id == kiosk_id).values(last_seen_at=stale))
        first = client.get(PULL_PATH, headers=bearer(token))
        assert first.status_code == 200
        with app.state.db.reader() as session:
            assert session.get(Kiosk, kiosk_id).last_seen_at > stale
        beat = client.post(HEARTBEAT_PATH, json=HEARTBEAT, headers=bearer(token))
        assert beat.status_code == 200


def test_a_burst_of_kiosk_requests_larger_than_the_pool_is_served_not_stalled(
    app: FastAPI, live_server: object, settings: object
) -> None:
    # A one-connection pool and 100 heartbeats at once, each from a kiosk not seen before:
    # each request's dependencies and route run in separate hops through the 40-thread
    # pool. Without the session gate, requests waiting for the connection took every
    # thread while the one holding it waited for a thread, until the pool timed out (500s).
    from concurrent.futures import ThreadPoolExecutor

    import requests

    with one_connection_pool(app, settings):
        tokens = [new_kiosk(app, name=f"burst-{i}")[1] for i in range(100)]
        url = live_server.url + HEARTBEAT_PATH  # type: ignore[attr-defined]

        def beat(token: str) -> int:
            return requests.post(
                url, json=HEARTBEAT, headers=bearer(token), timeout=120
            ).status_code

        with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
            statuses = list(pool.map(beat, tokens))
        assert statuses == [200] * len(tokens)


def test_open_live_pages_hold_no_database_session(app: FastAPI, live_server: object) -> None:
    # More open dashboard pages than the gate lets requests hold sessions: each page's event
    # stream gave its session back when the route returned, so pages and kiosks still get in.
    from contextlib import ExitStack

    import httpx

    from clinic.dashboard.live import EVENTS_PATH
    from clinic.deps import SESSION_REQUESTS

    base = live_server.url  # type: ignore[attr-defined]
    _, token = new_kiosk(app)
    with httpx.Client(base_url=base, timeout=30) as staff, ExitStack() as streams:
        assert login(staff, new_user(app)).status_code == 303
        for _ in range(SESSION_REQUESTS + 4):
            stream = streams.enter_context(
                staff.stream("GET", EVENTS_PATH, headers={"Accept": "text/event-stream"})
            )
            assert stream.status_code == 200
        assert staff.get("/dashboard/arrivals").status_code == 200
        beat = httpx.post(base + HEARTBEAT_PATH, json=HEARTBEAT, headers=bearer(token), timeout=30)
        assert beat.status_code == 200
