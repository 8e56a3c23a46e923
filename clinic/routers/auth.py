"""Staff login and logout pages, and the session info endpoint for scripts."""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from clinic.accounts import (
    authenticate,
    clean_username,
    end_session,
    start_session,
    verify_second_factor,
)
from clinic.audit import audit
from clinic.deps import (
    SESSION_COOKIE,
    CsrfProtected,
    CurrentStaffSession,
    SessionDep,
    SettingsDep,
)
from clinic.models import StaffSession, StaffUser, utcnow
from clinic.security import (
    hash_token,
    login_csrf_token_valid,
    new_login_csrf_token,
    retry_after_header,
)
from clinic.templating import templates

router = APIRouter(tags=["staff auth"])

LOGIN_CSRF_COOKIE = "clinic_login_csrf"


SECOND_FACTOR_PATH = "/login/second-factor"


def client_address(request: Request) -> str:
    """Return the client's address (X-Forwarded-For counts only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def _secure(request: Request, settings: SettingsDep) -> bool:
    """Return whether cookies get the Secure flag: configured, or the request came by HTTPS."""
    return settings.secure_cookies or request.url.scheme == "https"


def safe_next(next_url: str | None) -> str:
    """Return a local path to go to after login (never another site)."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return "/"


#: What a sign-in step says when its form's CSRF token is missing, wrong or stale.
FORM_EXPIRED = "Your sign-in form expired. Please try again."


def _too_many_attempts(retry_after: float) -> dict[str, Any]:
    """Return the error, status and Retry-After of a sign-in step refused for a while."""
    minutes = max(1, round(retry_after / 60))
    return {
        "error": f"Too many sign-in attempts. Try again in about {minutes} minute(s).",
        "status_code": status.HTTP_429_TOO_MANY_REQUESTS,
        "headers": {"Retry-After": retry_after_header(retry_after)},
    }


#: The sign-in page must not be framed (clickjacking) or cached, nor leak its URL onwards.
LOGIN_PAGE_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


def _login_page(
    request: Request,
    *,
    settings: SettingsDep,
    error: str | None = None,
    username: str = "",
    next_url: str = "/",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not login_csrf_token_valid(settings.secret_key, token):
        token = new_login_csrf_token(settings.secret_key)
    request.state.csrf_token = token
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"error": error, "username": username, "next_url": next_url},
        status_code=status_code,
        headers={**LOGIN_PAGE_HEADERS, **(headers or {})},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    """Show the staff sign-in form."""
    return _login_page(request, settings=settings, next_url=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check credentials (rate-limited per account and address) and start a session."""
    next_url = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if (
        not csrf_token
        or not hmac.compare_digest(expected.encode(), csrf_token.encode())
        or not login_csrf_token_valid(settings.secret_key, csrf_token)
    ):
        return _login_page(
            request,
            settings=settings,
            error=FORM_EXPIRED,
            username=username,
            next_url=next_url,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    address = client_address(request)
    result = authenticate(
        session=session, settings=settings, username=username, password=password, address=address
    )
    if result.retry_after > 0:
        return _login_page(
            request,
            settings=settings,
            username=username,
            next_url=next_url,
            **_too_many_attempts(result.retry_after),
        )
    if result.user is None:
        audit(session=session, action="login.failed", actor=clean_username(username) or "-")
        return _login_page(
            request,
            settings=settings,
            error="Wrong username or password.",
            username=username,
            next_url=next_url,
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    if result.needs_second_factor:
        raw, _row = start_session(
            session=session,
            settings=settings,
            user=result.user,
            address=address,
            awaiting_second_factor=True,
        )
        audit(session=session, action="login.password_ok", user=result.user)
        target = f"{SECOND_FACTOR_PATH}?next={quote(next_url, safe='/')}"
        return _signed_in(request, settings, raw, target)
    raw, _row = start_session(session=session, settings=settings, user=result.user, address=address)
    audit(session=session, action="login", user=result.user)
    return _signed_in(request, settings, raw, next_url)


def _signed_in(request: Request, settings: SettingsDep, raw: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_absolute_seconds,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _pending_session(request: Request, session: SessionDep) -> StaffSession | None:
    """Return the session waiting for its TOTP code, if the cookie names a live one."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    row = session.get(StaffSession, hash_token(raw))
    if row is None or not row.awaiting_second_factor or row.expires_at <= utcnow():
        return None
    if not row.user.active:
        return None
    return row


def _second_factor_page(
    request: Request,
    pending: StaffSession,
    *,
    next_url: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    request.state.csrf_token = pending.csrf_token
    return templates.TemplateResponse(
        request,
        "login_second_factor.html",
        {"error": error, "next_url": next_url},
        status_code=status_code,
        headers={**LOGIN_PAGE_HEADERS, **(headers or {})},
    )


@router.get(SECOND_FACTOR_PATH, response_class=HTMLResponse)
def second_factor_form(request: Request, session: SessionDep, next: str = "/") -> Response:
    """Ask for the code of the authenticator app (or a recovery code)."""
    pending = _pending_session(request, session)
    if pending is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    return _second_factor_page(request, pending, next_url=safe_next(next))


@router.post(SECOND_FACTOR_PATH, response_class=HTMLResponse)
def second_factor(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: Annotated[str, Form(max_length=40)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the TOTP or recovery code; on success replace the pending session by a full one."""
    next_url = safe_next(next)
    pending = _pending_session(request, session)
    if pending is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    if not csrf_token or not hmac.compare_digest(csrf_token.encode(), pending.csrf_token.encode()):
        return _second_factor_page(
            request,
            pending,
            next_url=next_url,
            error=FORM_EXPIRED,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    address = client_address(request)
    user: StaffUser = pending.user
    result = verify_second_factor(
        session=session, settings=settings, staff_session=pending, code=code, address=address
    )
    if result.retry_after > 0:
        return _second_factor_page(
            request, pending, next_url=next_url, **_too_many_attempts(result.retry_after)
        )
    if result.user is None:
        audit(session=session, action="login.second_factor_failed", user=user)
        return _second_factor_page(
            request,
            pending,
            next_url=next_url,
            error="That code is not right.",
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    end_session(session=session, staff_session=pending)
    raw, _row = start_session(session=session, settings=settings, user=user, address=address)
    audit(session=session, action="login", user=user, details={"second_factor": True})
    return _signed_in(request, settings, raw, next_url)


@router.post("/logout")
def logout(
    session: SessionDep, staff_session: CurrentStaffSession, _csrf: CsrfProtected
) -> Response:
    """End the session (its cookie stops working at once) and go back to the sign-in page."""
    audit(session=session, action="logout", user=staff_session.user)
    end_session(session=session, staff_session=staff_session)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class SessionInfo(BaseModel):
    username: str
    role: str
    csrf_token: str


@router.get("/api/session", response_model=SessionInfo)
def session_info(staff_session: CurrentStaffSession) -> SessionInfo:
    """Return who is logged in and the CSRF token for X-CSRF-Token headers."""
    return SessionInfo(
        username=staff_session.user.username,
        role=staff_session.user.role,
        csrf_token=staff_session.csrf_token,
    )
