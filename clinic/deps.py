"""FastAPI dependency aliases shared by every router (kiosk API, auth, admin, dashboard).

- `SessionDep`: a SQLAlchemy Session for this request, committed when the route returns
  (before the response is sent) and rolled back on an exception. GET/HEAD get a reader
  session; other methods a writer (BEGIN IMMEDIATE on SQLite).
- `SettingsDep`, `DatabaseDep`: the app's Settings and Database.
- `CurrentStaff` / `CurrentAdmin`: the logged-in StaffUser (anonymous -> 401 for /api/...
  and non-HTML clients, else a 303 redirect to /login; staff on an admin route -> 403).
- `CurrentStaffSession`: the StaffSession row (csrf token, timestamps). A disabled user's
  session, or one still waiting for its TOTP code, counts as none; a user whose password was
  reset reaches only the password change page (PasswordChangeRequired elsewhere).
- `CsrfProtected`: put on every state-changing staff route; checks the `csrf_token` form
  field or the `X-CSRF-Token` header against the session's token (403 when missing/wrong).
- `CurrentKiosk`: the Kiosk whose bearer token came with the request (401 unknown token,
  403 revoked, 429 + Retry-After over the per-kiosk rate limit). `CurrentPullingKiosk`:
  the same checks for the pull, in one read that also returns the pull_version.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from clinic.config import Settings
from clinic.db import Database
from clinic.models import Kiosk, PullVersion, StaffSession, StaffUser, utcnow
from clinic.security import RateLimiter, hash_token, retry_after_header

SESSION_COOKIE = "clinic_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: last_seen_at is written at most this often (idle timeout precision), to spare writes.
SESSION_TOUCH_SECONDS = 15
#: Kiosks: longer than the heartbeat's own write interval (clinic.kiosks, 110 s), so a kiosk
#: sending heartbeats is never touched by its pulls; one without them is seen this coarsely.
KIOSK_TOUCH_SECONDS = 150


#: Where a user whose password was reset may go before choosing a new one.
PASSWORD_CHANGE_PATH = "/account/password"
PASSWORD_CHANGE_ALLOWED = frozenset({PASSWORD_CHANGE_PATH, "/logout", "/api/session"})


class NotAuthenticated(Exception):
    """No valid staff session; the app turns this into 401 or a redirect to /login."""


class PasswordChangeRequired(Exception):
    """The user must choose a new password first; the app answers 403 or redirects there."""


def get_settings(request: Request) -> Settings:
    """Return the app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    """Return the app's database."""
    db: Database = request.app.state.db
    return db


#: Requests of one server process that hold a database session at once. A request's sync
#: dependencies and route run in separate hops through anyio's thread pool (40 threads), and
#: its session keeps a pooled connection between hops; with more such requests than the
#: pool holds (30 on PostgreSQL), requests holding connections wait for threads that are
#: all taken by requests waiting for connections, until the pool times out (seen as a
#: stall and 500s at 3,000-4,000 kiosks in bench/fleet.py). Requests past this number wait
#: in the event loop, holding neither. 12 requests of at most two connections each (a
#: dashboard page's fresh read) leave the pool room for the background jobs.
SESSION_REQUESTS = 12


def _session_gate(request: Request) -> asyncio.Semaphore:
    """Return this process's gate, made in the running event loop (tests run several)."""
    loop = asyncio.get_running_loop()
    gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = getattr(
        request.app.state, "session_gate", None
    )
    if gate is None or gate[0] is not loop:
        gate = (loop, asyncio.Semaphore(SESSION_REQUESTS))
        request.app.state.session_gate = gate
    return gate[1]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield a session for this request; commit when the route returns, else roll back.

    At most SESSION_REQUESTS requests of this process hold one at a time (see there); the
    database calls of the commit, rollback and close run in the thread pool.
    """
    db = get_database(request)
    factory = db.reader if request.method in SAFE_METHODS else db.writer
    async with _session_gate(request):
        session = factory()
        try:
            yield session
            await run_in_threadpool(session.commit)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.rollback)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the commit runs before the response is sent, so a failed commit is a 500,
# never a success reported for data that was not stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def current_staff_session(
    request: Request, session: SessionDep, settings: SettingsDep
) -> StaffSession:
    """Return the valid staff session from the cookie, or raise NotAuthenticated."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        raise NotAuthenticated()
    row = session.get(StaffSession, hash_token(raw))
    now = utcnow()
    if (
        row is None
        or row.expires_at <= now
        or row.last_seen_at + timedelta(seconds=settings.session_idle_seconds) <= now
        or not row.user.active
        or row.awaiting_second_factor
    ):
        raise NotAuthenticated()
    if row.user.must_change_password and request.url.path not in PASSWORD_CHANGE_ALLOWED:
        raise PasswordChangeRequired()
    if (now - row.last_seen_at).total_seconds() >= SESSION_TOUCH_SECONDS:
        _touch(request, session, row, StaffSession.id_hash == row.id_hash, now)
    request.state.staff_session = row
    return row


def _release_connection(session: Session) -> None:
    """End the request's read transaction so its pooled connection goes back to the pool.

    Called before a request opens a second transaction of its own (a touch): holding one
    pooled connection while waiting for another, a burst of more such requests than the pool
    holds would each keep one and wait for a second until the pool times out (seen as 500s
    at 4,000 kiosks in bench/fleet.py). The session reconnects when next used.
    """
    session.commit()


def _touch(
    request: Request, session: Session, row: StaffSession | Kiosk, where: object, now: datetime
) -> None:
    """Set row.last_seen_at = now, in this request's transaction if it writes, else apart.

    A GET runs in a reader transaction; writing there could fail on SQLite when another
    process wrote meanwhile, so the touch gets its own short writer transaction.
    """
    if request.method in SAFE_METHODS:
        _release_connection(session)
        with get_database(request).writer.begin() as touch:
            touch.execute(update(type(row)).where(where).values(last_seen_at=now))  # type: ignore[arg-type]
        set_committed_value(row, "last_seen_at", now)
    else:
        row.last_seen_at = now


CurrentStaffSession = Annotated[StaffSession, Depends(current_staff_session)]


def current_staff(staff_session: CurrentStaffSession) -> StaffUser:
    """Return the logged-in user (staff or admin)."""
    return staff_session.user


def current_admin(staff_session: CurrentStaffSession) -> StaffUser:
    """Return the logged-in user if an admin, else 403."""
    if not staff_session.user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin role required")
    return staff_session.user


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]
CurrentAdmin = Annotated[StaffUser, Depends(current_admin)]


async def check_csrf(request: Request, staff_session: CurrentStaffSession) -> None:
    """Refuse an unsafe request whose CSRF token does not match the session's."""
    if request.method in SAFE_METHODS:
        return
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not supplied or not hmac.compare_digest(
        supplied.encode(), staff_session.csrf_token.encode()
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or invalid")


CsrfProtected = Annotated[None, Depends(check_csrf)]

_bearer = HTTPBearer(auto_error=False, description="Kiosk token from pairing")


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "kiosk token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


def _admit_kiosk(
    request: Request, kiosk_id: uuid.UUID | None, revoked_at: datetime | None
) -> uuid.UUID:
    """Refuse an unknown token (401), a revoked kiosk (403), a kiosk over its limit (429)."""
    if kiosk_id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown kiosk token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if revoked_at is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "kiosk revoked")
    limiter: RateLimiter = request.app.state.kiosk_limiter
    wait = limiter.acquire(str(kiosk_id))
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many requests from this kiosk",
            headers={"Retry-After": retry_after_header(wait)},
        )
    return kiosk_id


def _kiosk_is_stale(last_seen_at: datetime | None, now: datetime) -> bool:
    return last_seen_at is None or (now - last_seen_at).total_seconds() > KIOSK_TOUCH_SECONDS


def current_kiosk(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Kiosk:
    """Return the kiosk owning the bearer token; 401 unknown, 403 revoked, 429 too fast."""
    token = _bearer_token(credentials)
    kiosk = session.scalars(
        select(Kiosk).where(Kiosk.token_hash == hash_token(token))
    ).one_or_none()
    _admit_kiosk(request, kiosk.id if kiosk else None, kiosk.revoked_at if kiosk else None)
    assert kiosk is not None  # _admit_kiosk refused an unknown token
    now = utcnow()
    if _kiosk_is_stale(kiosk.last_seen_at, now):
        _touch(request, session, kiosk, Kiosk.id == kiosk.id, now)
    request.state.kiosk = kiosk
    return kiosk


@dataclass(frozen=True)
class PullingKiosk:
    """A kiosk admitted to pull, and the pull_version read with its token (one query)."""

    id: uuid.UUID
    pull_version: int | None


def current_pulling_kiosk(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PullingKiosk:
    """current_kiosk for the pull (refusals alike), in one indexed read and no ORM object.

    The pull is most of a fleet's requests, and an unchanged one needs nothing else from the
    database: the same statement reads the pull_version its cache is checked against.
    """
    token = _bearer_token(credentials)
    version = select(PullVersion.n).where(PullVersion.id == 1).scalar_subquery()
    row = session.execute(
        select(Kiosk.id, Kiosk.revoked_at, Kiosk.last_seen_at, version).where(
            Kiosk.token_hash == hash_token(token)
        )
    ).one_or_none()
    kiosk_id = _admit_kiosk(request, row[0] if row else None, row[1] if row else None)
    assert row is not None  # _admit_kiosk refused an unknown token
    now = utcnow()
    if _kiosk_is_stale(row[2], now):
        _release_connection(session)
        with get_database(request).writer.begin() as touch:
            touch.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(last_seen_at=now))
    request.state.kiosk_id = kiosk_id
    return PullingKiosk(id=kiosk_id, pull_version=row[3])


CurrentKiosk = Annotated[Kiosk, Depends(current_kiosk)]
CurrentPullingKiosk = Annotated[PullingKiosk, Depends(current_pulling_kiosk)]
