"""When to try again: a pure retry policy for kiosk -> server requests.

Modelled on segment's analytics-python (`consumer.py`, `request.py`): retry timeouts,
connection errors, 408, 429 and 5xx except 501/505; back off exponentially with full
jitter, capped; honour the server's Retry-After (seconds or HTTP-date), itself capped so a
bogus header cannot park a kiosk for a week. Everything here is a pure function of its
inputs (the random source is passed in), so it is tested without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

#: HTTP statuses after which the same request may succeed later.
RETRYABLE_STATUSES = frozenset({408, 429})
#: 5xx statuses that will not change by waiting (not implemented, version not supported).
NON_RETRYABLE_5XX = frozenset({501, 505})


def is_retryable_status(status: int) -> bool:
    """Return whether a whole-request HTTP status is worth retrying."""
    if status in RETRYABLE_STATUSES:
        return True
    return 500 <= status <= 599 and status not in NON_RETRYABLE_5XX


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Return the delay a Retry-After header asks for in seconds (>= 0), or None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; email.utils leaves some naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, honouring (capped) Retry-After."""

    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    #: Longest Retry-After obeyed; a longer one is cut to this (and logged by the worker).
    retry_after_cap_seconds: float = 3600.0
    #: Smallest delay, so a zero draw of the jitter does not hammer a failing server.
    floor_seconds: float = 0.05

    def backoff_seconds(self, attempts: int, rng: random.Random) -> float:
        """Return a jittered delay after `attempts` consecutive failures (attempts >= 1)."""
        exponent = max(0, attempts - 1)
        # min() before ** would overflow for large attempt counts; compare exponents instead.
        ceiling = (
            self.cap_seconds
            if exponent >= 63
            else min(self.cap_seconds, self.base_seconds * (2**exponent))
        )
        return max(self.floor_seconds, rng.uniform(0.0, ceiling))

    def delay_seconds(
        self, attempts: int, rng: random.Random, retry_after: float | None = None
    ) -> float:
        """Return how long to wait: the backoff, but never less than a (capped) Retry-After."""
        delay = self.backoff_seconds(attempts, rng)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap_seconds))
        return delay

    def next_attempt_at(
        self,
        *,
        attempts: int,
        now: datetime,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> datetime:
        """Return when to try again after `attempts` failures, given an optional Retry-After."""
        return now + timedelta(seconds=self.delay_seconds(attempts, rng, retry_after))
