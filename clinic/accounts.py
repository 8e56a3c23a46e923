"""Staff accounts: users, login throttling (in the database), server-side sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from clinic.config import Settings
from clinic.models import LoginAttempt, StaffRole, StaffSession, StaffUser, utcnow
from clinic.security import (
    hash_password,
    hash_token,
    needs_rehash,
    new_csrf_token,
    new_session_id,
    verify_password,
)

MIN_PASSWORD_CHARS = 10


class AccountError(ValueError):
    """A user account cannot be created or changed as asked."""


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: StaffRole = StaffRole.STAFF,
    display_name: str | None = None,
) -> StaffUser:
    """Add a staff user with an argon2id password hash."""
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("username must be 1-64 characters")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = StaffUser(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, user: StaffUser, password: str) -> None:
    """Replace a user's password and end all their sessions."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    user.password_hash = hash_password(password)
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))


def login_retry_after(
    *, session: Session, settings: Settings, username: str, address: str, now: datetime
) -> float:
    """Return seconds until a login may be tried again for this account/address (0: now)."""
    since = now - timedelta(seconds=settings.login_window_seconds)
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
        )
    )
    account_since = max(since, last_success) if last_success else since
    waits = [
        _wait(
            session,
            LoginAttempt.username == username,
            account_since,
            settings.login_max_failures_per_account,
            settings.login_window_seconds,
            now,
        ),
        _wait(
            session,
            LoginAttempt.address == address,
            since,
            settings.login_max_failures_per_address,
            settings.login_window_seconds,
            now,
        ),
    ]
    return max(waits)


def _wait(
    session: Session, which: object, since: datetime, limit: int, window: int, now: datetime
) -> float:
    failures = session.scalars(
        select(LoginAttempt.attempted_at)
        .where(which, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)  # type: ignore[arg-type]
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return 0.0
    # Blocked until the limit-th most recent failure leaves the window.
    return max(0.0, (failures[-1] + timedelta(seconds=window) - now).total_seconds())


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    retry_after: float = 0.0  # > 0: throttled, credentials were not even checked


def authenticate(
    *, session: Session, settings: Settings, username: str, password: str, address: str
) -> LoginResult:
    """Check credentials under the login throttle; record the attempt."""
    username = username.strip()[:64]
    address = address[:64]
    now = utcnow()
    wait = login_retry_after(
        session=session, settings=settings, username=username, address=address, now=now
    )
    if wait > 0:
        return LoginResult(user=None, retry_after=wait)
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username, address=address, attempted_at=now, succeeded=ok))
    if not ok or user is None:
        return LoginResult(user=None)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return LoginResult(user=user)


def start_session(
    *, session: Session, settings: Settings, user: StaffUser, address: str | None
) -> tuple[str, StaffSession]:
    """Create a server-side session; return the cookie value (only its hash is stored)."""
    now = utcnow()
    # Housekeeping: drop sessions that can no longer be used, and login attempts too old to
    # count for throttling (kept a day for the curious admin).
    keep_attempts = max(timedelta(days=1), timedelta(seconds=settings.login_window_seconds))
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - keep_attempts))
    session.execute(
        delete(StaffSession).where(
            (StaffSession.expires_at <= now)
            | (StaffSession.last_seen_at <= now - timedelta(seconds=settings.session_idle_seconds))
        )
    )
    raw = new_session_id()
    row = StaffSession(
        id_hash=hash_token(raw),
        user_id=user.id,
        csrf_token=new_csrf_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_absolute_seconds),
        address=(address or "")[:64] or None,
    )
    session.add(row)
    session.flush()
    return raw, row


def end_session(*, session: Session, staff_session: StaffSession) -> None:
    """Delete a session so its cookie stops working."""
    session.execute(delete(StaffSession).where(StaffSession.id_hash == staff_session.id_hash))
