"""The signed-in user's own account: password change, TOTP second factor, last sign-in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from clinic import accounts, totp
from clinic.audit import audit
from clinic.dashboard.web import audit_and_render
from clinic.deps import (
    PASSWORD_CHANGE_PATH,
    CsrfProtected,
    CurrentStaffSession,
    SessionDep,
)
from clinic.models import StaffSession
from clinic.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from clinic.security import verify_password

router = APIRouter(include_in_schema=False)

PasswordField = Annotated[str, Form(max_length=MAX_PASSWORD_CHARS + 100)]


def _page(
    request: Request,
    session: Any,
    staff_session: StaffSession,
    *,
    error: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    user = staff_session.user
    context: dict[str, Any] = {
        "user": user,
        "forced": user.must_change_password,
        "min_password_chars": MIN_PASSWORD_CHARS,
        "recovery_left": accounts.unused_recovery_codes(session=session, user=user),
        "totp_qr": None,
        "totp_secret": None,
        "recovery_codes": None,
        "error": error,
    }
    context.update(extra)
    return audit_and_render(
        request,
        "dashboard/account.html",
        context,
        session=session,
        staff=user,
        active="account",
        status_code=status_code,
    )


def _done(ok: str) -> RedirectResponse:
    return RedirectResponse(f"/account?ok={ok}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/account")
@router.get(PASSWORD_CHANGE_PATH)
def account_page(
    request: Request, session: SessionDep, staff_session: CurrentStaffSession
) -> Response:
    """Show the user's account: last sign-in, password change, two-step sign-in."""
    return _page(request, session, staff_session)


@router.post(PASSWORD_CHANGE_PATH)
def change_password(
    request: Request,
    session: SessionDep,
    staff_session: CurrentStaffSession,
    _csrf: CsrfProtected,
    current_password: PasswordField,
    new_password: PasswordField,
    repeat_password: PasswordField,
) -> Response:
    """Change one's own password (the current one is asked again); other sessions end."""
    forced = staff_session.user.must_change_password
    try:
        accounts.change_own_password(
            session=session,
            staff_session=staff_session,
            current=current_password,
            new=new_password,
            repeat=repeat_password,
        )
    except accounts.AccountError as exc:
        return _page(
            request,
            session,
            staff_session,
            error=str(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    audit(
        session=session,
        action="account.password_change",
        user=staff_session.user,
        target=f"staff:{staff_session.user.id}",
        details={"after_reset": forced},
    )
    return _done("password")


@router.post("/account/totp/start")
def start_totp(
    request: Request, session: SessionDep, staff_session: CurrentStaffSession, _csrf: CsrfProtected
) -> Response:
    """Make a new TOTP secret and show it as a QR code; it is off until a code confirms it."""
    user = staff_session.user
    try:
        secret = accounts.start_totp_enrolment(user=user)
    except accounts.AccountError as exc:
        return _page(request, session, staff_session, error=str(exc), status_code=409)
    audit(session=session, action="account.totp_start", user=user, target=f"staff:{user.id}")
    uri = totp.provisioning_uri(secret, username=user.username)
    return _page(request, session, staff_session, totp_qr=totp.qr_svg(uri), totp_secret=secret)


@router.post("/account/totp/confirm")
def confirm_totp(
    request: Request,
    session: SessionDep,
    staff_session: CurrentStaffSession,
    _csrf: CsrfProtected,
    code: Annotated[str, Form(max_length=40)],
) -> Response:
    """Turn two-step sign-in on when the code is right; show the recovery codes once."""
    user = staff_session.user
    try:
        codes = accounts.confirm_totp_enrolment(session=session, user=user, code=code)
    except accounts.AccountError as exc:
        pending = user.totp_secret if not user.totp_enabled else None
        extra: dict[str, Any] = {}
        if pending:
            uri = totp.provisioning_uri(pending, username=user.username)
            extra = {"totp_qr": totp.qr_svg(uri), "totp_secret": pending}
        return _page(
            request,
            session,
            staff_session,
            error=str(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            **extra,
        )
    audit(session=session, action="account.totp_on", user=user, target=f"staff:{user.id}")
    return _page(request, session, staff_session, recovery_codes=codes)


@router.post("/account/totp/disable")
def disable_totp(
    request: Request,
    session: SessionDep,
    staff_session: CurrentStaffSession,
    _csrf: CsrfProtected,
    current_password: PasswordField,
) -> Response:
    """Turn two-step sign-in off (the password is asked again)."""
    user = staff_session.user
    if not verify_password(user.password_hash, current_password):
        return _page(
            request,
            session,
            staff_session,
            error="The current password is wrong.",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    accounts.remove_totp(session=session, user=user)
    audit(session=session, action="account.totp_off", user=user, target=f"staff:{user.id}")
    return _done("totp-off")
