"""Queue numbers, wait estimates and the receipt a check-in or walk-in gives."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.core import KioskCore
from kiosk.facade import CheckInReceipt
from kiosk.models import CheckIn, QueueCounter, WalkIn
from kiosk.state import StateKey, get_many, parse_datetime, parse_int
from sync.protocol import follow_up_url

#: A pulled queue state older than this is ignored for the wait estimate.
QUEUE_STATE_FRESH_FOR = timedelta(hours=2)
#: Without a fresh pulled queue state, arrivals this recent count as still waiting.
LOCAL_QUEUE_LOOKBACK = timedelta(minutes=60)


def arrival_receipt(
    row: CheckIn | WalkIn, server_url: str, *, already: bool, wait_high: int | None = None
) -> CheckInReceipt:
    """Return the receipt of a check-in or walk-in row."""
    return CheckInReceipt(
        check_in_id=row.id,
        queue_number=row.queue_number,
        estimated_wait_minutes=row.estimated_wait_minutes,
        follow_up_url=follow_up_url(server_url, row.follow_up_token),
        already_checked_in=already,
        estimated_wait_high_minutes=wait_high,
    )


class WaitingRoom:
    """Hands out queue numbers and estimates the wait, inside the caller's transaction."""

    def __init__(self, core: KioskCore) -> None:
        self.core = core

    def next_queue_number(self, session: Session) -> str:
        """Allocate the next number of the clinic-local day inside the caller's transaction."""
        day = self.core.today().isoformat()
        counter = session.get(QueueCounter, day)
        if counter is None:
            counter = QueueCounter(day=day, last_number=0)
            session.add(counter)
        counter.last_number += 1
        return f"{self.core.settings.kiosk_letter}{counter.last_number:03d}"

    def estimate_wait(self, session: Session, now: datetime) -> int:
        """Estimate minutes of waiting for someone arriving now (before adding them)."""
        per_patient = self.core.settings.minutes_per_patient
        values = get_many(
            (
                StateKey.QUEUE_UPDATED_AT,
                StateKey.QUEUE_WAITING,
                StateKey.QUEUE_ESTIMATED_WAIT_MINUTES,
            ),
            session=session,
        )
        pulled_at = parse_datetime(values.get(StateKey.QUEUE_UPDATED_AT))
        waiting = parse_int(values.get(StateKey.QUEUE_WAITING))
        estimate = parse_int(values.get(StateKey.QUEUE_ESTIMATED_WAIT_MINUTES))
        fresh = (
            pulled_at is not None
            and waiting is not None
            and estimate is not None
            and timedelta(0) <= now - pulled_at <= QUEUE_STATE_FRESH_FOR
        )
        since = pulled_at if fresh and pulled_at is not None else now - LOCAL_QUEUE_LOOKBACK
        arrivals = _arrivals_since(session, since)
        if fresh and waiting is not None and estimate is not None:
            if waiting > 0 and estimate > 0:
                per_patient = max(1, round(estimate / waiting))
            return estimate + arrivals * per_patient
        return arrivals * per_patient

    def estimate_range(
        self,
        session: Session,
        now: datetime,
        *,
        clinician: str | None = None,
        starts_at: datetime | None = None,
    ) -> tuple[int, int | None]:
        """Return the wait as (low, high) from the pulled ranges; high None without them.

        A booked patient: minutes until their appointment plus the clinician's lateness
        range. A walk-in: the walk-in range, plus minutes per patient for each walk-in
        registered here since the pull. Without a fresh range: the single figure.
        """
        single = self.estimate_wait(session, now)
        values = get_many((StateKey.QUEUE_UPDATED_AT, StateKey.QUEUE_WAIT_RANGES), session=session)
        pulled_at = parse_datetime(values.get(StateKey.QUEUE_UPDATED_AT))
        raw = values.get(StateKey.QUEUE_WAIT_RANGES)
        if (
            raw is None
            or pulled_at is None
            or not timedelta(0) <= now - pulled_at <= QUEUE_STATE_FRESH_FOR
        ):
            return single, None
        try:
            ranges = json.loads(raw)
        except ValueError:
            return single, None
        if clinician is not None and starts_at is not None:
            late = (ranges.get("clinicians") or {}).get(clinician)
            if not late:
                return single, None
            until = max(0, math.ceil((starts_at - now).total_seconds() / 60))
            return until + int(late[0]), until + int(late[1])
        walk_in = ranges.get("walk_in")
        if not walk_in:
            return single, None
        since = session.scalar(
            select(func.count()).select_from(WalkIn).where(WalkIn.arrived_at >= pulled_at)
        )
        extra = int(since or 0) * self.core.settings.minutes_per_patient
        return int(walk_in[0]) + extra, int(walk_in[1]) + extra


def _arrivals_since(session: Session, since: datetime) -> int:
    check_ins = (
        select(func.count()).select_from(CheckIn).where(CheckIn.checked_in_at >= since)
    ).scalar_subquery()
    walk_ins = (
        select(func.count()).select_from(WalkIn).where(WalkIn.arrived_at >= since)
    ).scalar_subquery()
    return int(session.scalar(select(check_ins + walk_ins)) or 0)
