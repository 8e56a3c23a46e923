"""Staff accounts: users and their lifecycle, login throttling (in the database), sessions.

Throttling never turns into a lock-out (docs/security.md): every limit is per address, or
per account *and* address, and the per-account slow-down only delays addresses that
themselves failed on that account. A right password from an address that did not fail is
always checked, whatever other addresses did.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session

from clinic import totp
from clinic.config import Settings
from clinic.models import (
    Base,
    LoginAttempt,
    RecoveryCode,
    StaffRole,
    StaffSession,
    StaffUser,
    utcnow,
)
from clinic.passwords import MIN_PASSWORD_CHARS, password_problem
from clinic.security import (
    PAIRING_ALPHABET,
    hash_password,
    hash_token,
    needs_rehash,
    new_csrf_token,
    new_session_id,
    verify_password,
)

__all__ = ["MIN_PASSWORD_CHARS", "AccountError"]

#: A session waiting for the TOTP code lives this long.
SECOND_FACTOR_SECONDS = 5 * 60


class AccountError(ValueError):
    """A user account cannot be created or changed as asked."""


def check_password(password: str, *, username: str) -> None:
    """Raise AccountError with the reason when the policy refuses this password."""
    problem = password_problem(password, username=username)
    if problem is not None:
        raise AccountError(problem)


def clean_username(username: str) -> str:
    """Return a typed user name as it can be stored and compared (no NUL, no lone surrogate)."""
    # PostgreSQL refuses NUL in text and UTF-8 has no lone surrogates: either would turn a
    # stranger's sign-in attempt into a 500 when the attempt is recorded.
    text = username.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return text.strip()[:64]


def find_user(*, session: Session, username: str) -> StaffUser | None:
    """Return the user with this user name, or None."""
    return session.scalars(
        select(StaffUser).where(StaffUser.username == username.strip())
    ).one_or_none()


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: StaffRole = StaffRole.STAFF,
    display_name: str | None = None,
) -> StaffUser:
    """Add a staff user with an argon2id password hash (the password policy applies)."""
    username = username.strip()
    if not username or len(username) > 64 or not username.isprintable():
        raise AccountError("username must be 1-64 printable characters")
    check_password(password, username=username)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    now = utcnow()
    user = StaffUser(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        active=True,
        must_change_password=False,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_password(
    *,
    session: Session,
    user: StaffUser,
    password: str,
    keep_session: StaffSession | None = None,
    must_change: bool = False,
    check_policy: bool = True,
) -> None:
    """Replace a user's password and end their sessions (all but keep_session)."""
    if check_policy:
        check_password(password, username=user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = must_change
    end_user_sessions(session=session, user=user, keep=keep_session)


def change_own_password(
    *,
    session: Session,
    staff_session: StaffSession,
    current: str,
    new: str,
    repeat: str,
) -> None:
    """Change the signed-in user's password; their other sessions end, this one stays."""
    user = staff_session.user
    if not verify_password(user.password_hash, current):
        raise AccountError("The current password is wrong.")
    if new != repeat:
        raise AccountError("The two new passwords differ.")
    if verify_password(user.password_hash, new):
        raise AccountError("The new password must differ from the current one.")
    set_password(session=session, user=user, password=new, keep_session=staff_session)


def new_temporary_password() -> str:
    """Return a random one-time password for a reset (about 99 bits, easy to read out)."""
    # No look-alike characters (0/O, 1/I/L): an admin may read it out over the phone.
    raw = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def reset_password(*, session: Session, user: StaffUser, password: str | None = None) -> str:
    """Set a temporary password the user must change at next sign-in; end their sessions."""
    temporary = password if password is not None else new_temporary_password()
    set_password(
        session=session,
        user=user,
        password=temporary,
        must_change=True,
        check_policy=password is not None,
    )
    return temporary


def end_user_sessions(
    *, session: Session, user: StaffUser, keep: StaffSession | None = None
) -> int:
    """Delete every session of a user (but keep); return how many ended."""
    statement = delete(StaffSession).where(StaffSession.user_id == user.id)
    if keep is not None:
        statement = statement.where(StaffSession.id_hash != keep.id_hash)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def _count(session: Session, model: type[Base], *where: ColumnElement[bool]) -> int:
    """Count model's rows that meet the conditions in where."""
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _active_admins(session: Session) -> int:
    return _count(session, StaffUser, StaffUser.role == StaffRole.ADMIN, StaffUser.active.is_(True))


def disable_user(*, session: Session, user: StaffUser) -> None:
    """Disable an account: its sessions end at once and it cannot sign in."""
    if user.is_admin and user.active and _active_admins(session) <= 1:
        raise AccountError("The last active admin cannot be disabled.")
    user.active = False
    user.disabled_at = utcnow()
    end_user_sessions(session=session, user=user)


def enable_user(*, session: Session, user: StaffUser) -> None:
    """Enable a disabled account again (same password)."""
    user.active = True
    user.disabled_at = None


def unlock(*, session: Session, username: str) -> int:
    """Forget the failed sign-ins of an account (all addresses); return how many."""
    result = session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.username == clean_username(username), LoginAttempt.succeeded.is_(False)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def recent_failures(*, session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Return failed sign-ins per user name within the throttling window."""
    since = now - timedelta(seconds=settings.login_window_seconds)
    rows = session.execute(
        select(LoginAttempt.username, func.count())
        .where(LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)
        .group_by(LoginAttempt.username)
    ).all()
    return {str(name): int(count) for name, count in rows}


# ---------------------------------------------------------------------------------------
# Throttling
# ---------------------------------------------------------------------------------------
def login_retry_after(
    *, session: Session, settings: Settings, username: str, address: str, now: datetime
) -> float:
    """Return seconds until this address may try this account again (0: now).

    Three rules, none of which can refuse an address that has not failed itself:
    per address (any accounts), per account from this address (since this address last
    signed in to it), and the account-wide slow-down for addresses that failed on it.
    """
    window = settings.login_window_seconds
    since = now - timedelta(seconds=window)
    pair = and_(LoginAttempt.username == username, LoginAttempt.address == address)
    last_pair_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(pair, LoginAttempt.succeeded.is_(True))
    )
    pair_since = max(since, last_pair_success) if last_pair_success else since
    waits = [
        _wait(
            session,
            LoginAttempt.address == address,
            since,
            settings.login_max_failures_per_address,
            window,
            now,
        ),
        _wait(session, pair, pair_since, settings.login_max_failures_per_account, window, now),
    ]
    last_pair_failure = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            pair, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > pair_since
        )
    )
    if last_pair_failure is not None:
        account_failures = _count(
            session,
            LoginAttempt,
            LoginAttempt.username == username,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > since,
        )
        excess = account_failures - settings.login_slowdown_after_failures
        if excess >= 0:
            delay = min(
                float(settings.login_slowdown_max_seconds),
                settings.login_slowdown_base_seconds * 2.0 ** min(excess, 30),
            )
            waits.append((last_pair_failure + timedelta(seconds=delay) - now).total_seconds())
    return max(0.0, *waits)


def _wait(
    session: Session,
    which: ColumnElement[bool],
    since: datetime,
    limit: int,
    window: int,
    now: datetime,
) -> float:
    failures = session.scalars(
        select(LoginAttempt.attempted_at)
        .where(which, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return 0.0
    # Refused until the limit-th most recent failure leaves the window.
    return max(0.0, (failures[-1] + timedelta(seconds=window) - now).total_seconds())


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    retry_after: float = 0.0  # > 0: throttled, credentials were not even checked
    needs_second_factor: bool = False  # the password was right; a TOTP code must follow


def _record(session: Session, username: str, address: str, now: datetime, ok: bool) -> None:
    session.add(LoginAttempt(username=username, address=address, attempted_at=now, succeeded=ok))


def authenticate(
    *, session: Session, settings: Settings, username: str, password: str, address: str
) -> LoginResult:
    """Check credentials under the login throttle; record the attempt."""
    username = clean_username(username)
    address = clean_username(address)
    now = utcnow()
    wait = login_retry_after(
        session=session, settings=settings, username=username, address=address, now=now
    )
    if wait > 0:
        return LoginResult(user=None, retry_after=wait)
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.active
    if not ok or user is None:
        _record(session, username, address, now, False)
        return LoginResult(user=None)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.totp_enabled:
        # Recorded as a success only once the code is right too.
        return LoginResult(user=user, needs_second_factor=True)
    _record(session, username, address, now, True)
    user.last_login_at = now
    return LoginResult(user=user)


def verify_second_factor(
    *,
    session: Session,
    settings: Settings,
    staff_session: StaffSession,
    code: str,
    address: str,
) -> LoginResult:
    """Check a TOTP or recovery code for a session awaiting it (throttled like passwords)."""
    user = staff_session.user
    address = address[:64]
    now = utcnow()
    wait = login_retry_after(
        session=session, settings=settings, username=user.username, address=address, now=now
    )
    if wait > 0:
        return LoginResult(user=None, retry_after=wait)
    ok = False
    if user.active and user.totp_enabled and user.totp_secret:
        if totp.looks_like_recovery_code(code):
            ok = use_recovery_code(session=session, user=user, code=code, now=now)
        else:
            step = totp.accepted_step(user.totp_secret, code, last_step=user.totp_last_step)
            if step is not None:
                user.totp_last_step = step
                ok = True
    _record(session, user.username, address, now, ok)
    if not ok:
        return LoginResult(user=None)
    user.last_login_at = now
    return LoginResult(user=user)


def use_recovery_code(*, session: Session, user: StaffUser, code: str, now: datetime) -> bool:
    """Spend one unused recovery code of the user; return whether it was one."""
    result = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == totp.hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


# ---------------------------------------------------------------------------------------
# TOTP enrolment
# ---------------------------------------------------------------------------------------
def start_totp_enrolment(*, user: StaffUser) -> str:
    """Give the user a new pending TOTP secret (not in force until a code confirms it)."""
    if user.totp_enabled:
        raise AccountError("Two-step sign-in is already on; turn it off first.")
    user.totp_secret = totp.new_secret()
    user.totp_enabled_at = None
    user.totp_last_step = None
    return user.totp_secret


def confirm_totp_enrolment(*, session: Session, user: StaffUser, code: str) -> list[str]:
    """Turn TOTP on once a code from the pending secret is right; return recovery codes."""
    if user.totp_enabled or not user.totp_secret:
        raise AccountError("Start the set-up of two-step sign-in first.")
    step = totp.accepted_step(user.totp_secret, code, last_step=None)
    if step is None:
        raise AccountError("That code is not right. Check the phone's clock and try again.")
    user.totp_last_step = step
    user.totp_enabled_at = utcnow()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    for code_text in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(code_text)))
    return codes


def remove_totp(*, session: Session, user: StaffUser) -> None:
    """Turn TOTP off for a user and drop their recovery codes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def unused_recovery_codes(*, session: Session, user: StaffUser) -> int:
    """Return how many recovery codes the user has left."""
    return _count(
        session, RecoveryCode, RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
    )


# ---------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------
def start_session(
    *,
    session: Session,
    settings: Settings,
    user: StaffUser,
    address: str | None,
    awaiting_second_factor: bool = False,
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
    lifetime = (
        min(SECOND_FACTOR_SECONDS, settings.session_absolute_seconds)
        if awaiting_second_factor
        else settings.session_absolute_seconds
    )
    raw = new_session_id()
    row = StaffSession(
        id_hash=hash_token(raw),
        user_id=user.id,
        csrf_token=new_csrf_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=lifetime),
        address=(address or "")[:64] or None,
        awaiting_second_factor=awaiting_second_factor,
    )
    session.add(row)
    session.flush()
    return raw, row


def end_session(*, session: Session, staff_session: StaffSession) -> None:
    """Delete a session so its cookie stops working."""
    session.execute(delete(StaffSession).where(StaffSession.id_hash == staff_session.id_hash))
