"""Kiosk API (sync/protocol.py): pairing, record ingest, pull, heartbeat."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from clinic.alerting import send_soon
from clinic.deps import CurrentKiosk, CurrentPullingKiosk, SessionDep, SettingsDep
from clinic.ingest import ALERT_EMAIL_PENDING, ingest_batch
from clinic.kiosks import (
    HEARTBEAT_WRITE_SECONDS,
    PairingError,
    PullCache,
    etag_matches,
    pair_kiosk,
    pull_json,
    record_heartbeat,
)
from clinic.live import publish
from clinic.models import Kiosk, utcnow
from clinic.security import RateLimiter, retry_after_header
from sync.protocol import (
    HEARTBEAT_PATH,
    INGEST_PATH,
    PAIR_PATH,
    PULL_PATH,
    PULL_WAIT_RANGES_PARAM,
    Heartbeat,
    HeartbeatResponse,
    IngestBatch,
    IngestResponse,
    KioskPull,
    PairRequest,
    PairResponse,
)

router = APIRouter(tags=["kiosk"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown kiosk token"},
    403: {"description": "Kiosk revoked"},
    413: {"description": "Body over 2 MiB or batch over MAX_BATCH_RECORDS"},
    422: {"description": "Request does not fit the schema (unknown fields included)"},
    429: {"description": "Too many requests: see Retry-After"},
}


@router.post(
    PAIR_PATH,
    status_code=status.HTTP_201_CREATED,
    response_model=PairResponse,
    responses={
        400: {"description": "Pairing code unknown, expired or already used"},
        413: _ERRORS[413],
        429: _ERRORS[429],
    },
)
def pair(request: Request, body: PairRequest, session: SessionDep) -> PairResponse:
    """Exchange a one-time pairing code for this kiosk's token (shown once)."""
    limiter: RateLimiter = request.app.state.pair_limiter
    address = request.client.host if request.client else "unknown"
    wait = limiter.acquire(address)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many pairing attempts",
            headers={"Retry-After": retry_after_header(wait)},
        )
    try:
        kiosk, token = pair_kiosk(
            session=session,
            code=body.code,
            kiosk_name=body.kiosk_name,
            app_version=body.app_version,
        )
    except PairingError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return PairResponse(kiosk_id=kiosk.id, token=token)


@router.post(INGEST_PATH, response_model=IngestResponse, responses=_ERRORS)
def ingest(
    request: Request,
    batch: IngestBatch,
    session: SessionDep,
    settings: SettingsDep,
    kiosk: CurrentKiosk,
) -> IngestResponse:
    """Store a batch of records; one result per record, in order (idempotent by id)."""
    results = ingest_batch(
        session=session, settings=settings, kiosk=kiosk, records=list(batch.records)
    )
    if session.info.pop(ALERT_EMAIL_PENDING, False):
        send_soon(request.app.state.db)
    return IngestResponse(results=results)


@router.get(
    PULL_PATH,
    response_model=KioskPull,
    responses={**_ERRORS, 304: {"description": "Not modified since the ETag sent"}},
)
def pull(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    kiosk: CurrentPullingKiosk,
    if_none_match: Annotated[str | None, Header()] = None,
    wait_ranges: Annotated[bool, Query(alias=PULL_WAIT_RANGES_PARAM)] = False,
) -> KioskPull | Response:
    """Return today's appointments (keyed hashes), FAQ, clinic settings and queue state."""
    cache: PullCache = request.app.state.pull_cache
    now = utcnow()
    pull_payload, etag = cache.get(
        session=session,
        settings=settings,
        now=now,
        wait_ranges=wait_ranges,
        version=kiosk.pull_version,
    )
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    if pull_payload.generated_at != now:  # built by an earlier pull
        pull_payload = pull_payload.model_copy(update={"generated_at": now})
    # Serialized here: the optional fields a kiosk did not ask for must be absent, not null.
    return JSONResponse(pull_json(pull_payload, wait_ranges=wait_ranges), headers=headers)


@router.post(HEARTBEAT_PATH, response_model=HeartbeatResponse, responses=_ERRORS)
def heartbeat(body: Heartbeat, session: SessionDep, kiosk: CurrentKiosk) -> HeartbeatResponse:
    """Record the kiosk's version, backlog and failures; return the server time."""
    before = _health(kiosk)
    was_seen = kiosk.last_heartbeat_at
    now = utcnow()
    if not record_heartbeat(session=session, kiosk=kiosk, heartbeat=body, now=now):
        return HeartbeatResponse(server_time=now)  # nothing new, stored recently
    # Open kiosk pages refetch only when what they show changed, not on every heartbeat.
    silent_before = was_seen is None or (now - was_seen).total_seconds() > KIOSK_QUIET_SECONDS
    if _health(kiosk) != before or silent_before:
        publish("kiosk", {"kiosk_id": str(kiosk.id)}, session=session)
    return HeartbeatResponse(server_time=now)


#: A heartbeat after this long without one is news for the kiosks page (back from silence).
#: Stored heartbeats are up to HEARTBEAT_WRITE_SECONDS apart while a kiosk is healthy.
KIOSK_QUIET_SECONDS = HEARTBEAT_WRITE_SECONDS + 130


def _health(kiosk: Kiosk) -> tuple[object, ...]:
    return (
        kiosk.app_version,
        kiosk.backlog,
        kiosk.failed,
        kiosk.last_error,
        kiosk.crash_count,
        kiosk.clock_problem,
    )
