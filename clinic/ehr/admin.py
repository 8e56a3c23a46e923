"""The admin page's "EHR link" section: configure FHIR/HL7 sources and targets, pull the
schedule now, send a refused or given-up message again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from clinic.audit import audit
from clinic.deps import CsrfProtected, CurrentAdmin, SessionDep
from clinic.ehr import runtime
from clinic.ehr.config import EhrSettings
from clinic.ehr.models import EhrConfigRow, EhrOutbox, OutboxStatus
from clinic.ehr.queue import link_panel, problem_messages
from clinic.models import utcnow

router = APIRouter(include_in_schema=False)
BACK = "/dashboard/admin"


def context(request: Request, session: Session) -> dict[str, Any]:
    """Return what the admin section shows: the settings in force and each link's state."""
    settings: EhrSettings = request.app.state.ehr_settings
    key_file = settings.smart_private_key_file
    return {
        "settings": settings,
        "key_file_ok": bool(key_file) and Path(key_file or "").is_file(),
        "links": link_panel(session=session, targets=settings.targets),
        "problems": problem_messages(session=session),
        "schedule_pull": settings.fhir_enabled,
    }


def _back(ok: str) -> RedirectResponse:
    return RedirectResponse(f"{BACK}?ok={ok}#ehr-admin", status_code=status.HTTP_303_SEE_OTHER)


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@router.post("/dashboard/admin/ehr/settings")
def save_settings(
    request: Request,
    session: SessionDep,
    admin: CurrentAdmin,
    _csrf: CsrfProtected,
    fhir_base_url: Annotated[str, Form(max_length=300)] = "",
    smart_token_url: Annotated[str, Form(max_length=300)] = "",
    smart_client_id: Annotated[str, Form(max_length=200)] = "",
    smart_private_key_file: Annotated[str, Form(max_length=300)] = "",
    smart_key_id: Annotated[str, Form(max_length=200)] = "",
    smart_algorithm: Annotated[str, Form()] = "RS384",
    schedule_poll_seconds: Annotated[str, Form(max_length=8)] = "300",
    send_feedback: Annotated[str, Form()] = "0",
    hl7_host: Annotated[str, Form(max_length=200)] = "",
    hl7_port: Annotated[str, Form(max_length=5)] = "",
    siu_listen_port: Annotated[str, Form(max_length=5)] = "",
) -> RedirectResponse:
    """Save the EHR link settings and apply them in this server process."""
    values: dict[str, Any] = {
        "fhir_base_url": _blank(fhir_base_url),
        "smart_token_url": _blank(smart_token_url),
        "smart_client_id": _blank(smart_client_id),
        "smart_private_key_file": _blank(smart_private_key_file),
        "smart_key_id": _blank(smart_key_id),
        "smart_algorithm": smart_algorithm,
        "schedule_poll_seconds": schedule_poll_seconds.strip() or "0",
        "send_feedback": send_feedback == "1",
        "hl7_host": _blank(hl7_host),
        "hl7_port": _blank(hl7_port),
        "siu_listen_port": _blank(siu_listen_port),
    }
    for url_field in ("fhir_base_url", "smart_token_url"):
        url = values[url_field]
        if url is not None and not url.startswith(("https://", "http://")):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"{url_field} must start with https://"
            )
    if values["smart_client_id"] and not values["smart_private_key_file"]:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "smart_private_key_file is required with smart_client_id",
        )
    base: EhrSettings = request.app.state.ehr_base_settings
    try:
        checked = EhrSettings.model_validate({**base.model_dump(), **values})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{where}: {first['msg']}"
        ) from None
    stored = {k: checked.model_dump()[k] for k in values}
    row = session.get(EhrConfigRow, 1)
    if row is None:
        session.add(EhrConfigRow(id=1, values=stored, updated_by=admin.username))
    else:
        row.values = stored
        row.updated_by = admin.username
    audit(
        session=session,
        action="ehr.settings",
        user=admin,
        details={"targets": list(checked.targets)},
    )
    session.flush()
    runtime.reconfigure(request.app, session)
    return _back("ehr-saved")


@router.post("/dashboard/admin/ehr/pull")
def pull_schedule_now(
    request: Request, session: SessionDep, admin: CurrentAdmin, _csrf: CsrfProtected
) -> RedirectResponse:
    """Pull today's and tomorrow's schedule from the FHIR server now."""
    settings: EhrSettings = request.app.state.ehr_settings
    if not settings.fhir_enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, "no FHIR server is configured")
    poller = request.app.state.ehr_poller
    if poller is not None:
        poller.pull_now()
    else:
        from clinic.ehr.schedule import SchedulePoller

        # Polling is off: one pull in the background, then the thread ends.
        once = SchedulePoller(
            settings.model_copy(update={"schedule_poll_seconds": 0}),
            request.app.state.db.writer,
            request.app.state.settings.tz,
        )
        once.start_once()
    audit(session=session, action="ehr.pull", user=admin)
    return _back("ehr-pull")


# Same shape as the form handlers in clinic/dashboard/admin.py (look up, change, audit, back):
# kept apart as each has its own fields; this file owns the EHR part of the admin page.
@router.post("/dashboard/admin/ehr/messages/{message_id}/retry")
def retry_message(
    request: Request,
    message_id: int,
    session: SessionDep,
    admin: CurrentAdmin,
    _csrf: CsrfProtected,
) -> RedirectResponse:
    """Send a refused or given-up message again (after the cause was fixed in the EHR)."""
    message = session.get(EhrOutbox, message_id)
    if message is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such EHR message")
    if message.status not in (OutboxStatus.REFUSED, OutboxStatus.GAVE_UP):
        raise HTTPException(status.HTTP_409_CONFLICT, f"the message is {message.status}")
    now = utcnow()
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.created_at = now  # the give-up clock starts again
    message.next_attempt_at = now
    message.done_at = None
    audit(session=session, action="ehr.retry", user=admin, target=f"ehr_outbox:{message_id}")
    worker = request.app.state.ehr_worker
    if worker is not None:
        session.info["ehr_wake"] = True
    return _back("ehr-retry")
