"""The sync mark and the staff corner's status: outbox backlog, sync and clock health."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.clockcheck import clock_problem
from kiosk.core import KioskCore
from kiosk.facade import SyncStatus
from kiosk.state import StateKey, get_many, parse_datetime, parse_int
from sync import outbox

_STATUS_KEYS = (
    StateKey.LAST_SUCCESS_AT,
    StateKey.ONLINE,
    StateKey.KIOSK_TOKEN,
    StateKey.REVOKED,
    StateKey.LAST_ERROR,
    StateKey.CLOCK_SKEW_SECONDS,
)


def sync_status(core: KioskCore) -> SyncStatus:
    """Return the outbox backlog, sync health and clock health (constant cost)."""
    with core.db.read_session() as session:
        numbers = outbox.counts(session=session)  # trigger-kept counters, no scan
        values = get_many(_STATUS_KEYS, session=session)
        last_failure = _last_failure(session) if numbers["failed"] else None
    skew = parse_int(values.get(StateKey.CLOCK_SKEW_SECONDS))
    problem = clock_problem(core.now(), skew)
    return SyncStatus(
        pending=numbers["pending"] + numbers["in_flight"],
        failed=numbers["failed"],
        last_success_at=parse_datetime(values.get(StateKey.LAST_SUCCESS_AT)),
        online=None if StateKey.ONLINE not in values else values[StateKey.ONLINE] == "1",
        paired=bool(values.get(StateKey.KIOSK_TOKEN)),
        revoked=values.get(StateKey.REVOKED) == "1",
        last_error=values.get(StateKey.LAST_ERROR),
        last_failure=last_failure,
        clock_problem=problem.value if problem else None,
        clock_skew_seconds=skew,
    )


def _last_failure(session: Session) -> str | None:
    """Return the kind and reason of the newest record parked as failed."""
    row = session.execute(
        select(outbox.OutboxRecord.kind, outbox.OutboxRecord.last_error)
        .where(outbox.OutboxRecord.status == outbox.OutboxStatus.FAILED)
        .order_by(outbox.OutboxRecord.next_attempt_at.desc())
        .limit(1)
    ).first()
    return None if row is None else f"{row.kind}: {row.last_error or '?'}"
