"""The "EHR link" panel of the kiosks page: per target last success, backlog, last error."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from clinic.ehr.config import EhrSettings
from clinic.ehr.queue import link_panel, problem_messages

TARGET_LABELS = {"fhir": "FHIR R4", "hl7": "HL7 v2"}


def panel_context(request: Request, session: Session) -> dict[str, Any]:
    """Return the template context of the panel (empty when no EHR link is configured)."""
    settings: EhrSettings = request.app.state.ehr_settings  # set by clinic.ehr.runtime.install
    if not settings.enabled:
        return {"configured": False}
    return {
        "configured": True,
        "links": [
            {"label": TARGET_LABELS.get(p.target, p.target), **vars(p)}
            for p in link_panel(session=session, targets=settings.targets)
        ],
        "problems": problem_messages(session=session),
    }
