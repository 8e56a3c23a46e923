"""Database reads and writes behind the dashboard pages (the caller owns the session)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from clinic.dashboard import rollup
from clinic.dashboard.alerts import AlertDecision, AlertRule, evaluate_alert
from clinic.dashboard.days import local_day as _local_day
from clinic.ehr import queue as ehr_queue
from clinic.followup.models import FollowUpResponse, ResponseKind
from clinic.i18n import staff_language_label
from clinic.live import publish
from clinic.models import (
    Alert,
    AlertKind,
    Appointment,
    AppointmentStatus,
    Arrival,
    ArrivalStatus,
    ClinicConfig,
    Kiosk,
    Question,
    Rating,
    ReviewState,
)
from sync.rules import DETRACTOR_MAX, PROMOTER_MIN, UNHAPPY_FACES, FaceBand, dimension_table
from sync.rules import day_bounds as day_bounds  # also used as queries.day_bounds

#: (dimension, staff label), in the order of sync.rules.RATING_DIMENSIONS.
DIMENSIONS: tuple[tuple[str, str], ...] = tuple(
    dimension_table(
        {
            "ease_of_contact": "Ease of contact",
            "waiting_time": "Waiting time",
            "politeness": "Politeness",
            "kept_informed": "Kept informed",
            "overall": "Overall",
        },
        "dashboard labels",
    ).items()
)
PAGE_SIZE = 50
DEFAULT_CHART_DAYS = 30
MAX_CHART_DAYS = 366


def alert_rule(*, session: Session) -> AlertRule:
    """Return the configured unhappy-feedback alert rule."""
    config = ClinicConfig.of(session)
    return AlertRule(
        window_minutes=config.alert_window_minutes,
        min_responses=config.alert_min_responses,
        unhappy_share=config.alert_unhappy_share,
    )


# ---------------------------------------------------------------------------------------
# Arrivals
# ---------------------------------------------------------------------------------------
STATUS_LABELS = {
    ArrivalStatus.WAITING: "Waiting",
    ArrivalStatus.CALLED_IN: "Called in",
    ArrivalStatus.SEEN: "Seen",
    ArrivalStatus.NO_SHOW: "No-show",
}
STATUS_ACTIONS = (
    (ArrivalStatus.CALLED_IN.value, "Call in"),
    (ArrivalStatus.SEEN.value, "Seen"),
    (ArrivalStatus.NO_SHOW.value, "No-show"),
    (ArrivalStatus.WAITING.value, "Back to waiting"),
)


@dataclass(frozen=True)
class ArrivalRow:
    id: uuid.UUID
    queue_number: str
    arrived_at: datetime
    waited_minutes: int
    is_walk_in: bool
    display_name: str
    detail: str
    status: str
    status_label: str
    #: The patient's language on the kiosk, for staff ("Arabic (العربية)").
    language: str = "en"
    language_label: str = ""
    #: The language an interpreter should speak ("" when none was asked for).
    interpreter_label: str = ""
    interpreter_requested_at: datetime | None = None
    room: str | None = None
    call_count: int = 0


def todays_arrivals(*, session: Session, now: datetime, tz: ZoneInfo) -> list[ArrivalRow]:
    """Return today's check-ins and walk-ins in arrival order."""
    start, end = day_bounds(now.astimezone(tz).date(), tz)
    rows = session.execute(
        select(Arrival, Appointment)
        .outerjoin(Appointment, Arrival.appointment_id == Appointment.id)
        .where(Arrival.arrived_at >= start, Arrival.arrived_at < end)
        .order_by(Arrival.arrived_at, Arrival.queue_number)
    ).all()
    result = []
    for arrival, appointment in rows:
        finished = arrival.called_at or arrival.seen_at
        until = finished if arrival.status != ArrivalStatus.WAITING and finished else now
        waited = max(0, int((until - arrival.arrived_at).total_seconds() // 60))
        if arrival.walk_in:
            name = f"{arrival.first_name or ''} {arrival.last_name or ''}".strip()
            detail = arrival.reason or ""
        elif appointment is not None:
            name = f"{appointment.first_name} {appointment.last_name}"
            detail = f"{appointment.starts_at.astimezone(tz):%H:%M} with {appointment.clinician}"
        else:
            name = f"Appointment {arrival.appointment_ref or ''}".strip()
            detail = ""
        result.append(
            ArrivalRow(
                id=arrival.id,
                queue_number=arrival.queue_number,
                arrived_at=arrival.arrived_at,
                waited_minutes=waited,
                is_walk_in=arrival.walk_in,
                display_name=name,
                detail=detail,
                status=arrival.status,
                status_label=STATUS_LABELS.get(ArrivalStatus(arrival.status), arrival.status),
                language=arrival.language,
                language_label=staff_language_label(arrival.language),
                interpreter_label=(
                    staff_language_label(arrival.interpreter_language)
                    if arrival.interpreter_language
                    else ""
                ),
                interpreter_requested_at=arrival.interpreter_requested_at,
                room=arrival.room,
                call_count=arrival.call_count or 0,
            )
        )
    return result


_APPOINTMENT_STATUS = {
    ArrivalStatus.WAITING: AppointmentStatus.ARRIVED,
    ArrivalStatus.CALLED_IN: AppointmentStatus.CALLED_IN,
    ArrivalStatus.SEEN: AppointmentStatus.SEEN,
    ArrivalStatus.NO_SHOW: AppointmentStatus.NO_SHOW,
}


def set_arrival_status(
    arrival_id: uuid.UUID, status: ArrivalStatus, *, session: Session, now: datetime
) -> Arrival | None:
    """Record that staff called a patient in, saw them or found them gone."""
    arrival = session.get(Arrival, arrival_id)
    if arrival is None:
        return None
    arrival.status = status
    # Open arrivals pages follow the queue (no patient data in the event).
    publish("queue", {"arrival_id": str(arrival.id)}, session=session)
    if status == ArrivalStatus.WAITING:
        arrival.called_at = None
        arrival.seen_at = None
    elif status == ArrivalStatus.CALLED_IN:
        arrival.called_at = now
        arrival.seen_at = None
        arrival.last_called_at = now
        arrival.call_count = (arrival.call_count or 0) + 1
    if status != ArrivalStatus.CALLED_IN:
        arrival.last_called_at = None
    if status == ArrivalStatus.WAITING:
        arrival.room = None
    elif status == ArrivalStatus.SEEN:
        arrival.called_at = arrival.called_at or now
        arrival.seen_at = now
    if arrival.appointment_id is not None:
        appointment = session.get(Appointment, arrival.appointment_id)
        if appointment is not None:
            appointment.status = _APPOINTMENT_STATUS[status]
            appointment.called_at = arrival.called_at
    ehr_queue.status_changed(
        session=session,
        arrival_id=arrival.id,
        appointment_id=arrival.appointment_id,
        status=status.value,
        now=now,
    )
    return arrival


# ---------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------
def question_page(*, session: Session, done: bool, page: int) -> tuple[Sequence[Question], bool]:
    """Return a page of the inbox (emergencies first, then oldest first) and whether more."""
    query = select(Question).where(Question.done == done)
    if done:
        # Newest first along the asked_at index (done_at has none; sorting 100k rows is slow).
        query = query.order_by(Question.asked_at.desc(), Question.id)
    else:
        query = query.order_by(Question.emergency.desc(), Question.asked_at, Question.id)
    rows = session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


# ---------------------------------------------------------------------------------------
# Feedback: filters, list, aggregates
# ---------------------------------------------------------------------------------------
@dataclass
class FeedbackFilter:
    """The feedback page's filters, parsed from the query string."""

    date_from: date
    date_to: date
    kiosk: uuid.UUID | None = None
    face: str = ""  # "", "1".."5", FaceBand.UNHAPPY
    dims: dict[str, int] = field(default_factory=dict)
    has_comment: bool | None = None
    state: str = ""

    def conditions(self, tz: ZoneInfo) -> list[Any]:
        start, _ = day_bounds(self.date_from, tz)
        _, end = day_bounds(self.date_to, tz)
        where: list[Any] = [Rating.rated_at >= start, Rating.rated_at < end]
        if self.kiosk is not None:
            where.append(Rating.kiosk_id == self.kiosk)
        if self.face == FaceBand.UNHAPPY:
            where.append(Rating.face.in_(sorted(UNHAPPY_FACES)))
        elif self.face:
            where.append(Rating.face == int(self.face))
        for dim, value in self.dims.items():
            where.append(getattr(Rating, dim) == value)
        if self.has_comment is True:
            where.append(Rating.comment.is_not(None))
        elif self.has_comment is False:
            where.append(Rating.comment.is_(None))
        if self.state:
            where.append(Rating.review_state == self.state)
        return where


@dataclass(frozen=True)
class RatingRow:
    id: uuid.UUID
    rated_at: datetime
    kiosk_name: str
    face: int
    comment: str | None
    review_state: str
    staff_note: str | None
    would_recommend: int | None
    callback: str | None
    phone_survey: dict[str, Any] | None
    ease_of_contact: int | None
    waiting_time: int | None
    politeness: int | None
    kept_informed: int | None
    overall: int | None

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


def rating_page(
    flt: FeedbackFilter,
    *,
    session: Session,
    tz: ZoneInfo,
    before: tuple[datetime, uuid.UUID] | None,
) -> tuple[list[RatingRow], tuple[datetime, uuid.UUID] | None]:
    """Return newest-first ratings matching the filter, and the key of the next page."""
    query = (
        select(Rating, Kiosk.name)
        .outerjoin(Kiosk, Rating.kiosk_id == Kiosk.id)
        .where(*flt.conditions(tz))
        .order_by(Rating.rated_at.desc(), Rating.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if before is not None:
        at, last_id = before
        # Spelled out (not a row value) so the rated_at index bounds the scan.
        query = query.where(Rating.rated_at <= at, or_(Rating.rated_at < at, Rating.id < last_id))
    rows = session.execute(query).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    callbacks: dict[uuid.UUID, str | None] = {}
    surveys: dict[uuid.UUID, dict[str, Any]] = {}
    if rows:
        for response in session.scalars(
            select(FollowUpResponse).where(FollowUpResponse.rating_id.in_([r.id for r, _ in rows]))
        ):
            if response.kind == ResponseKind.CALLBACK:
                callbacks[response.rating_id] = response.phone
            else:
                surveys[response.rating_id] = response.answers or {}
    result = []
    for rating, kiosk_name in rows:
        callback = callbacks.get(rating.id)
        if callback is None and rating.consent_to_contact and rating.contact_phone:
            callback = rating.contact_phone
        result.append(
            RatingRow(
                id=rating.id,
                rated_at=rating.rated_at,
                kiosk_name=kiosk_name or "",
                face=rating.face,
                comment=rating.comment,
                review_state=rating.review_state,
                staff_note=rating.staff_note,
                would_recommend=rating.would_recommend,
                callback=callback,
                phone_survey=surveys.get(rating.id),
                ease_of_contact=rating.ease_of_contact,
                waiting_time=rating.waiting_time,
                politeness=rating.politeness,
                kept_informed=rating.kept_informed,
                overall=rating.overall,
            )
        )
    next_key = (rows[-1][0].rated_at, rows[-1][0].id) if more else None
    return result, next_key


# Same first fields as rollup.DaySums: kept apart because this holds the charts' averages per
# dimension, DaySums the (sum, count) pairs they are made from.
@dataclass(frozen=True)
class DailyStats:
    day: date
    responses: int
    face_sum: int
    unhappy: int
    promoters: int
    detractors: int
    recommend_answers: int
    dim_avgs: dict[str, float | None]


def daily_stats(
    flt: FeedbackFilter,
    *,
    session: Session,
    tz: ZoneInfo,
    db: Any,
    now: datetime,
    refresh: bool = True,
) -> list[DailyStats]:
    """Return per-day aggregates: stored sums for closed days, live sums for today.

    Only the date range, kiosk and face filters apply: the other filters (a dimension's
    score, comment, review state) narrow the list, not the charts, which stay a few hundred
    stored rows however many ratings there are.
    """
    today = now.astimezone(tz).date()
    closed_last = min(flt.date_to, today - timedelta(days=1))
    result: list[DailyStats] = []
    if closed_last >= flt.date_from:
        stale: set[date] = set()
        if refresh:
            rollup.refresh(flt.date_from, closed_last, db=db, tz=tz, now=now)
        else:
            # Page views write nothing: the background job keeps the stored sums current
            # (clinic/alerting.py); days it has not summed yet are summed live here.
            stale, _watermark = rollup.stale_days(
                flt.date_from, closed_last, session=session, tz=tz, now=now
            )
        if stale:
            late = FeedbackFilter(
                date_from=min(stale), date_to=max(stale), kiosk=flt.kiosk, face=flt.face
            )
            result.extend(
                d for d in live_daily_stats(late, session=session, tz=tz) if d.day in stale
            )
        faces: list[int] | None = None
        if flt.face == FaceBand.UNHAPPY:
            faces = sorted(UNHAPPY_FACES)
        elif flt.face:
            faces = [int(flt.face)]
        # A fresh read transaction: the request's own one began before the refresh wrote.
        with db.reader() as fresh:
            for d in rollup.stored_days(
                flt.date_from, closed_last, session=fresh, kiosk=flt.kiosk, faces=faces
            ):
                if d.day in stale:
                    continue
                result.append(
                    DailyStats(
                        day=d.day,
                        responses=d.responses,
                        face_sum=d.face_sum,
                        unhappy=d.unhappy,
                        promoters=d.promoters,
                        detractors=d.detractors,
                        recommend_answers=d.recommend_n,
                        dim_avgs={
                            dim: (total / n if n else None)
                            for dim, (total, n) in d.dim_sums.items()
                        },
                    )
                )
    if flt.date_to >= today >= flt.date_from:
        live = FeedbackFilter(date_from=today, date_to=today, kiosk=flt.kiosk, face=flt.face)
        result.extend(live_daily_stats(live, session=session, tz=tz))
    result.sort(key=lambda d: d.day)
    return result


def live_daily_stats(flt: FeedbackFilter, *, session: Session, tz: ZoneInfo) -> list[DailyStats]:
    """Return per-day aggregates summed live (one GROUP BY over the bounded range)."""
    # One UTC offset for the whole range: a DST change shifts at most an hour of one day.
    offset = datetime.combine(flt.date_to, time(12), tzinfo=tz).utcoffset() or timedelta(0)
    day = _local_day(Rating.rated_at, session, int(offset.total_seconds() // 60)).label("day")
    columns = [
        day,
        func.count().label("responses"),
        func.sum(Rating.face).label("face_sum"),
        func.sum(case((Rating.face.in_(sorted(UNHAPPY_FACES)), 1), else_=0)).label("unhappy"),
        func.sum(case((Rating.would_recommend >= PROMOTER_MIN, 1), else_=0)).label("promoters"),
        func.sum(case((Rating.would_recommend <= DETRACTOR_MAX, 1), else_=0)).label("detractors"),
        func.count(Rating.would_recommend).label("recommend_answers"),
    ] + [func.avg(getattr(Rating, dim)).label(dim) for dim, _ in DIMENSIONS]
    rows = session.execute(
        select(*columns).where(*flt.conditions(tz)).group_by(day).order_by(day)
    ).all()
    result = []
    for row in rows:
        raw_day = row.day
        the_day = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        result.append(
            DailyStats(
                day=the_day,
                responses=int(row.responses),
                face_sum=int(row.face_sum or 0),
                unhappy=int(row.unhappy or 0),
                promoters=int(row.promoters or 0),
                detractors=int(row.detractors or 0),
                recommend_answers=int(row.recommend_answers or 0),
                dim_avgs={
                    dim: (float(getattr(row, dim)) if getattr(row, dim) is not None else None)
                    for dim, _ in DIMENSIONS
                },
            )
        )
    return result


def review_rating(
    rating_id: uuid.UUID,
    state: ReviewState,
    note: str | None,
    *,
    session: Session,
    staff_id: int,
    now: datetime,
) -> Rating | None:
    """Set a rating's review state and staff note."""
    rating = session.get(Rating, rating_id)
    if rating is None:
        return None
    rating.review_state = state
    rating.staff_note = note or None
    rating.reviewed_by_id = staff_id
    rating.reviewed_at = now
    return rating


# ---------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertView:
    id: int
    window_start: datetime
    window_end: datetime
    responses: int
    unhappy: int
    kind: str = AlertKind.UNHAPPY_RATINGS
    title: str = "Unhappy feedback"
    message: str = ""
    link: str = ""


def open_alerts(*, session: Session) -> list[AlertView]:
    """Return alerts staff have not acknowledged yet, newest first."""
    alerts = session.scalars(
        select(Alert)
        .where(Alert.acknowledged_at.is_(None))
        .order_by(Alert.raised_at.desc())
        .limit(10)
    ).all()
    views = []
    for alert in alerts:
        details = alert.details or {}
        title, message, link = _alert_text(alert.kind, details)
        views.append(
            AlertView(
                id=alert.id,
                window_start=_parse_dt(details.get("window_start"), alert.raised_at),
                window_end=_parse_dt(details.get("window_end"), alert.raised_at),
                responses=int(details.get("responses", 0)),
                unhappy=int(details.get("unhappy", 0)),
                kind=alert.kind,
                title=title,
                message=message,
                link=link,
            )
        )
    return views


def _alert_text(kind: str, details: dict[str, Any]) -> tuple[str, str, str]:
    """Return the banner's title, sentence and link for an alert (staff-only page)."""
    kiosk = details.get("kiosk") or "a kiosk"
    minutes = details.get("minutes")
    if kind == AlertKind.EMERGENCY_QUESTION:
        return (
            "Emergency-word question",
            f"New question at {kiosk} with emergency words.",
            "/dashboard/questions",
        )
    if kind == AlertKind.QUESTION_UNANSWERED:
        return (
            "Question unanswered",
            f"A question from {kiosk} waits for over {minutes} min.",
            "/dashboard/questions",
        )
    if kind == AlertKind.PATIENT_WAITING:
        number = details.get("queue_number")
        return (
            "Patient waiting long",
            f"Number {number} has waited over {minutes} min.",
            "/dashboard/arrivals",
        )
    if kind == AlertKind.KIOSK_SILENT:
        return (
            "Kiosk silent",
            f"{kiosk} has not been heard from for over {minutes} min.",
            "/dashboard/kiosks",
        )
    return ("Unhappy feedback", "", "")


def _parse_dt(value: Any, fallback: datetime) -> datetime:
    if not isinstance(value, str):
        return fallback
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: Windows ending earlier than this are never alerted on (a late kiosk's day-old burst).
ALERT_LOOKBACK = timedelta(hours=24)
#: One microsecond: evaluate_alert's `since` is exclusive, the first new rating's window not.
_TICK = timedelta(microseconds=1)


def new_rating_spans(new: Sequence[datetime], window: timedelta) -> list[tuple[datetime, datetime]]:
    """Group new ratings' times into (first, last) runs less than two windows apart.

    The windows a rating at t falls in end in [t, t + window) and read ratings from
    (t - window, ...]; times closer than two windows share their ratings, so they are read
    together.
    """
    spans: list[tuple[datetime, datetime]] = []
    for at in sorted(new):
        if spans and at - spans[-1][1] < 2 * window:
            spans[-1] = (spans[-1][0], at)
        else:
            spans.append((at, at))
    return spans


def check_unhappy_alert(
    *, session: Session, now: datetime, new: Sequence[datetime]
) -> AlertDecision | None:
    """Return the first unreported window holding a new rating that crossed the rule.

    Every rating passes here as it arrives (`new`: their rated_at), so a window holding no
    new rating was checked with the same ratings before, and only the windows holding one
    can newly cross the rule. Those end within one window after a new rating and read from
    one window before it: a bounded range of the rated_at index per new rating, however
    many ratings the last 24 hours hold (bench/unhappy.py). Nothing is written.
    """
    if not new:
        return None
    rule = alert_rule(session=session)
    last = session.scalar(
        select(Alert.details)
        .where(Alert.kind == AlertKind.UNHAPPY_RATINGS)
        .order_by(Alert.raised_at.desc())
        .limit(1)
    )
    last_end = _parse_dt(last.get("window_end"), now) if isinstance(last, dict) else None
    floor = now - ALERT_LOOKBACK
    if last_end is not None:
        floor = max(floor, last_end)
    for first, newest in new_rating_spans(new, rule.window):
        stop = newest + rule.window  # windows ending from here on hold no new rating
        if stop <= floor:
            continue
        rows = session.execute(
            select(Rating.rated_at, Rating.face).where(
                Rating.rated_at > first - rule.window, Rating.rated_at < stop
            )
        ).all()
        if len(rows) < rule.min_responses:
            continue
        decision = evaluate_alert(
            [(r.rated_at, r.face) for r in rows],
            # Every rating read may end a window: one stamped a little ahead (a kiosk clock
            # within clock_skew_seconds) is checked now, not only once the clock passes it.
            now=stop,
            rule=rule,
            last_alert_end=last_end,
            since=max(floor, first - _TICK),
        )
        if decision is not None:
            return decision
    return None


def raise_alert(decision: AlertDecision, *, session: Session) -> Alert:
    """Store an alert for a window that crossed the rule."""
    alert = Alert(
        kind=AlertKind.UNHAPPY_RATINGS,
        raised_at=decision.window_end,
        details={
            "window_start": decision.window_start.isoformat(),
            "window_end": decision.window_end.isoformat(),
            "responses": decision.responses,
            "unhappy": decision.unhappy,
        },
    )
    session.add(alert)
    return alert


def acknowledge_alert(alert_id: int, *, session: Session, staff_id: int, now: datetime) -> bool:
    """Mark an alert acknowledged; return False if it does not exist or was already."""
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=staff_id)
    )
    return bool(getattr(result, "rowcount", 0))
