"""Periodic jobs shared by every server process: which one runs this period's turn."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from clinic.db import Database
from clinic.models import MaintenanceRun


def claim_run(db: Database, *, name: str, now: datetime, every: timedelta) -> bool:
    """Claim job `name`'s turn for this process; False if another ran it within `every`.

    One row per job in `maintenance_runs`; the update only succeeds where the row still
    holds the time this process read, so of several processes one wins each period.
    """
    try:
        with db.writer.begin() as session:
            last = session.scalar(
                select(MaintenanceRun.last_run_at).where(MaintenanceRun.name == name)
            )
            if last is None:
                session.add(MaintenanceRun(name=name, last_run_at=now))
                session.flush()
                return True
            if last > now - every:
                return False
            claimed = session.execute(
                update(MaintenanceRun)
                .where(MaintenanceRun.name == name, MaintenanceRun.last_run_at == last)
                .values(last_run_at=now)
            )
            return getattr(claimed, "rowcount", 0) == 1
    except IntegrityError:  # another process inserted the first row at the same moment
        return False
