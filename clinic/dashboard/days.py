"""Clinic-local calendar days in SQL: the day of a UTC timestamp.

Used by the live queries and by the stored per-day sums (rollup), which must agree on
where a day starts; both take the day's bounds from sync.rules.day_bounds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, cast, func, literal_column
from sqlalchemy.orm import Session


def local_day(column: Any, session: Session, offset_minutes: int) -> Any:
    """Return a SQL expression for the clinic-local calendar day of a UTC timestamp."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"{offset_minutes:+d} minutes")
    return cast(column + literal_column(f"interval '{int(offset_minutes)} minutes'"), Date)
