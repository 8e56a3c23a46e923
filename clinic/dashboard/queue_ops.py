"""Staff queue operations (call next, recall, seen, no-show, back) and display pairing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from clinic import calling, display, waits
from clinic.audit import audit
from clinic.config import Settings
from clinic.dashboard.web import audit_and_render
from clinic.deps import CsrfProtected, CurrentAdmin, CurrentStaff, SessionDep, SettingsDep
from clinic.models import utcnow

router = APIRouter(include_in_schema=False)

#: The call-next form's choice for "whoever has waited longest, any queue".
ANY_QUEUE = "*"


def _back(ok: str) -> RedirectResponse:
    return RedirectResponse(f"/dashboard/arrivals?ok={ok}", status_code=status.HTTP_303_SEE_OTHER)


def room_or_422(room: str | None) -> str | None:
    try:
        return calling.clean_room(room)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def arrivals_context(*, session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Return what the arrivals page needs for the queue controls and estimate quality."""
    return {
        "queue_choices": [(ANY_QUEUE, "Anyone (longest wait)"), (waits.WALK_IN, "Walk-ins")]
        + [(c, c) for c in calling.clinicians_today(session=session, settings=settings, now=now)],
        "last_rooms": calling.last_rooms(session=session, settings=settings, now=now),
        # Scored by the periodic job (clinic/alerting.py), not in this request.
        "estimate_quality": waits.stored_accuracy(session),
    }


@router.post("/dashboard/queue/call-next")
def call_next(
    session: SessionDep,
    staff: CurrentStaff,
    settings: SettingsDep,
    _csrf: CsrfProtected,
    queue: Annotated[str, Form(max_length=80)] = ANY_QUEUE,
    room: Annotated[str | None, Form(max_length=200)] = None,
) -> RedirectResponse:
    """Call the next patient of a clinician's queue (or walk-ins, or anyone) to a room."""
    clinician = None if queue == ANY_QUEUE else queue
    arrival = calling.call_next(
        session=session,
        settings=settings,
        now=utcnow(),
        clinician=clinician,
        room=room_or_422(room),
    )
    if arrival is None:
        return _back("nobody_waiting")
    audit(
        session=session,
        action="arrival.call",
        user=staff,
        target=f"arrival:{arrival.id}",
        details={"queue": queue, "room": arrival.room, "next": True},
    )
    waits.clear_cache()
    return _back("called")


@router.post("/dashboard/arrivals/{arrival_id}/queue")
def queue_action(
    arrival_id: uuid.UUID,
    action: Annotated[calling.QueueAction, Form()],
    session: SessionDep,
    staff: CurrentStaff,
    _csrf: CsrfProtected,
    room: Annotated[str | None, Form(max_length=200)] = None,
) -> RedirectResponse:
    """Call, recall, mark seen or no-show, or send a patient back to waiting."""
    arrival = calling.get(session, arrival_id)
    if arrival is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such arrival")
    before = arrival.status
    try:
        calling.apply(arrival, action, session=session, now=utcnow(), room=room_or_422(room))
    except calling.TransitionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    audit(
        session=session,
        action=f"arrival.{action.value}",
        user=staff,
        target=f"arrival:{arrival_id}",
        details={"from": before, "to": arrival.status, "room": arrival.room},
    )
    waits.clear_cache()
    return _back(action.value)


# ---------------------------------------------------------------------------------------
# Waiting-room displays (admin)
# ---------------------------------------------------------------------------------------
def _displays_page(
    request: Request, session: SessionDep, admin: CurrentAdmin, code: str | None = None
) -> Response:
    response = audit_and_render(
        request,
        "dashboard/displays.html",
        {"displays": display.displays(session=session), "pairing_code": code},
        session=session,
        staff=admin,
        active="displays",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/dashboard/displays")
def displays_page(request: Request, session: SessionDep, admin: CurrentAdmin) -> Response:
    """List the waiting-room displays; pair a new one or revoke one."""
    return _displays_page(request, session, admin)


# Same shape as create_pairing_code in clinic/dashboard/admin.py: kept apart as each
# issues its own kind of code and renders its own page.
@router.post("/dashboard/displays/pairing-codes")
def create_display_code(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    settings: SettingsDep,
    _csrf: CsrfProtected,
) -> Response:
    """Create a one-time display pairing code and show it once."""
    code, row = display.create_pairing_code(
        session=session, settings=settings, created_by=admin, now=utcnow()
    )
    audit(
        session=session, action="display_code.create", user=admin, target=f"display_code:{row.id}"
    )
    return _displays_page(request, session, admin, code)


@router.post("/dashboard/displays/{display_id}/revoke")
def revoke_display(
    display_id: uuid.UUID, session: SessionDep, admin: CurrentAdmin, _csrf: CsrfProtected
) -> RedirectResponse:
    """Revoke a display: it shows the pairing form at its next poll."""
    if not display.revoke_display(session=session, display_id=display_id, now=utcnow()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such display")
    audit(session=session, action="display.revoke", user=admin, target=f"display:{display_id}")
    return RedirectResponse("/dashboard/displays?ok=revoked", status_code=status.HTTP_303_SEE_OTHER)
