"""Rendering helpers shared by the dashboard pages: context, filters, alerts banner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.responses import Response

from clinic.audit import audit
from clinic.dashboard import queries
from clinic.models import ClinicConfig, StaffUser
from clinic.templating import CONTENT_SECURITY_POLICY, templates

NAV = (
    ("arrivals", "Arrivals", "/dashboard/arrivals"),
    ("questions", "Questions", "/dashboard/questions"),
    ("feedback", "Feedback", "/dashboard/feedback"),
    ("kiosks", "Kiosks", "/dashboard/kiosks"),
)
ADMIN_NAV = (
    ("admin", "Admin", "/dashboard/admin"),
    ("displays", "Displays", "/dashboard/displays"),
)
#: Per page: the live event kinds (clinic/live.py) that change what it shows.
LIVE_KINDS = {
    "arrivals": ("arrival", "queue", "alert"),
    "questions": ("question", "alert"),
    "feedback": ("rating", "alert"),
    "kiosks": ("kiosk", "alert"),
}
LOGOUT_PATH = "/logout"

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}

#: Fixed texts for ?ok=... after a redirect (never echo free text from the URL).
NOTICES = {
    "status": "Status saved.",
    "answered": "Answer saved: the patient sees it on their phone.",
    "done": "Question marked done.",
    "reviewed": "Review saved.",
    "acknowledged": "Alert acknowledged.",
    "revoked": "Kiosk revoked: its token no longer works.",
    "clinic": "Clinic details saved.",
    "staff": "Staff user added.",
    "staff-disabled": "Account disabled: its sessions ended.",
    "staff-enabled": "Account enabled.",
    "staff-sessions": "All sessions of that account ended.",
    "staff-unlocked": "Failed sign-ins of that account forgotten.",
    "staff-totp": "Two-step sign-in turned off for that account.",
    "password": "Password changed. Your other sessions ended.",
    "totp-off": "Two-step sign-in turned off.",
    "faq": "FAQ saved.",
    "rule": "Alert rule saved.",
    "alert-minutes": "Alert times saved: every server process uses them from now on.",
    "alert-minutes-reset": "Alert times reset: the server's settings apply again.",
}


def _local(ctx: Any, dt: datetime | None) -> datetime | None:
    tz = ctx.get("tz") or UTC
    return dt.astimezone(tz) if dt is not None else None


@pass_context
def _clock(ctx: Any, dt: datetime | None) -> str:
    local = _local(ctx, dt)
    return local.strftime("%H:%M") if local else ""


@pass_context
def _datetime(ctx: Any, dt: datetime | None) -> str:
    local = _local(ctx, dt)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


# Registered on the shared environment under names no other template uses.
templates.env.filters.setdefault("clock", _clock)
templates.env.filters.setdefault("datetime", _datetime)
templates.env.filters.setdefault("iso", lambda dt: dt.isoformat() if dt else "")


@pass_context
def _localdate(ctx: Any, dt: datetime | None) -> str:
    local = _local(ctx, dt)
    return local.date().isoformat() if local else ""


templates.env.filters.setdefault("localdate", _localdate)


def csrf_field_for(token: str) -> Any:
    """Return a template callable rendering the hidden CSRF input."""

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token))

    return csrf_field


def audit_and_render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: Session,
    staff: StaffUser,
    active: str,
    status_code: int = 200,
) -> Response:
    """Record a GET of a page in the audit log, then render it with navigation and alerts.

    Not a pure renderer: a page view of patient data writes its audit row first.
    """
    alerts = queries.open_alerts(session=session)
    if request.method == "GET":
        # Staff views of patient data go to the append-only audit log (own short write:
        # this request's transaction is a reader).
        with request.app.state.db.writer.begin() as writer:
            audit(
                session=writer,
                action=f"view.{active}",
                user=staff,
                target=request.url.path,
            )
    staff_session = getattr(request.state, "staff_session", None)
    token = staff_session.csrf_token if staff_session is not None else ""
    clinic_name = ClinicConfig.of(session).name
    # The shared context processor reads the clinic name from request.state (it wins over
    # the context given here).
    request.state.clinic_name = clinic_name
    ok = request.query_params.get("ok", "")
    base = {
        "tz": request.app.state.settings.tz,
        "nav": NAV + (ADMIN_NAV if staff.is_admin else ()),
        "active": active,
        "staff_name": staff.display_name or staff.username,
        "is_admin": staff.is_admin,
        "logout_path": LOGOUT_PATH,
        "open_alerts": alerts,
        # Live events after which the open page fetches itself again (dashboard.js).
        "live_kinds": " ".join(LIVE_KINDS.get(active, ("alert",))),
        "csrf_field": csrf_field_for(token),
        "request_path": request.url.path,
        "request_url": str(request.url.path)
        + (f"?{request.url.query}" if request.url.query else ""),
        "notice": NOTICES.get(ok),
        "error": None,
        "clinic_name": clinic_name,
        "pager": None,
    }
    base.update(context)
    return templates.TemplateResponse(
        request, template, base, status_code=status_code, headers=SECURITY_HEADERS
    )
