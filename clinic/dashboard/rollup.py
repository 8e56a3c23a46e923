"""Per-day feedback totals, so charts over a year of ratings cost a few hundred rows.

The charts need per-day sums over every rating in a range; on a busy clinic that is millions
of rows. Closed days (before today, clinic time) are summed once into `rating_day_stats`
(one row per day, kiosk and face) and re-summed when a rating or its details for that day
arrive later (a kiosk that was offline): those show up in `received_records` after the
watermark kept in `rating_rollup_state`. Today is always summed live.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from clinic.dashboard.days import local_day
from clinic.models import Base, Rating, ReceivedRecord
from sync.rules import (
    DETRACTOR_MAX,
    PROMOTER_MIN,
    RATING_DIMENSIONS,
    UNHAPPY_FACES,
    day_bounds,
)

#: Records may commit up to this long after their received_at was set (open transactions).
WATERMARK_SLACK = timedelta(minutes=2)
#: Move the watermark at most this often (each move is a write).
WATERMARK_STEP = timedelta(minutes=1)


class RatingDayStats(Base):
    """Sums of one clinic-local day's ratings for one kiosk and face score."""

    __tablename__ = "rating_day_stats"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("kiosks.id"))
    face: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)
    promoters: Mapped[int] = mapped_column(Integer)
    detractors: Mapped[int] = mapped_column(Integer)
    recommend_n: Mapped[int] = mapped_column(Integer)
    ease_of_contact_sum: Mapped[int] = mapped_column(Integer)
    ease_of_contact_n: Mapped[int] = mapped_column(Integer)
    waiting_time_sum: Mapped[int] = mapped_column(Integer)
    waiting_time_n: Mapped[int] = mapped_column(Integer)
    politeness_sum: Mapped[int] = mapped_column(Integer)
    politeness_n: Mapped[int] = mapped_column(Integer)
    kept_informed_sum: Mapped[int] = mapped_column(Integer)
    kept_informed_n: Mapped[int] = mapped_column(Integer)
    overall_sum: Mapped[int] = mapped_column(Integer)
    overall_n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_rating_day_stats_day", "day"),)


class RatingDaySummed(Base):
    """Days already summed (also days without ratings, so they are not summed again)."""

    __tablename__ = "rating_day_summed"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    summed_at: Mapped[datetime]


class RatingRollupState(Base):
    """The received_records watermark up to which late ratings were folded in (one row)."""

    __tablename__ = "rating_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    watermark: Mapped[datetime]


def _sum_columns() -> list[Any]:
    columns: list[Any] = [
        func.count().label("responses"),
        func.sum(case((Rating.would_recommend >= PROMOTER_MIN, 1), else_=0)).label("promoters"),
        func.sum(case((Rating.would_recommend <= DETRACTOR_MAX, 1), else_=0)).label("detractors"),
        func.count(Rating.would_recommend).label("recommend_n"),
    ]
    for dim in RATING_DIMENSIONS:
        col = getattr(Rating, dim)
        columns.append(func.coalesce(func.sum(col), 0).label(f"{dim}_sum"))
        columns.append(func.count(col).label(f"{dim}_n"))
    return columns


_TARGET_COLUMNS = [
    "day",
    "kiosk_id",
    "face",
    "responses",
    "promoters",
    "detractors",
    "recommend_n",
] + [f"{dim}_{part}" for dim in RATING_DIMENSIONS for part in ("sum", "n")]


def _offset_minutes(day: date, tz: ZoneInfo) -> int | None:
    """Return the day's UTC offset in minutes, or None if it changes that day (DST)."""
    lo, hi = day_bounds(day, tz)
    start = lo.astimezone(tz).utcoffset()
    end = (hi - timedelta(microseconds=1)).astimezone(tz).utcoffset()
    if start != end or start is None:
        return None
    return int(start.total_seconds() // 60)


def _runs(days: set[date], tz: ZoneInfo) -> list[tuple[list[date], int | None]]:
    """Split days into runs of consecutive days with one fixed UTC offset."""
    runs: list[tuple[list[date], int | None]] = []
    for day in sorted(days):
        offset = _offset_minutes(day, tz)
        if (
            runs
            and offset is not None
            and runs[-1][1] == offset
            and runs[-1][0][-1] + timedelta(days=1) == day
        ):
            runs[-1][0].append(day)
        else:
            runs.append(([day], offset))
    return runs


def resum_days(days: set[date], *, session: Session, tz: ZoneInfo, now: datetime) -> None:
    """Recompute the stored sums of the given days (inside the caller's transaction).

    Consecutive days with one UTC offset are summed by one GROUP BY over their clinic-local
    day; a day with a daylight-saving change is summed alone between its exact bounds.
    """
    for run, offset in _runs(days, tz):
        lo, _ = day_bounds(run[0], tz)
        _, hi = day_bounds(run[-1], tz)
        session.execute(delete(RatingDayStats).where(RatingDayStats.day.in_(run)))
        session.execute(delete(RatingDaySummed).where(RatingDaySummed.day.in_(run)))
        if offset is None:
            day_column: Any = literal(run[0], Date)
            group: list[Any] = [Rating.kiosk_id, Rating.face]
        else:
            day_column = local_day(Rating.rated_at, session, offset)
            group = [day_column, Rating.kiosk_id, Rating.face]
        source = (
            select(day_column, Rating.kiosk_id, Rating.face, *_sum_columns())
            .where(Rating.rated_at >= lo, Rating.rated_at < hi)
            .group_by(*group)
        )
        session.execute(insert(RatingDayStats).from_select(_TARGET_COLUMNS, source))
        session.add_all(RatingDaySummed(day=day, summed_at=now) for day in run)
        session.flush()


def stale_days(
    first: date, last: date, *, session: Session, tz: ZoneInfo, now: datetime
) -> tuple[set[date], datetime | None]:
    """Return closed days in [first, last] needing a (re)sum, and the new watermark."""
    if last < first:
        return set(), None
    wanted = {first + timedelta(days=i) for i in range((last - first).days + 1)}
    summed = set(
        session.scalars(
            select(RatingDaySummed.day).where(
                RatingDaySummed.day >= first, RatingDaySummed.day <= last
            )
        ).all()
    )
    missing = wanted - summed
    state = session.get(RatingRollupState, 1)
    new_watermark = now - WATERMARK_SLACK
    late: set[date] = set()
    if state is not None and state.watermark < new_watermark:
        rated = session.scalars(
            select(Rating.rated_at)
            .join(
                ReceivedRecord,
                Rating.id == func.coalesce(ReceivedRecord.target_id, ReceivedRecord.id),
            )
            .where(
                ReceivedRecord.received_at > state.watermark,
                ReceivedRecord.kind.in_(("rating", "rating_detail")),
            )
        ).all()
        today = now.astimezone(tz).date()
        late = {r.astimezone(tz).date() for r in rated} & summed
        late = {d for d in late if d < today}
    elif state is not None:
        new_watermark = state.watermark
    return missing | late, new_watermark


def refresh(first: date, last: date, *, db: Any, tz: ZoneInfo, now: datetime) -> None:
    """Bring the stored sums of closed days in [first, last] up to date."""
    with db.reader() as reader:
        days, watermark = stale_days(first, last, session=reader, tz=tz, now=now)
        state = reader.get(RatingRollupState, 1)
        if (
            not days
            and state is not None
            and (watermark is None or watermark - state.watermark < WATERMARK_STEP)
        ):
            return
    with db.writer.begin() as writer:
        days, watermark = stale_days(first, last, session=writer, tz=tz, now=now)
        resum_days(days, session=writer, tz=tz, now=now)
        state = writer.get(RatingRollupState, 1)
        if state is None:
            writer.add(RatingRollupState(id=1, watermark=watermark or now - WATERMARK_SLACK))
        elif watermark is not None:
            state.watermark = watermark


def refresh_all(*, db: Any, tz: ZoneInfo, now: datetime) -> None:
    """Bring every closed day's stored sums up to date (the background job's share)."""
    with db.reader() as reader:
        first_at = reader.scalar(select(func.min(Rating.rated_at)))
    if first_at is None:
        return
    yesterday = now.astimezone(tz).date() - timedelta(days=1)
    refresh(first_at.astimezone(tz).date(), yesterday, db=db, tz=tz, now=now)


# Same first fields as queries.DailyStats: kept apart because this holds (sum, count) pairs,
# DailyStats the averages made from them for the charts.
@dataclass(frozen=True)
class DaySums:
    """One day's totals, from the stored sums or summed live."""

    day: date
    responses: int
    face_sum: int
    unhappy: int
    promoters: int
    detractors: int
    recommend_n: int
    dim_sums: dict[str, tuple[int, int]]


def stored_days(
    first: date,
    last: date,
    *,
    session: Session,
    kiosk: uuid.UUID | None,
    faces: list[int] | None,
) -> list[DaySums]:
    """Return per-day totals of closed days from the stored sums."""
    s = RatingDayStats
    columns: list[Any] = [
        s.day,
        func.sum(s.responses),
        func.sum(s.responses * s.face),
        func.sum(case((s.face.in_(sorted(UNHAPPY_FACES)), s.responses), else_=0)),
        func.sum(s.promoters),
        func.sum(s.detractors),
        func.sum(s.recommend_n),
    ]
    for dim in RATING_DIMENSIONS:
        columns.append(func.sum(getattr(s, f"{dim}_sum")))
        columns.append(func.sum(getattr(s, f"{dim}_n")))
    query = select(*columns).where(s.day >= first, s.day <= last)
    if kiosk is not None:
        query = query.where(s.kiosk_id == kiosk)
    if faces is not None:
        query = query.where(s.face.in_(faces))
    result = []
    for row in session.execute(query.group_by(s.day).order_by(s.day)).all():
        day = row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0]))
        dims = {
            dim: (int(row[7 + 2 * i] or 0), int(row[8 + 2 * i] or 0))
            for i, dim in enumerate(RATING_DIMENSIONS)
        }
        result.append(
            DaySums(
                day=day,
                responses=int(row[1] or 0),
                face_sum=int(row[2] or 0),
                unhappy=int(row[3] or 0),
                promoters=int(row[4] or 0),
                detractors=int(row[5] or 0),
                recommend_n=int(row[6] or 0),
                dim_sums=dims,
            )
        )
    return result
