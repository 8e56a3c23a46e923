"""Admin pages: exports, pairing codes, appointment import, alert rule, clinic, staff, FAQ."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import select
from starlette.responses import Response

from clinic import accounts, alert_settings, appointments, kiosks
from clinic.accounts import AccountError, create_user
from clinic.audit import audit
from clinic.dashboard import queries
from clinic.dashboard.csvsafe import csv_rows
from clinic.dashboard.web import audit_and_render
from clinic.deps import CsrfProtected, CurrentAdmin, SessionDep, SettingsDep
from clinic.ehr import admin as ehr_admin
from clinic.followup.models import FollowUpResponse, ResponseKind
from clinic.models import (
    ClinicConfig,
    FaqEntryRow,
    Kiosk,
    Question,
    Rating,
    StaffRole,
    StaffUser,
    utcnow,
)
from clinic.routers.admin import MAX_CSV_BYTES
from sync.rules import RATING_DIMENSIONS, RECOMMEND_DIMENSION

router = APIRouter(include_in_schema=False)

LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
EXPORT_DEFAULT_DAYS = 30
EXPORT_MAX_DAYS = 366


def _back(ok: str) -> RedirectResponse:
    return RedirectResponse(f"/dashboard/admin?ok={ok}", status_code=status.HTTP_303_SEE_OTHER)


def _admin_page(
    request: Request,
    session: Any,
    admin: StaffUser,
    settings: Any,
    *,
    error: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    today = utcnow().astimezone(settings.tz).date()
    config = ClinicConfig.of(session)
    clinic = {
        "name": config.name,
        "phone": config.phone,
        "address": config.address,
        "languages": config.languages,
        "default_language": config.default_language,
    }
    context = {
        "pairing_code": None,
        "pairing_minutes": settings.pairing_code_minutes,
        "import_report": None,
        "export_from": (today - timedelta(days=EXPORT_DEFAULT_DAYS - 1)).isoformat(),
        "export_to": today.isoformat(),
        "csv_columns": "ref, first_name, last_name, date_of_birth, phone, starts_at, clinician",
        "rule": queries.alert_rule(session=session),
        "alert_minutes": _alert_minutes_view(session, settings),
        "clinic": clinic,
        "staff_users": session.scalars(select(StaffUser).order_by(StaffUser.username)).all(),
        "failed_sign_ins": accounts.recent_failures(
            session=session, settings=settings, now=utcnow()
        ),
        "login_window_minutes": max(1, settings.login_window_seconds // 60),
        "min_password_chars": accounts.MIN_PASSWORD_CHARS,
        "temporary_password": None,
        "admin_id": admin.id,
        "faq": session.scalars(
            select(FaqEntryRow).order_by(FaqEntryRow.language, FaqEntryRow.position)
        ).all(),
        "error": error,
        "ehr_admin": ehr_admin.context(request, session),
    }
    context.update(extra)
    return audit_and_render(
        request,
        "dashboard/admin.html",
        context,
        session=session,
        staff=admin,
        active="admin",
        status_code=status_code,
    )


@router.get("/dashboard/admin")
def admin_page(
    request: Request, session: SessionDep, admin: CurrentAdmin, settings: SettingsDep
) -> Response:
    """Show the admin page (exports, pairing, import, settings, staff, FAQ)."""
    return _admin_page(request, session, admin, settings)


# Same shape as create_display_code in clinic/dashboard/queue_ops.py: kept apart as each
# issues its own kind of code and renders its own page.
@router.post("/dashboard/admin/pairing-codes")
def create_pairing_code(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
) -> Response:
    """Create a one-time pairing code and show it once."""
    code, row = kiosks.create_pairing_code(session=session, settings=settings, created_by=admin)
    audit(session=session, action="pairing_code.create", user=admin, target=f"pairing:{row.id}")
    response = _admin_page(request, session, admin, settings, pairing_code=code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/dashboard/admin/appointments/import", max_body_size=MAX_CSV_BYTES)
async def import_appointments(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    file: UploadFile,
) -> Response:
    """Import appointments from an uploaded CSV (bad rows listed, good rows kept)."""
    raw = await file.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "CSV file too large")
    try:
        report = appointments.import_appointments_csv(session=session, data=raw, tz=settings.tz)
    except appointments.CsvFormatError as exc:
        return _admin_page(
            request,
            session,
            admin,
            settings,
            error=f"The file cannot be read: {exc}",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    audit(
        session=session,
        action="appointments.import",
        user=admin,
        details=report.audit_details(),
    )
    view = {
        "imported": report.created + report.updated,
        "errors": [
            f"line {e.row}" + (f", {e.column}" if e.column else "") + f": {e.message}"
            for e in report.errors
        ],
    }
    return _admin_page(request, session, admin, settings, import_report=view)


# Same shape as the other admin form handlers in this file: kept apart as each has its own fields.
@router.post("/dashboard/admin/alert-rule")
def save_alert_rule(
    session: SessionDep,
    admin: CurrentAdmin,
    _csrf: CsrfProtected,
    window_minutes: Annotated[int, Form(ge=1, le=1440)],
    min_responses: Annotated[int, Form(ge=1, le=1000)],
    unhappy_percent: Annotated[int, Form(ge=1, le=100)],
) -> RedirectResponse:
    """Change when unhappy feedback raises an alert."""
    config = ClinicConfig.of(session)
    config.alert_window_minutes = window_minutes
    config.alert_min_responses = min_responses
    config.alert_unhappy_share = unhappy_percent / 100
    audit(
        session=session,
        action="settings.alert_rule",
        user=admin,
        details={
            "window_minutes": window_minutes,
            "min_responses": min_responses,
            "unhappy_percent": unhappy_percent,
        },
    )
    return _back("rule")


def _alert_minutes_view(
    session: Any,
    settings: Any,
    submitted: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return what the admin page's alert-times form shows (values, errors, defaults)."""
    current = alert_settings.effective(session=session, settings=settings)
    defaults = alert_settings.from_settings(settings)
    return {
        "fields": [
            {
                "name": f.name,
                "label": f"{f.label} after (minutes)",
                "value": submitted.get(f.name, "")
                if submitted is not None
                else getattr(current, f.name),
                "minimum": f.minimum,
                "server_default": getattr(defaults, f.name),
                "error": (errors or {}).get(f.name, ""),
            }
            for f in alert_settings.FIELDS
        ],
        "max_minutes": alert_settings.MAX_MINUTES,
        "overridden": alert_settings.overridden(ClinicConfig.of(session)),
    }


@router.post("/dashboard/admin/alert-minutes")
def save_alert_minutes(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    question_unanswered: Annotated[str, Form()] = "",
    patient_waiting: Annotated[str, Form()] = "",
    kiosk_silent: Annotated[str, Form()] = "",
    use_server_settings: Annotated[str, Form()] = "",
) -> Response:
    """Change after how many minutes the timed alert rules fire (0 turns a rule off)."""
    config = ClinicConfig.of(session)
    if use_server_settings:
        alert_settings.save(config, None)
        audit(session=session, action="settings.alert_minutes_reset", user=admin)
        return _back("alert-minutes-reset")
    submitted = {
        "question_unanswered": question_unanswered,
        "patient_waiting": patient_waiting,
        "kiosk_silent": kiosk_silent,
    }
    minutes, errors = alert_settings.parse(submitted)
    if minutes is None:
        return _admin_page(
            request,
            session,
            admin,
            settings,
            error="The alert times were not saved: "
            + " ".join(errors[f.name] for f in alert_settings.FIELDS if f.name in errors),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            alert_minutes=_alert_minutes_view(session, settings, submitted, errors),
        )
    before = alert_settings.effective(session=session, settings=settings)
    alert_settings.save(config, minutes)
    audit(
        session=session,
        action="settings.alert_minutes",
        user=admin,
        details={
            "question_unanswered_minutes": minutes.question_unanswered,
            "patient_waiting_minutes": minutes.patient_waiting,
            "kiosk_silent_minutes": minutes.kiosk_silent,
            "before": {
                "question_unanswered_minutes": before.question_unanswered,
                "patient_waiting_minutes": before.patient_waiting,
                "kiosk_silent_minutes": before.kiosk_silent,
            },
        },
    )
    return _back("alert-minutes")


# Same shape as the other admin form handlers in this file: kept apart as each has its own fields.
@router.post("/dashboard/admin/clinic")
def save_clinic(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    name: Annotated[str, Form(min_length=1, max_length=120)],
    languages: Annotated[str, Form(min_length=2, max_length=200)],
    default_language: Annotated[str, Form(min_length=2, max_length=8)],
    phone: Annotated[str, Form(max_length=32)] = "",
    address: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Save the clinic's name, contact details and kiosk languages."""
    codes = [c.strip() for c in languages.split(",") if c.strip()]
    bad = [c for c in codes if not LANGUAGE_RE.fullmatch(c)]
    if bad or not codes or default_language not in codes:
        return _admin_page(
            request,
            session,
            admin,
            settings,
            error="Languages must be codes like en, es or pt_BR, and include the default.",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    config = ClinicConfig.of(session)
    config.name = name.strip()
    config.phone = phone.strip() or None
    config.address = address.strip() or None
    config.languages = codes
    config.default_language = default_language
    audit(session=session, action="settings.clinic", user=admin)
    return _back("clinic")


# Same shape as the other admin form handlers in this file: kept apart as each has its own fields.
@router.post("/dashboard/admin/staff")
def add_staff_user(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[StaffRole, Form()] = StaffRole.STAFF,
) -> Response:
    """Add a staff or admin account."""
    try:
        user = create_user(session=session, username=username, password=password, role=role)
    except AccountError as exc:
        return _admin_page(
            request,
            session,
            admin,
            settings,
            error=str(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    audit(
        session=session,
        action="staff.create",
        user=admin,
        target=f"staff:{user.id}",
        details={"role": str(role)},
    )
    return _back("staff")


STAFF_ACTIONS = ("disable", "enable", "end-sessions", "unlock", "reset-totp", "reset-password")


@router.post("/dashboard/admin/staff/{user_id}/{action}")
def staff_action(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    user_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    action: Annotated[str, Path(max_length=32)],
) -> Response:
    """Disable, enable, end sessions of, unlock, reset the password or TOTP of an account."""
    if action not in STAFF_ACTIONS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such action")
    user = session.get(StaffUser, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    if user.id == admin.id and action in ("disable", "reset-password", "reset-totp"):
        return _admin_page(
            request,
            session,
            admin,
            settings,
            error="Change your own account on the My account page; another admin can reset it.",
            status_code=status.HTTP_409_CONFLICT,
        )
    details: dict[str, Any] = {}
    temporary: str | None = None
    try:
        if action == "disable":
            accounts.disable_user(session=session, user=user)
        elif action == "enable":
            accounts.enable_user(session=session, user=user)
        elif action == "end-sessions":
            details["sessions"] = accounts.end_user_sessions(session=session, user=user)
        elif action == "unlock":
            details["failures_forgotten"] = accounts.unlock(session=session, username=user.username)
        elif action == "reset-totp":
            accounts.remove_totp(session=session, user=user)
        else:
            temporary = accounts.reset_password(session=session, user=user)
    except AccountError as exc:
        return _admin_page(
            request, session, admin, settings, error=str(exc), status_code=status.HTTP_409_CONFLICT
        )
    audit(
        session=session,
        action=f"staff.{action.replace('-', '_')}",
        user=admin,
        target=f"staff:{user.id}",
        details=details or None,
    )
    if temporary is not None:
        response = _admin_page(
            request,
            session,
            admin,
            settings,
            temporary_password={"username": user.username, "password": temporary},
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    notice = {
        "disable": "staff-disabled",
        "enable": "staff-enabled",
        "end-sessions": "staff-sessions",
        "unlock": "staff-unlocked",
        "reset-totp": "staff-totp",
    }[action]
    return _back(notice)


# Same shape as the other admin form handlers in this file: kept apart as each has its own fields.
@router.post("/dashboard/admin/faq")
def add_faq(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    language: Annotated[str, Form(min_length=2, max_length=8)],
    question: Annotated[str, Form(min_length=1, max_length=200)],
    answer: Annotated[str, Form(min_length=1, max_length=2000)],
    position: Annotated[int, Form(ge=0, le=10_000)] = 0,
) -> Response:
    """Add an FAQ entry shown on the kiosks."""
    if not LANGUAGE_RE.fullmatch(language):
        return _admin_page(
            request,
            session,
            admin,
            settings,
            error="Language must be a code like en or es.",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    session.add(
        FaqEntryRow(
            language=language, question=question.strip(), answer=answer.strip(), position=position
        )
    )
    audit(session=session, action="faq.create", user=admin)
    return _back("faq")


# Same shape as the other admin form handlers in this file: kept apart as each has its own fields.
@router.post("/dashboard/admin/faq/{entry_id}/delete")
def delete_faq(
    entry_id: str,
    session: SessionDep,
    admin: CurrentAdmin,
    _csrf: CsrfProtected,
) -> RedirectResponse:
    """Remove an FAQ entry."""
    entry = session.get(FaqEntryRow, entry_id)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such FAQ entry")
    session.delete(entry)
    audit(session=session, action="faq.delete", user=admin, target=f"faq:{entry_id}")
    return _back("faq")


# ---------------------------------------------------------------------------------------
# CSV exports (streamed; each one written to the audit log first)
# ---------------------------------------------------------------------------------------
def _export_range(date_from: str, date_to: str, today: date) -> tuple[date, date]:
    try:
        end = date.fromisoformat(date_to) if date_to else today
        start = (
            date.fromisoformat(date_from)
            if date_from
            else end - timedelta(days=EXPORT_DEFAULT_DAYS - 1)
        )
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "dates must be YYYY-MM-DD"
        ) from None
    if start > end or (end - start).days >= EXPORT_MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"choose a range of 1 to {EXPORT_MAX_DAYS} days, 'from' before 'to'",
        )
    return start, end


@dataclass(frozen=True)
class _Window:
    """An export's first and last clinic day and their UTC bounds (lo inclusive, hi not)."""

    start: date
    end: date
    lo: datetime
    hi: datetime


def _export_window(
    settings: SettingsDep,
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
) -> _Window:
    """Read an export's date range from the query (a dependency of every CSV export)."""
    start, end = _export_range(date_from, date_to, utcnow().astimezone(settings.tz).date())
    lo, _ = queries.day_bounds(start, settings.tz)
    _, hi = queries.day_bounds(end, settings.tz)
    return _Window(start, end, lo, hi)


ExportWindow = Annotated[_Window, Depends(_export_window)]


def _rows_between(session: Any, stamp: Any, window: _Window) -> Any:
    """Return the rows of stamp's table stamped within the window, oldest first, in chunks."""
    model = stamp.class_
    return session.execute(
        select(model)
        .where(stamp >= window.lo, stamp < window.hi)
        .order_by(stamp, model.id)
        .execution_options(yield_per=1000)
    ).scalars()


def _export(
    request: Request,
    admin: StaffUser,
    what: str,
    window: _Window,
    rows: Callable[[Any], Iterator[list[Any]]],
    header: list[str],
) -> StreamingResponse:
    """Audit an export, then stream rows(session) as CSV, read in one reader session."""
    start, end = window.start.isoformat(), window.end.isoformat()
    db = request.app.state.db

    def read() -> Iterator[list[Any]]:
        with db.reader() as session:
            yield from rows(session)

    with db.writer.begin() as writer:
        audit(
            session=writer,
            action=f"export.{what}",
            user=admin,
            details={"from": start, "to": end},
        )
    filename = f"{what}-{start}-{end}.csv"
    return StreamingResponse(
        csv_rows(header, read()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


FEEDBACK_HEADER = [
    "id",
    "rated_at",
    "kiosk",
    "language",
    "face",
    *RATING_DIMENSIONS,
    RECOMMEND_DIMENSION,
    "comment",
    "consent_to_contact",
    "contact_phone",
    "review_state",
    "staff_note",
    "phone_survey",
    "callback_phone",
]


# Same shape as export_questions: one route a CSV (own header, query, rows); shared steps are
# _export_window, _rows_between and _export.
@router.get("/dashboard/admin/export/feedback.csv")
def export_feedback(
    request: Request, admin: CurrentAdmin, window: ExportWindow
) -> StreamingResponse:
    """Download feedback in a date range as CSV."""

    def rows(session: Any) -> Iterator[list[Any]]:
        kiosks = dict(session.execute(select(Kiosk.id, Kiosk.name)).all())
        for chunk in _rows_between(session, Rating.rated_at, window).partitions():
            extra: dict[tuple[uuid.UUID, str], FollowUpResponse] = {
                (r.rating_id, r.kind): r
                for r in session.scalars(
                    select(FollowUpResponse).where(
                        FollowUpResponse.rating_id.in_([x.id for x in chunk])
                    )
                )
            }
            for r in chunk:
                survey = extra.get((r.id, ResponseKind.SURVEY))
                callback = extra.get((r.id, ResponseKind.CALLBACK))
                yield [
                    r.id,
                    r.rated_at,
                    kiosks.get(r.kiosk_id, "") if r.kiosk_id else "",
                    r.language,
                    r.face,
                    *(getattr(r, name) for name in RATING_DIMENSIONS),
                    r.would_recommend,
                    r.comment,
                    r.consent_to_contact,
                    r.contact_phone,
                    r.review_state,
                    r.staff_note,
                    _survey_text(survey.answers if survey else None),
                    callback.phone if callback else None,
                ]

    return _export(request, admin, "feedback", window, rows, FEEDBACK_HEADER)


def _survey_text(answers: dict[str, Any] | None) -> str | None:
    if not answers:
        return None
    return "; ".join(f"{k}={v}" for k, v in answers.items())


QUESTIONS_HEADER = [
    "id",
    "asked_at",
    "language",
    "emergency",
    "text",
    "contact_name",
    "contact_phone",
    "contact_email",
    "answer",
    "answered_at",
    "done",
    "done_at",
]


# Same shape as export_feedback (see there).
@router.get("/dashboard/admin/export/questions.csv")
def export_questions(
    request: Request, admin: CurrentAdmin, window: ExportWindow
) -> StreamingResponse:
    """Download questions in a date range as CSV."""

    def rows(session: Any) -> Iterator[list[Any]]:
        for q in _rows_between(session, Question.asked_at, window):
            yield [
                q.id,
                q.asked_at,
                q.language,
                q.emergency,
                q.text,
                q.contact_name,
                q.contact_phone,
                q.contact_email,
                q.answer,
                q.answered_at,
                q.done,
                q.done_at,
            ]

    return _export(request, admin, "questions", window, rows, QUESTIONS_HEADER)
