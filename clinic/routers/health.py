"""Health check for load balancers and scripts (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from clinic.deps import SessionDep
from sync.protocol import HEALTH_PATH, PROTOCOL_VERSION

router = APIRouter(tags=["health"])


@router.get(HEALTH_PATH)
def healthz(session: SessionDep, response: Response) -> dict[str, object]:
    """Report whether the server can reach its database."""
    try:
        session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "database unavailable", "protocol_version": PROTOCOL_VERSION}
    return {"status": "ok", "protocol_version": PROTOCOL_VERSION}
