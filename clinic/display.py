"""The waiting-room display: a read-only full-screen page for a TV, paired like a kiosk.

An admin creates a one-time display pairing code on /dashboard/displays; the TV's browser
opens /display, types the code and a name, and receives its own random token in a cookie
(only its SHA-256 is stored). Revoking the display on the same page ends it at the next
poll. What the display shows: queue numbers being called and where to go, how many are
waiting and the wait range for a walk-in. Never a name or a reason for visit.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from clinic import calling, queue, waits
from clinic.audit import audit
from clinic.config import Settings
from clinic.dashboard.web import SECURITY_HEADERS
from clinic.deps import SessionDep, SettingsDep
from clinic.kiosks import issue_pairing_code
from clinic.models import DisplayPairingCode, StaffUser, WaitingRoomDisplay, utcnow
from clinic.security import hash_pairing_code, hash_token
from clinic.templating import templates

router = APIRouter(include_in_schema=False)

COOKIE = "clinic_display"
COOKIE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days
#: How often the display asks for the calls (seconds).
POLL_SECONDS = 3
MAX_NAME_CHARS = 64
_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


class DisplayPairingError(ValueError):
    """The code is unknown, expired or already used."""


def new_display_token() -> str:
    """Return a fresh display token (256 random bits)."""
    return "dt_" + secrets.token_urlsafe(32)


def create_pairing_code(
    *, session: Session, settings: Settings, created_by: StaffUser | None, now: datetime
) -> tuple[str, DisplayPairingCode]:
    """Create a one-time display pairing code; return it (shown once) and its row."""
    return issue_pairing_code(
        DisplayPairingCode, session=session, settings=settings, created_by=created_by, now=now
    )


def pair_display(
    *, session: Session, code: str, name: str, now: datetime
) -> tuple[WaitingRoomDisplay, str]:
    """Exchange a display pairing code for a new display and its token."""
    # One UPDATE decides: two screens racing for one code cannot both win.
    code_hash = hash_pairing_code(code)
    claimed = session.execute(
        update(DisplayPairingCode)
        .where(
            DisplayPairingCode.code_hash == code_hash,
            DisplayPairingCode.used_at.is_(None),
            DisplayPairingCode.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise DisplayPairingError("unknown, expired or used pairing code")
    token = new_display_token()
    display = WaitingRoomDisplay(
        id=uuid.uuid4(), name=name, token_hash=hash_token(token), created_at=now, last_seen_at=now
    )
    session.add(display)
    session.flush()
    session.execute(
        update(DisplayPairingCode)
        .where(DisplayPairingCode.code_hash == code_hash)
        .values(display_id=display.id)
    )
    return display, token


def revoke_display(*, session: Session, display_id: uuid.UUID, now: datetime) -> bool:
    """Revoke a display's token; return whether such a display exists."""
    display = session.get(WaitingRoomDisplay, display_id)
    if display is None:
        return False
    if display.revoked_at is None:
        display.revoked_at = now
    return True


def displays(*, session: Session) -> list[WaitingRoomDisplay]:
    """Return every display, newest first."""
    return list(
        session.scalars(select(WaitingRoomDisplay).order_by(WaitingRoomDisplay.created_at.desc()))
    )


def current_display(request: Request, session: Session) -> WaitingRoomDisplay | None:
    """Return the paired, unrevoked display of this browser, if any."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    display = session.scalar(
        select(WaitingRoomDisplay).where(WaitingRoomDisplay.token_hash == hash_token(token))
    )
    if display is None or not display.active:
        return None
    return display


def display_state(*, session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Return what a display shows: calls (number, room), count waiting, walk-in wait."""
    calls = calling.display_calls(session=session, now=now)
    pace = queue.current_pace(session=session, settings=settings, now=now)
    waiting = calling.waiting_count(session=session, settings=settings, now=now)
    estimate = waits.range_for_walk_in(
        session=session,
        now=now,
        tz=settings.tz,
        fallback_minutes=queue.estimate_minutes(pace, waiting + 1, now),
    )
    return {
        "calls": [
            {
                "number": c.queue_number,
                "room": c.room,
                "called_at": c.called_at.isoformat(),
                "call_count": c.call_count,
            }
            for c in calls
        ],
        "waiting": waiting,
        "wait_low": estimate.low,
        "wait_high": estimate.high,
        "generated_at": now.isoformat(),
    }


def _touch(request: Request, display: WaitingRoomDisplay, now: datetime) -> None:
    """Record when the display last asked (its own short write: GETs read)."""
    if display.last_seen_at is not None and now - display.last_seen_at < timedelta(minutes=1):
        return
    with request.app.state.db.writer.begin() as writer:
        writer.execute(
            update(WaitingRoomDisplay)
            .where(WaitingRoomDisplay.id == display.id)
            .values(last_seen_at=now)
        )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/display")
def display_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Show the waiting-room display, or the pairing form on a screen not paired yet."""
    display = current_display(request, session)
    if display is None:
        return templates.TemplateResponse(
            request,
            "display/pair.html",
            {"error": request.query_params.get("error") == "1"},
            status_code=status.HTTP_200_OK,
            headers=_HEADERS,
        )
    now = utcnow()
    _touch(request, display, now)
    return templates.TemplateResponse(
        request,
        "display/display.html",
        {"state": display_state(session=session, settings=settings, now=now), "poll": POLL_SECONDS},
        headers=_HEADERS,
    )


@router.get("/display/state")
def display_state_json(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Return the display's calls and counts as JSON (401 once revoked)."""
    display = current_display(request, session)
    if display is None:
        return JSONResponse(
            {"error": "display not paired or revoked"},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers=_HEADERS,
        )
    now = utcnow()
    _touch(request, display, now)
    return JSONResponse(
        display_state(session=session, settings=settings, now=now), headers=_HEADERS
    )


@router.post("/display/pair")
def pair(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Form(max_length=40)],
    name: Annotated[str, Form(max_length=MAX_NAME_CHARS)] = "Waiting room",
) -> Response:
    """Pair this screen with a one-time display code; the token goes into a cookie."""
    limiter = getattr(request.app.state, "pair_limiter", None)
    if limiter is not None and limiter.acquire(_client(request)) > 0:
        return RedirectResponse("/display?error=1", status_code=status.HTTP_303_SEE_OTHER)
    label = " ".join(name.split()) or "Waiting room"
    try:
        display, token = pair_display(session=session, code=code, name=label, now=utcnow())
    except DisplayPairingError:
        return RedirectResponse("/display?error=1", status_code=status.HTTP_303_SEE_OTHER)
    audit(session=session, action="display.pair", actor="display", target=f"display:{display.id}")
    response = RedirectResponse("/display", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/display",
    )
    return response
