"""The retry policy: which failures retry, how long to wait, and Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from sync.retry import RetryPolicy, is_retryable_status, parse_retry_after

NOW = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507, 599])
def test_transient_statuses_retry(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 304, 400, 401, 403, 404, 409, 413, 422, 501, 505])
def test_permanent_statuses_do_not_retry(status: int) -> None:
    assert not is_retryable_status(status)


def test_retry_after_seconds() -> None:
    assert parse_retry_after("120", now=NOW) == 120.0
    assert parse_retry_after(" 0 ", now=NOW) == 0.0


def test_retry_after_http_date() -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=NOW) == pytest.approx(90.0)


def test_retry_after_date_in_the_past_means_now() -> None:
    header = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_unusable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_backoff_grows_exponentially_with_full_jitter_and_cap() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0, floor_seconds=0.0)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (500, 30.0)]:
        draws = [policy.backoff_seconds(attempts, rng) for _ in range(2000)]
        assert max(draws) <= ceiling
        # Full jitter: spread over the whole range, not clustered at the ceiling.
        assert min(draws) < ceiling * 0.05
        assert max(draws) > ceiling * 0.95


def test_backoff_never_below_floor() -> None:
    policy = RetryPolicy(base_seconds=1.0, floor_seconds=0.25)
    rng = random.Random(1)
    assert min(policy.backoff_seconds(1, rng) for _ in range(2000)) >= 0.25


def test_retry_after_is_a_lower_bound() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=4.0)
    rng = random.Random(3)
    for _ in range(200):
        when = policy.next_attempt_at(attempts=1, now=NOW, rng=rng, retry_after=60.0)
        assert when >= NOW + timedelta(seconds=60)
        assert when <= NOW + timedelta(seconds=60)  # backoff (<= 1 s) is below it


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(cap_seconds=10.0, retry_after_cap_seconds=600.0)
    rng = random.Random(3)
    when = policy.next_attempt_at(attempts=2, now=NOW, rng=rng, retry_after=7 * 24 * 3600.0)
    assert when == NOW + timedelta(seconds=600)


def test_next_attempt_without_retry_after_uses_backoff() -> None:
    policy = RetryPolicy(base_seconds=2.0, cap_seconds=100.0, floor_seconds=0.0)
    rng = random.Random(11)
    for attempts in range(1, 8):
        when = policy.next_attempt_at(attempts=attempts, now=NOW, rng=rng)
        assert NOW <= when <= NOW + timedelta(seconds=min(100.0, 2.0 * 2 ** (attempts - 1)))
