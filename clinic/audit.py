"""The append-only audit log: who viewed, exported or changed what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from clinic.models import AuditEvent, StaffUser, utcnow


def audit(
    *,
    session: Session,
    action: str,
    user: StaffUser | None = None,
    actor: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event (e.g. action="view.feedback", "export.questions", "login")."""
    event = AuditEvent(
        at=utcnow(),
        user_id=user.id if user is not None else None,
        actor=actor or (user.username if user is not None else "system"),
        action=action,
        target=target,
        details=details,
    )
    session.add(event)
    return event
