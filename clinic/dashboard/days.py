"""Clinic-local calendar days: their UTC bounds, and the SQL day of a UTC timestamp.

Used by the live queries and by the stored per-day sums (rollup), which must agree on
where a day starts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal_column
from sqlalchemy.orm import Session


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC start and end of a clinic-local calendar day."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def local_day(column: Any, session: Session, offset_minutes: int) -> Any:
    """Return a SQL expression for the clinic-local calendar day of a UTC timestamp."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"{offset_minutes:+d} minutes")
    return cast(column + literal_column(f"interval '{int(offset_minutes)} minutes'"), Date)
