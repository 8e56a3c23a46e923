"""The unhappy-share rule at ingest reads only around the new ratings, and decides as before.

Runs on SQLite and PostgreSQL (tests/clinic/conftest.py). The reference is the rule as it
was: at every arrival, every window of the last 24 hours ending in (since, now], whatever
it holds (clinic.dashboard.alerts.evaluate_alert over all ratings). The cost per rating is
in bench/unhappy.py.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from server_helpers import make_settings
from sqlalchemy import select

from clinic import alerting
from clinic.alerting import Stored
from clinic.dashboard import queries
from clinic.dashboard.alerts import AlertRule, evaluate_alert
from clinic.db import Database
from clinic.models import Alert, AlertKind, Kiosk, Rating

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
RULE = AlertRule()  # the default: 15 minutes, at least 4 responses, half unhappy


Decision = tuple[datetime, datetime, int, int]


def _reference(ratings: list[tuple[datetime, int]], now: datetime, last: datetime | None) -> list:
    """Return what the full 24-hour scan raised at `now` (up to 5 windows), and the last end."""
    raised: list[Decision] = []
    for _ in range(5):
        since = now - queries.ALERT_LOOKBACK
        if last is not None:
            since = max(since, last)
        decision = evaluate_alert(ratings, now=now, rule=RULE, last_alert_end=last, since=since)
        if decision is None:
            break
        raised.append(
            (decision.window_start, decision.window_end, decision.responses, decision.unhappy)
        )
        last = decision.window_end
    return raised


def _store(db: Database, kiosk: Kiosk, batch: list[tuple[datetime, int]], now: datetime) -> list:
    """Store ratings as ingest does, run the at-ingest rules; return the alerts raised."""
    with db.writer.begin() as session:
        stored = []
        for rated_at, face in batch:
            rid = uuid.uuid4()
            session.add(
                Rating(id=rid, kiosk_id=kiosk.id, face=face, rated_at=rated_at, received_at=now)
            )
            stored.append(Stored(kind="rating", record_id=str(rid), at=rated_at))
        session.flush()
        alerts = alerting.on_records_stored(
            session=session, settings=db.settings, kiosk=kiosk, stored=stored, now=now
        )
        return [
            (
                datetime.fromisoformat(a.details["window_start"]),
                datetime.fromisoformat(a.details["window_end"]),
                a.details["responses"],
                a.details["unhappy"],
            )
            for a in alerts
            if a.kind == AlertKind.UNHAPPY_RATINGS and a.details
        ]


def _kiosk(db: Database) -> Kiosk:
    with db.writer.begin() as session:
        kiosk = Kiosk(id=uuid.uuid4(), name="Lobby", token_hash=uuid.uuid4().hex * 2)
        session.add(kiosk)
    return kiosk


def test_incremental_rule_raises_what_the_full_scan_raised(database_url: str) -> None:
    """Ratings from kiosks that sync at once or hours late, in batches: the same alerts."""
    rng = random.Random(13)
    db = Database(make_settings(database_url))
    kiosk = _kiosk(db)
    # Ten hours of ratings; unhappy spells come and go (faces drawn per spell).
    ratings: list[tuple[datetime, datetime, int]] = []  # (arrives, rated, face)
    at = START
    while at < START + timedelta(hours=10):
        at += timedelta(seconds=rng.randint(20, 400), microseconds=rng.randint(0, 999_999))
        spell = (at - START) // timedelta(minutes=40) % 3
        face = rng.choice([1, 2, 2, 3] if spell == 1 else [2, 4, 5, 5, 5])
        # Some kiosks sync minutes late, some were offline for hours: their ratings land
        # inside windows whose newest rating is already stored.
        late = rng.random()
        if late < 0.3:
            delay = timedelta(minutes=rng.randint(1, 30))
        elif late < 0.4:
            delay = timedelta(minutes=rng.randint(60, 180))
        else:
            delay = timedelta(0)
        ratings.append((at + delay, at, face))
    ratings.sort()
    batches: dict[datetime, list[tuple[datetime, int]]] = {}
    for arrives, rated, face in ratings:  # a kiosk's sync sends what came in that minute
        batches.setdefault(arrives.replace(second=59, microsecond=0), []).append((rated, face))

    seen: list[tuple[datetime, int]] = []
    last: datetime | None = None
    expected: list[Decision] = []
    got: list[Decision] = []
    for now, batch in sorted(batches.items()):
        seen.extend(batch)
        step = _reference(seen, now, last)
        if step:
            last = step[-1][1]
        expected.extend(step)
        got.extend(_store(db, kiosk, batch, now))
    db.dispose()
    assert len(expected) >= 5, "the data should raise several alerts"
    assert any(start < START + timedelta(hours=8) for start, *_ in expected)
    assert got == expected


def test_late_burst_alerts_and_a_calm_day_does_not(database_url: str) -> None:
    db = Database(make_settings(database_url))
    kiosk = _kiosk(db)
    now = START + timedelta(hours=20)
    # A calm day: 400 happy ratings, one after the other, no alert.
    calm = [(START + timedelta(minutes=3 * i, seconds=7), 5) for i in range(400)]
    for rating in calm:
        assert _store(db, kiosk, [rating], rating[0]) == []
    # A kiosk that was offline sends a burst from three hours ago: found, once.
    burst_at = now - timedelta(hours=3)
    burst = [(burst_at + timedelta(seconds=1 + 30 * i), 1) for i in range(6)]
    raised = _store(db, kiosk, burst, now)
    # The fifth unhappy rating makes half of the window's ten (five calm ones inside).
    assert raised == [(burst[4][0] - RULE.window, burst[4][0], 10, 5)]
    assert _store(db, kiosk, [(now, 5)], now) == []
    with db.reader() as session:
        alert = session.scalars(select(Alert)).one()
    assert alert.raised_at == burst[4][0]  # when the burst happened, not when it arrived
    db.dispose()


def test_a_rating_a_little_ahead_is_judged_on_arrival(database_url: str) -> None:
    """A kiosk clock up to clock_skew_seconds fast: its window is checked at once."""
    db = Database(make_settings(database_url))
    kiosk = _kiosk(db)
    now = START
    ahead = [(now + timedelta(minutes=1, seconds=s), 1) for s in (1, 2, 3, 4)]
    raised = _store(db, kiosk, ahead, now)
    assert [r[1] for r in raised] == [ahead[-1][0]]
    with db.reader() as session:
        assert session.scalars(select(Alert.raised_at)).one() == now  # not in the future
    db.dispose()


def test_spans_group_new_ratings_two_windows_apart() -> None:
    t = START
    window = timedelta(minutes=15)
    new = [t + timedelta(minutes=m) for m in (40, 0, 29, 100)]
    assert queries.new_rating_spans(new, window) == [
        (t, t + timedelta(minutes=40)),
        (t + timedelta(minutes=100), t + timedelta(minutes=100)),
    ]
