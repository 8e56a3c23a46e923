"""Feedback aggregates (stored day sums vs live), late ratings, inbox order, alerts: real DB."""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.dashboard import queries
from clinic.db import Database
from clinic.models import Kiosk, Question, Rating, ReceivedRecord

TZ = ZoneInfo("Europe/Madrid")
NOW = datetime(2026, 3, 20, 11, 0, tzinfo=UTC)
_clock = [datetime(2026, 4, 5, 9, 0, tzinfo=UTC)]  # server time: after every rated day


def tick() -> datetime:
    """Return a server 'now' later than every earlier one (the rollup watermark only grows)."""
    _clock[0] += timedelta(minutes=10)
    return _clock[0]


def _kiosk(db: Database) -> uuid.UUID:
    kid = uuid.uuid4()
    with db.writer.begin() as s:
        s.add(Kiosk(id=kid, name=f"k-{kid.hex[:6]}", token_hash=secrets.token_hex(32)))
    return kid


def _ratings(db: Database, kiosk: uuid.UUID, n: int, seed: int) -> datetime:
    """Store ratings as ingest does (with their received_records row); return the time."""
    rng = random.Random(seed)
    received = tick()
    with db.writer.begin() as s:
        for _ in range(n):
            detailed = rng.random() < 0.5
            rid = uuid.uuid4()
            rated_at = NOW - timedelta(minutes=rng.randrange(20 * 24 * 60))
            s.add(
                Rating(
                    id=rid,
                    kiosk_id=kiosk,
                    face=rng.randint(1, 5),
                    rated_at=rated_at,
                    received_at=received,
                    politeness=rng.randint(1, 5) if detailed else None,
                    overall=rng.randint(1, 5) if detailed else None,
                    would_recommend=rng.randint(0, 10) if detailed else None,
                )
            )
            s.add(_received(rid, kiosk, rated_at, received))
    return received


def _received(rid: uuid.UUID, kiosk: uuid.UUID, at: datetime, received: datetime) -> ReceivedRecord:
    return ReceivedRecord(
        id=rid,
        kiosk_id=kiosk,
        kind="rating",
        body={},
        body_hash="x",
        created_at=at,
        received_at=received,
    )


def _as_tuples(days: list[queries.DailyStats]) -> list[tuple[object, ...]]:
    return [
        (
            d.day,
            d.responses,
            d.face_sum,
            d.unhappy,
            d.promoters,
            d.detractors,
            d.recommend_answers,
            tuple(round(v, 6) if v is not None else None for v in d.dim_avgs.values()),
        )
        for d in days
    ]


@pytest.mark.parametrize("face", ["", "unhappy", "5"])
def test_stored_day_sums_equal_live_sums(dash_db: Database, face: str) -> None:
    kiosk = _kiosk(dash_db)
    received = _ratings(dash_db, kiosk, 600, seed=len(face))
    now = received + timedelta(minutes=5)
    flt = queries.FeedbackFilter(
        date_from=date(2026, 3, 1), date_to=date(2026, 3, 20), kiosk=kiosk, face=face
    )
    with dash_db.reader() as s:
        live = queries.live_daily_stats(flt, session=s, tz=TZ)
        stored = queries.daily_stats(flt, session=s, tz=TZ, db=dash_db, now=now)
        again = queries.daily_stats(flt, session=s, tz=TZ, db=dash_db, now=now)
    assert sum(d.responses for d in live) > 0
    assert _as_tuples(stored) == _as_tuples(live)
    assert _as_tuples(again) == _as_tuples(live)


def test_late_rating_for_a_summed_day_is_folded_in(dash_db: Database) -> None:
    kiosk = _kiosk(dash_db)
    received = _ratings(dash_db, kiosk, 50, seed=7)
    flt = queries.FeedbackFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 19), kiosk=kiosk)

    def total(now: datetime) -> int:
        with dash_db.reader() as s:
            return sum(
                d.responses for d in queries.daily_stats(flt, session=s, tz=TZ, db=dash_db, now=now)
            )

    before = total(received + timedelta(minutes=5))
    with dash_db.reader() as s:
        assert before == sum(d.responses for d in queries.live_daily_stats(flt, session=s, tz=TZ))
    assert before > 0
    late_id = uuid.uuid4()
    late_received = tick()
    with dash_db.writer.begin() as s:
        s.add(
            Rating(
                id=late_id,
                kiosk_id=kiosk,
                face=1,
                rated_at=NOW - timedelta(days=4),
                received_at=late_received,
            )
        )
        s.add(_received(late_id, kiosk, NOW - timedelta(days=4), late_received))
    assert total(late_received + timedelta(minutes=1)) == before + 1


def test_question_inbox_order(dash_db: Database) -> None:
    kiosk = _kiosk(dash_db)
    base = datetime.now(UTC) - timedelta(hours=1)
    ids = {}
    with dash_db.writer.begin() as s:
        for name, minutes, emergency in (("old", 0, False), ("new", 30, False), ("sos", 50, True)):
            qid = uuid.uuid4()
            ids[name] = qid
            s.add(
                Question(
                    id=qid,
                    kiosk_id=kiosk,
                    text=name,
                    emergency=emergency,
                    asked_at=base + timedelta(minutes=minutes),
                )
            )
    with dash_db.reader() as s:
        rows, _more = queries.question_page(session=s, done=False, page=1)
    mine = [q.text for q in rows if q.kiosk_id == kiosk]
    assert mine == ["sos", "old", "new"]


def test_day_sums_follow_the_clinic_day_across_daylight_saving(dash_db: Database) -> None:
    """Ratings just before/after local midnight land on the right day on both sides of DST."""
    kiosk = _kiosk(dash_db)
    received = tick()
    local_times = [
        datetime(2026, 3, 27, 23, 30),  # UTC+1
        datetime(2026, 3, 28, 0, 30),
        datetime(2026, 3, 29, 1, 30),  # the night clocks go forward (02:00 -> 03:00)
        datetime(2026, 3, 29, 23, 30),  # UTC+2 from here
        datetime(2026, 3, 30, 0, 30),
        datetime(2026, 3, 31, 0, 10),
        datetime(2026, 3, 31, 23, 50),
    ]
    expected: dict[date, int] = {}
    with dash_db.writer.begin() as s:
        for local in local_times:
            rated_at = local.replace(tzinfo=TZ).astimezone(UTC)
            rid = uuid.uuid4()
            s.add(Rating(id=rid, kiosk_id=kiosk, face=4, rated_at=rated_at, received_at=received))
            s.add(_received(rid, kiosk, rated_at, received))
            expected[local.date()] = expected.get(local.date(), 0) + 1
    flt = queries.FeedbackFilter(date_from=date(2026, 3, 26), date_to=date(2026, 4, 1), kiosk=kiosk)
    now = received + timedelta(minutes=5)
    with dash_db.reader() as s:
        stored = queries.daily_stats(flt, session=s, tz=TZ, db=dash_db, now=now)
    assert {d.day: d.responses for d in stored} == expected


def test_feedback_pages_walk_every_rating_once_newest_first(dash_db: Database) -> None:
    kiosk = _kiosk(dash_db)
    with dash_db.writer.begin() as s:
        for i in range(120):
            # Pairs share a timestamp, so the id must break ties between pages.
            rated_at = NOW - timedelta(days=2, minutes=i // 2)
            s.add(Rating(id=uuid.uuid4(), kiosk_id=kiosk, face=3, rated_at=rated_at))
    flt = queries.FeedbackFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 20), kiosk=kiosk)
    seen: list[tuple[datetime, uuid.UUID]] = []
    before = None
    with dash_db.reader() as s:
        for _ in range(5):
            rows, before = queries.rating_page(flt, session=s, tz=TZ, before=before)
            seen.extend((r.rated_at, r.id) for r in rows)
            if before is None:
                break
    assert len(seen) == 120
    assert len(set(seen)) == 120
    assert seen == sorted(seen, reverse=True)


def test_late_details_for_a_summed_day_are_folded_in(dash_db: Database) -> None:
    """A rating_detail arriving days later (kiosk offline) updates that day's averages."""
    kiosk = _kiosk(dash_db)
    received = tick()
    rid = uuid.uuid4()
    rated_at = NOW - timedelta(days=3)
    with dash_db.writer.begin() as s:
        s.add(Rating(id=rid, kiosk_id=kiosk, face=5, rated_at=rated_at, received_at=received))
        s.add(_received(rid, kiosk, rated_at, received))
    flt = queries.FeedbackFilter(date_from=date(2026, 3, 1), date_to=date(2026, 3, 19), kiosk=kiosk)

    def politeness(now: datetime) -> list[float | None]:
        with dash_db.reader() as s:
            days = queries.daily_stats(flt, session=s, tz=TZ, db=dash_db, now=now)
        return [d.dim_avgs["politeness"] for d in days]

    assert politeness(received + timedelta(minutes=3)) == [None]
    detail_received = tick()
    with dash_db.writer.begin() as s:
        rating = s.get(Rating, rid)
        assert rating is not None
        rating.politeness = 2
        rating.would_recommend = 10
        s.add(
            ReceivedRecord(
                id=uuid.uuid4(),
                kiosk_id=kiosk,
                kind="rating_detail",
                body={},
                body_hash="y",
                created_at=rated_at,
                received_at=detail_received,
                target_id=rid,
            )
        )
    assert politeness(detail_received + timedelta(minutes=1)) == [2.0]
