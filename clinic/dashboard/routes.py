"""Staff dashboard pages: arrivals, questions, feedback, kiosks (server-rendered HTML)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from clinic import kiosks, queue
from clinic.audit import audit
from clinic.dashboard import queries, queue_ops
from clinic.dashboard.charts import Series, line_chart
from clinic.dashboard.web import audit_and_render
from clinic.deps import CsrfProtected, CurrentAdmin, CurrentStaff, SessionDep, SettingsDep
from clinic.ehr import panel as ehr_panel
from clinic.ehr import queue as ehr_queue
from clinic.models import ArrivalStatus, Kiosk, Question, ReviewState, utcnow
from sync.rules import UNHAPPY_FACES, FaceBand, face_table, net_promoter_score

router = APIRouter(include_in_schema=False)

MAX_ANSWER_CHARS = 2000
MAX_NOTE_CHARS = 1000
# Words, not emoji: Debian's Chromium (and many clinic PCs) have no colour emoji font.
FACE_ICONS = face_table(
    {1: "very unhappy", 2: "unhappy", 3: "neutral", 4: "happy", 5: "very happy"}, "face icons"
)
FACE_OPTIONS = (
    ("", "Any"),
    (FaceBand.UNHAPPY.value, f"Unhappy ({min(UNHAPPY_FACES)}-{max(UNHAPPY_FACES)})"),
    *((str(face), f"{face} {icon}") for face, icon in FACE_ICONS.items()),
)
#: The values of the face filter: a face, the unhappy band (sync.rules.UNHAPPY_FACES) or any.
FACE_FILTERS = frozenset(value for value, _label in FACE_OPTIONS)


def _back(path: str, ok: str) -> RedirectResponse:
    """Return the Post/Redirect/Get answer to a form."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}ok={ok}", status_code=status.HTTP_303_SEE_OTHER)


def _safe_next(value: str | None, default: str) -> str:
    """Return a same-site dashboard path to go back to (never an external URL)."""
    if value and value.startswith("/dashboard") and "//" not in value and "\\" not in value:
        return value.split("#", 1)[0]
    return default


@router.get("/")
@router.get("/dashboard")
def dashboard_home(staff: CurrentStaff) -> RedirectResponse:
    """Open the arrivals page, the one staff look at most."""
    return RedirectResponse("/dashboard/arrivals", status_code=status.HTTP_303_SEE_OTHER)


# ---------------------------------------------------------------------------------------
# Arrivals
# ---------------------------------------------------------------------------------------
@router.get("/dashboard/arrivals")
def arrivals_page(
    request: Request, session: SessionDep, staff: CurrentStaff, settings: SettingsDep
) -> Response:
    """Show today's check-ins and walk-ins in arrival order."""
    now = utcnow()
    arrivals = queries.todays_arrivals(session=session, now=now, tz=settings.tz)
    counts = {s.value: 0 for s in ArrivalStatus}
    for a in arrivals:
        counts[a.status] = counts.get(a.status, 0) + 1
    counts["interpreters"] = sum(
        1 for a in arrivals if a.interpreter_label and a.status == ArrivalStatus.WAITING
    )
    state = queue.queue_state(session=session, settings=settings, now=now)
    return audit_and_render(
        request,
        "dashboard/arrivals.html",
        {
            **queue_ops.arrivals_context(session=session, settings=settings, now=now),
            "arrivals": arrivals,
            "counts": counts,
            "estimated_wait": state.estimated_wait_minutes,
            "status_actions": queries.STATUS_ACTIONS,
        },
        session=session,
        staff=staff,
        active="arrivals",
    )


# Same shape as the other dashboard action handlers in this file (look up, change, audit, back):
# kept apart as each has its own fields.
@router.post("/dashboard/arrivals/{arrival_id}/status")
def set_arrival_status(
    arrival_id: uuid.UUID,
    new_status: Annotated[ArrivalStatus, Form(alias="status")],
    session: SessionDep,
    staff: CurrentStaff,
    _csrf: CsrfProtected,
    room: Annotated[str | None, Form(max_length=200)] = None,
) -> RedirectResponse:
    """Mark a patient called in (to a room), seen, no-show or back to waiting."""
    arrival = queries.set_arrival_status(arrival_id, new_status, session=session, now=utcnow())
    if arrival is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such arrival")
    if new_status == ArrivalStatus.CALLED_IN:
        arrival.room = queue_ops.room_or_422(room)
    audit(
        session=session,
        action="arrival.status",
        user=staff,
        target=f"arrival:{arrival_id}",
        details={"status": new_status.value},
    )
    return _back("/dashboard/arrivals", "status")


# ---------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------
@router.get("/dashboard/questions")
def questions_page(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    view: Annotated[str, Query(pattern="^(open|done)$")] = "open",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """Show the question inbox: emergencies first, then the oldest unanswered."""
    rows, more = queries.question_page(session=session, done=view == "done", page=page)
    questions = [
        {
            "id": q.id,
            "text": q.text,
            "emergency_flag": q.emergency,
            "asked_at": q.asked_at,
            "language": q.language,
            "answer": q.answer,
            "contact": ", ".join(
                v for v in (q.contact_name, q.contact_phone, q.contact_email) if v
            ),
        }
        for q in rows
    ]
    base = f"/dashboard/questions?view={view}&page="
    pager = {
        "page": page,
        "prev_url": f"{base}{page - 1}" if page > 1 else None,
        "next_url": f"{base}{page + 1}" if more else None,
    }
    return audit_and_render(
        request,
        "dashboard/questions.html",
        {"questions": questions, "view": view, "pager": pager},
        session=session,
        staff=staff,
        active="questions",
    )


# Same shape as the other dashboard action handlers in this file (look up, change, audit, back):
# kept apart as each has its own fields.
@router.post("/dashboard/questions/{question_id}/answer")
def answer_question(
    question_id: uuid.UUID,
    answer: Annotated[str, Form(min_length=1, max_length=MAX_ANSWER_CHARS)],
    session: SessionDep,
    staff: CurrentStaff,
    _csrf: CsrfProtected,
    done: Annotated[str, Form()] = "0",
) -> RedirectResponse:
    """Save the staff answer shown on the patient's follow-up page."""
    question = session.get(Question, question_id)
    if question is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such question")
    text = answer.strip()
    if not text:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the answer is empty")
    now = utcnow()
    question.answer = text
    question.answered_at = now
    question.answered_by_id = staff.id
    if done == "1":
        question.done = True
        question.done_at = now
    ehr_queue.question_answered(session=session, question_id=question.id, now=now)
    # The answer's text stays in its table; the log says who answered which question.
    audit(session=session, action="question.answer", user=staff, target=f"question:{question_id}")
    return _back("/dashboard/questions", "answered")


@router.post("/dashboard/questions/{question_id}/done")
def mark_question_done(
    question_id: uuid.UUID, session: SessionDep, staff: CurrentStaff, _csrf: CsrfProtected
) -> RedirectResponse:
    """Move a question out of the open inbox."""
    question = session.get(Question, question_id)
    if question is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such question")
    question.done = True
    question.done_at = utcnow()
    audit(session=session, action="question.done", user=staff, target=f"question:{question_id}")
    return _back("/dashboard/questions", "done")


# ---------------------------------------------------------------------------------------
# Feedback
# ---------------------------------------------------------------------------------------
def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"not a date (YYYY-MM-DD): {value[:20]!r}"
        ) from None


def parse_feedback_filter(
    params: Any, today: date
) -> tuple[queries.FeedbackFilter, dict[str, str]]:
    """Turn the feedback page's query string into a filter (422 on nonsense)."""
    date_to = _parse_date(params.get("date_to")) or today
    date_from = _parse_date(params.get("date_from")) or date_to - timedelta(
        days=queries.DEFAULT_CHART_DAYS - 1
    )
    if date_from > date_to:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' is after 'to'")
    if (date_to - date_from).days >= queries.MAX_CHART_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"choose at most {queries.MAX_CHART_DAYS} days",
        )
    raw = {k: params.get(k, "") for k in ("kiosk", "face", "has_comment", "state")}
    flt = queries.FeedbackFilter(date_from=date_from, date_to=date_to)
    if raw["kiosk"]:
        try:
            flt.kiosk = uuid.UUID(raw["kiosk"])
        except ValueError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown kiosk") from None
    if raw["face"] not in FACE_FILTERS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "face must be 1-5 or unhappy")
    flt.face = raw["face"]
    for dim, _label in queries.DIMENSIONS:
        value = params.get(dim, "")
        raw[dim] = value
        if value:
            if value not in ("1", "2", "3", "4", "5"):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{dim} must be 1-5")
            flt.dims[dim] = int(value)
    if raw["has_comment"] not in ("", "0", "1"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "has_comment must be 0 or 1")
    flt.has_comment = None if raw["has_comment"] == "" else raw["has_comment"] == "1"
    if raw["state"] and raw["state"] not in set(ReviewState):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown review state")
    flt.state = raw["state"]
    raw["date_from"] = date_from.isoformat()
    raw["date_to"] = date_to.isoformat()
    return flt, raw


def _charts(days: list[queries.DailyStats], flt: queries.FeedbackFilter) -> list[Any]:
    """Build the feedback charts: one point per day of the range."""
    span = (flt.date_to - flt.date_from).days + 1
    all_days = [flt.date_from + timedelta(days=i) for i in range(span)]
    by_day = {d.day: d for d in days}
    labels = [d.strftime("%d %b") for d in all_days]

    def per_day(fn: Any) -> list[float | None]:
        return [fn(by_day[d]) if d in by_day else None for d in all_days]

    average = per_day(lambda d: d.face_sum / d.responses if d.responses else None)
    unhappy = per_day(lambda d: d.unhappy / d.responses if d.responses else None)
    nps = per_day(lambda d: net_promoter_score(d.promoters, d.detractors, d.recommend_answers))
    return [
        line_chart(
            title="Average face score and share unhappy, per day",
            labels=labels,
            series=[Series("Average face (1-5)", average)],
            bars=Series("Unhappy share", unhappy),
            y_min=1,
            y_max=5,
            y_ticks=[1, 2, 3, 4, 5],
        ),
        line_chart(
            title="Would recommend (NPS), per day",
            labels=labels,
            series=[Series("NPS", nps)],
            y_min=-100,
            y_max=100,
            y_ticks=[-100, -50, 0, 50, 100],
        ),
        line_chart(
            title="Each dimension over time (average, 1-5)",
            labels=labels,
            series=[
                Series(label, per_day(lambda d, dim=dim: d.dim_avgs.get(dim)))
                for dim, label in queries.DIMENSIONS
            ],
            y_min=1,
            y_max=5,
            y_ticks=[1, 2, 3, 4, 5],
        ),
    ]


def _summary(days: list[queries.DailyStats]) -> dict[str, str]:
    responses = sum(d.responses for d in days)
    answers = sum(d.recommend_answers for d in days)
    if not responses:
        return {"responses": "0", "average_face": "–", "unhappy_share": "–", "nps": "–"}
    score = net_promoter_score(
        sum(d.promoters for d in days), sum(d.detractors for d in days), answers
    )
    nps = "–" if score is None else f"{score:+.0f}"
    return {
        "responses": f"{responses:,}",
        "average_face": f"{sum(d.face_sum for d in days) / responses:.2f}",
        "unhappy_share": f"{sum(d.unhappy for d in days) / responses:.0%}",
        "nps": nps,
    }


@router.get("/dashboard/feedback")
def feedback_page(
    request: Request, session: SessionDep, staff: CurrentStaff, settings: SettingsDep
) -> Response:
    """List feedback with filters, charts and review states."""
    today = utcnow().astimezone(settings.tz).date()
    flt, raw = parse_feedback_filter(request.query_params, today)
    before = None
    if request.query_params.get("before"):
        try:
            at_text, id_text = request.query_params["before"].split("|", 1)
            before = (datetime.fromisoformat(at_text), uuid.UUID(id_text))
        except ValueError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "bad page key") from None
    ratings, next_key = queries.rating_page(flt, session=session, tz=settings.tz, before=before)
    days = queries.daily_stats(
        flt,
        session=session,
        tz=settings.tz,
        db=request.app.state.db,
        now=utcnow(),
        refresh=False,
    )
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("before", "ok")]
    from urllib.parse import urlencode

    pager = {
        "page": "of older responses" if before else 1,
        "prev_label": "Newest",
        "next_label": "Older",
        "prev_url": "/dashboard/feedback?" + urlencode(query) if before else None,
        "next_url": (
            "/dashboard/feedback?"
            + urlencode(query + [("before", f"{next_key[0].isoformat()}|{next_key[1]}")])
            if next_key
            else None
        ),
    }
    kiosk_rows = session.query(Kiosk.id, Kiosk.name).order_by(Kiosk.name).all()
    return audit_and_render(
        request,
        "dashboard/feedback.html",
        {
            "f": raw,
            "kiosks": kiosk_rows,
            "face_options": FACE_OPTIONS,
            "face_icons": FACE_ICONS,
            "dimensions": queries.DIMENSIONS,
            "review_states": [s.value for s in ReviewState],
            "ratings": ratings,
            "charts": _charts(days, flt),
            "summary": _summary(days),
            "range_label": f"{flt.date_from:%d %b %Y} – {flt.date_to:%d %b %Y}",
            "chart_note": (
                "kiosk and face filters apply; the other filters narrow the list below"
                if flt.dims or flt.has_comment is not None or flt.state
                else ""
            ),
            "pager": pager,
        },
        session=session,
        staff=staff,
        active="feedback",
    )


# Same shape as the other dashboard action handlers in this file (look up, change, audit, back):
# kept apart as each has its own fields.
@router.post("/dashboard/feedback/{rating_id}/review")
def review_feedback(
    rating_id: uuid.UUID,
    state: Annotated[ReviewState, Form()],
    session: SessionDep,
    staff: CurrentStaff,
    _csrf: CsrfProtected,
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
    next_path: Annotated[str, Form(alias="next")] = "",
) -> RedirectResponse:
    """Set a response's review state (new, acknowledged, closed) and staff note."""
    done = queries.review_rating(
        rating_id, state, note.strip(), session=session, staff_id=staff.id, now=utcnow()
    )
    if done is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such feedback")
    audit(
        session=session,
        action="feedback.review",
        user=staff,
        target=f"rating:{rating_id}",
        details={"state": state.value},
    )
    return _back(_safe_next(next_path, "/dashboard/feedback"), "reviewed")


@router.post("/dashboard/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: int,
    session: SessionDep,
    staff: CurrentStaff,
    _csrf: CsrfProtected,
    next_path: Annotated[str, Form(alias="next")] = "",
) -> RedirectResponse:
    """Acknowledge an unhappy-feedback alert so it leaves every page's banner."""
    if queries.acknowledge_alert(alert_id, session=session, staff_id=staff.id, now=utcnow()):
        audit(session=session, action="alert.acknowledge", user=staff, target=f"alert:{alert_id}")
    return _back(_safe_next(next_path, "/dashboard/feedback"), "acknowledged")


# ---------------------------------------------------------------------------------------
# Kiosks
# ---------------------------------------------------------------------------------------
SILENT_AFTER = timedelta(minutes=10)


@router.get("/dashboard/kiosks")
def kiosks_page(request: Request, session: SessionDep, staff: CurrentStaff) -> Response:
    """Show each kiosk's last contact, version, backlog, failures, crashes and clock."""
    now = utcnow()
    kiosk_rows = [
        {
            "id": k.id,
            "name": k.name,
            "last_seen_at": k.last_seen_at,
            "stale": k.revoked_at is None
            and k.last_seen_at is not None
            and now - k.last_seen_at > SILENT_AFTER,
            "app_version": k.app_version,
            "backlog": k.backlog,
            "failed": k.failed,
            "last_error": k.last_error,
            "crash_count": k.crash_count,
            "last_crash_at": k.last_crash_at,
            "clock_problem": k.clock_problem,
            "clock_skew_minutes": (
                None if k.clock_skew_seconds is None else round(k.clock_skew_seconds / 60)
            ),
            "revoked": k.revoked_at is not None,
        }
        for k in session.query(Kiosk).order_by(Kiosk.revoked_at.is_not(None), Kiosk.name).all()
    ]
    return audit_and_render(
        request,
        "dashboard/kiosks.html",
        {"kiosks": kiosk_rows, "ehr_link": ehr_panel.panel_context(request, session)},
        session=session,
        staff=staff,
        active="kiosks",
    )


@router.post("/dashboard/kiosks/{kiosk_id}/revoke")
def revoke_kiosk(
    kiosk_id: uuid.UUID, session: SessionDep, admin: CurrentAdmin, _csrf: CsrfProtected
) -> RedirectResponse:
    """Revoke a kiosk: its token stops working at once."""
    kiosk = kiosks.revoke_kiosk(session=session, kiosk_id=kiosk_id)
    if kiosk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such kiosk")
    audit(session=session, action="kiosk.revoke", user=admin, target=f"kiosk:{kiosk.id}")
    return _back("/dashboard/kiosks", "revoked")
