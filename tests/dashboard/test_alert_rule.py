"""The unhappy-feedback alert rule (pure function)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clinic.dashboard.alerts import AlertRule, evaluate_alert

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RULE = AlertRule()


def at(minutes_ago: float, face: int) -> tuple[datetime, int]:
    return NOW - timedelta(minutes=minutes_ago), face


def test_half_unhappy_with_four_responses_raises() -> None:
    decision = evaluate_alert([at(1, 1), at(2, 2), at(3, 5), at(4, 4)], now=NOW, rule=RULE)
    assert decision is not None
    assert (decision.responses, decision.unhappy) == (4, 2)
    assert decision.window_end - decision.window_start == timedelta(minutes=15)


def test_three_responses_are_not_enough_even_if_all_unhappy() -> None:
    assert evaluate_alert([at(1, 1), at(2, 1), at(3, 2)], now=NOW, rule=RULE) is None


def test_less_than_half_unhappy_does_not_raise() -> None:
    ratings = [at(1, 1), at(2, 3), at(3, 5), at(4, 4), at(5, 2)]  # 2 of 5
    assert evaluate_alert(ratings, now=NOW, rule=RULE) is None


def test_face_three_is_not_unhappy() -> None:
    assert evaluate_alert([at(1, 3)] * 4 + [at(2, 2)], now=NOW, rule=RULE) is None


def test_ratings_outside_the_window_do_not_count() -> None:
    ratings = [at(16, 1), at(20, 1), at(1, 1), at(2, 5), at(3, 5)]
    assert evaluate_alert(ratings, now=NOW, rule=RULE) is None
    assert evaluate_alert(ratings + [at(14.9, 2)], now=NOW, rule=RULE) is not None


def test_future_ratings_do_not_count() -> None:
    ratings = [at(-5, 1), at(-6, 1), at(1, 1), at(2, 1), at(3, 5)]
    assert evaluate_alert(ratings, now=NOW, rule=RULE) is None


def test_same_burst_does_not_alert_twice() -> None:
    ratings = [at(1, 1), at(2, 1), at(3, 1), at(4, 1)]
    assert (
        evaluate_alert(ratings, now=NOW, rule=RULE, last_alert_end=NOW - timedelta(minutes=5))
        is None
    )
    assert (
        evaluate_alert(ratings, now=NOW, rule=RULE, last_alert_end=NOW - timedelta(minutes=16))
        is not None
    )


def test_configured_threshold() -> None:
    rule = AlertRule(window_minutes=60, min_responses=2, unhappy_share=1.0)
    assert evaluate_alert([at(50, 1), at(40, 2)], now=NOW, rule=rule) is not None
    assert evaluate_alert([at(50, 1), at(40, 3)], now=NOW, rule=rule) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"window_minutes": 0}, {"min_responses": 0}, {"unhappy_share": 0}, {"unhappy_share": 1.5}],
)
def test_nonsense_rules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AlertRule(**kwargs)  # type: ignore[arg-type]


def test_a_burst_nobody_looked_at_is_found_later() -> None:
    burst = [at(70, 1), at(68, 2), at(66, 1), at(65, 5)]
    calm = [at(30, 5), at(20, 4), at(10, 5), at(5, 5), at(1, 4)]
    assert evaluate_alert(burst + calm, now=NOW, rule=RULE) is None  # last 15 min are fine
    found = evaluate_alert(burst + calm, now=NOW, rule=RULE, since=NOW - timedelta(hours=2))
    assert found is not None
    assert found.window_end == NOW - timedelta(minutes=65)  # the 4th response crossed it
    assert (found.responses, found.unhappy) == (4, 3)


def test_two_separate_bursts_raise_two_alerts() -> None:
    first = [at(100, 1), at(99, 1), at(98, 1), at(97, 1)]
    second = [at(40, 2), at(39, 2), at(38, 2), at(37, 2)]
    one = evaluate_alert(first + second, now=NOW, rule=RULE, since=NOW - timedelta(hours=3))
    assert one is not None and one.window_end == NOW - timedelta(minutes=97)
    two = evaluate_alert(
        first + second,
        now=NOW,
        rule=RULE,
        since=NOW - timedelta(hours=3),
        last_alert_end=one.window_end,
    )
    assert two is not None and two.window_end == NOW - timedelta(minutes=37)
    assert (
        evaluate_alert(
            first + second,
            now=NOW,
            rule=RULE,
            since=NOW - timedelta(hours=3),
            last_alert_end=two.window_end,
        )
        is None
    )
