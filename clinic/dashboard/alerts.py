"""The unhappy-feedback alert rule: a pure function, so it is tested without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Face scores counted as unhappy (1 = very unhappy, 2 = unhappy).
UNHAPPY_FACES = frozenset({1, 2})


@dataclass(frozen=True)
class AlertRule:
    """When unhappy responses cross this threshold, staff see an alert."""

    window_minutes: int = 15
    min_responses: int = 4
    unhappy_share: float = 0.5

    def __post_init__(self) -> None:
        if self.window_minutes < 1:
            raise ValueError("window_minutes must be at least 1")
        if self.min_responses < 1:
            raise ValueError("min_responses must be at least 1")
        if not 0.0 < self.unhappy_share <= 1.0:
            raise ValueError("unhappy_share must be in (0, 1]")

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True)
class AlertDecision:
    """A window that crossed the threshold."""

    window_start: datetime
    window_end: datetime
    responses: int
    unhappy: int


def evaluate_alert(
    ratings: Iterable[tuple[datetime, int]],
    *,
    now: datetime,
    rule: AlertRule,
    last_alert_end: datetime | None = None,
) -> AlertDecision | None:
    """Return an alert if the window ending at `now` crosses the rule, else None.

    `ratings` are (rated_at, face) pairs; only those inside (now - window, now] count.
    A window overlapping the previous alert's window does not raise a second alert for
    the same burst: staff would see the same complaint twice.
    """
    start = now - rule.window
    if last_alert_end is not None and last_alert_end > start:
        return None
    responses = 0
    unhappy = 0
    for rated_at, face in ratings:
        if start < rated_at <= now:
            responses += 1
            if face in UNHAPPY_FACES:
                unhappy += 1
    if responses < rule.min_responses:
        return None
    if unhappy < rule.unhappy_share * responses:
        return None
    return AlertDecision(window_start=start, window_end=now, responses=responses, unhappy=unhappy)
