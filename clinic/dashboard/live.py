"""The dashboard's live stream: server-sent events for open pages (see clinic/live.py)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse

from clinic import live
from clinic.deps import CurrentStaff

router = APIRouter(include_in_schema=False)

EVENTS_PATH = "/api/live/events"
KEEPALIVE_SECONDS = 15.0
#: A stream ends after this long and the browser reconnects, so a session that ended
#: (sign-out, idle timeout, disabled account) stops receiving events within this time.
STREAM_SECONDS = 300.0


@router.get(EVENTS_PATH)
async def events(request: Request, staff: CurrentStaff) -> StreamingResponse:
    """Stream live events (what changed, never patient data) to a signed-in page."""
    if "text/event-stream" not in request.headers.get("accept", ""):
        # Only an EventSource asks for a stream; anything else would wait on it for minutes.
        raise HTTPException(status.HTTP_406_NOT_ACCEPTABLE, "ask with Accept: text/event-stream")
    hub: live.Hub = request.app.state.live_hub
    return StreamingResponse(
        live.stream(hub, keepalive_seconds=KEEPALIVE_SECONDS, max_seconds=STREAM_SECONDS),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
