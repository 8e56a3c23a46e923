"""The unhappy-feedback alert rule: a pure function, so it is tested without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.rules import UNHAPPY_FACES


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
    since: datetime | None = None,
) -> AlertDecision | None:
    """Return the first window that crossed the rule, or None.

    `ratings` are (rated_at, face) pairs. Every window of `rule.window` ending at a rating
    in (since, now] is checked (default since: now - window), so a burst nobody was looking
    at is still found later. A window overlapping the previous alert's window is skipped:
    one burst raises one alert, not one per new rating.
    """
    if since is None:
        since = now - rule.window
    ordered = sorted((r for r in ratings if r[0] <= now), key=lambda r: r[0])
    start = 0
    unhappy = 0
    for end, (at, face) in enumerate(ordered):
        if face in UNHAPPY_FACES:
            unhappy += 1
        while ordered[start][0] <= at - rule.window:
            if ordered[start][1] in UNHAPPY_FACES:
                unhappy -= 1
            start += 1
        if at <= since:
            continue
        window_start = at - rule.window
        if last_alert_end is not None and window_start < last_alert_end:
            continue
        responses = end - start + 1
        if responses >= rule.min_responses and unhappy >= rule.unhappy_share * responses:
            return AlertDecision(
                window_start=window_start, window_end=at, responses=responses, unhappy=unhappy
            )
    return None
