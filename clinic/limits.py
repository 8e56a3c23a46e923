"""Rate limits shared by every server process and host, kept in the database.

The algorithm is GCRA (the generic cell rate algorithm, a token bucket stored as one
number): each key's row holds its "theoretical arrival time" `tat`. A request at time `now`
is allowed when max(tat, now) + interval - now <= burst * interval, and then moves `tat` on by
one interval. One `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING` decides and
records it atomically, so concurrent processes cannot both take the last token. The clock
is the database's, so hosts with skewed clocks agree.

On SQLite (one process) the in-memory `clinic.security.RateLimiter` does the same job.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from sqlalchemy import Engine, text

from clinic.security import RateLimiter

#: Rows idle longer than their bucket's refill time carry no information; pruned by the checker.
_ACQUIRE = text(
    """
    INSERT INTO rate_limits AS r (key, tat)
    VALUES (:key, extract(epoch from clock_timestamp()) + :interval)
    ON CONFLICT (key) DO UPDATE
        SET tat = greatest(r.tat, extract(epoch from clock_timestamp())) + :interval
        WHERE greatest(r.tat, extract(epoch from clock_timestamp())) + :interval
              - extract(epoch from clock_timestamp()) <= :tolerance
    RETURNING tat
    """
)
_WAIT = text(
    "SELECT r.tat - extract(epoch from clock_timestamp()) FROM rate_limits r WHERE r.key = :key"
)
_PRUNE = text(
    "DELETE FROM rate_limits WHERE tat < extract(epoch from clock_timestamp()) - :older_than"
    " AND key NOT LIKE 'first_seen:%'"
)
_PRUNE_FIRST_SEEN = text(
    "DELETE FROM rate_limits WHERE key LIKE 'first_seen:%'"
    " AND tat < extract(epoch from clock_timestamp()) - :older_than"
)
_FIRST_SEEN = text(
    """
    INSERT INTO rate_limits AS r (key, tat)
    VALUES (:key, extract(epoch from clock_timestamp()))
    ON CONFLICT (key) DO UPDATE SET tat = r.tat
    RETURNING extract(epoch from clock_timestamp()) - r.tat
    """
)


class Limiter(Protocol):
    """Take one request's token for a key: 0 if allowed, else seconds to wait."""

    def acquire(self, key: str) -> float: ...


class SharedRateLimiter:
    """A per-key limit of `per_minute` with bursts of `burst`, shared through PostgreSQL."""

    def __init__(
        self, engine: Engine, name: str, per_minute: int, burst: int | None = None
    ) -> None:
        # One autocommit statement per request: no transaction of the caller's is held.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.name = name
        self.interval = 60.0 / per_minute
        self.burst = burst if burst is not None else per_minute
        # Allowed while the bucket's debt stays within `burst` intervals.
        self.tolerance = self.interval * self.burst

    def acquire(self, key: str) -> float:
        """Take one token for key; return 0 if allowed, else seconds until one is available."""
        full_key = f"{self.name}:{key}"[:200]
        with self.engine.connect() as conn:
            allowed = conn.execute(
                _ACQUIRE,
                {"key": full_key, "interval": self.interval, "tolerance": self.tolerance},
            ).first()
            if allowed is not None:
                return 0.0
            ahead = conn.execute(_WAIT, {"key": full_key}).scalar() or 0.0
        # Debt beyond the tolerance is what the client must wait for.
        return max(0.001, float(ahead) + self.interval - self.tolerance)


def prune(engine: Engine, *, older_than_seconds: float = 3600.0) -> int:
    """Delete buckets that have been full for a while (same answer as no row); return count."""
    with engine.begin() as conn:
        result = conn.execute(_PRUNE, {"older_than": older_than_seconds})
        conn.execute(_PRUNE_FIRST_SEEN, {"older_than": FIRST_SEEN_KEEP_SECONDS})
        return int(getattr(result, "rowcount", 0) or 0)


#: First sightings are kept this long (longer than any grace period that reads them).
FIRST_SEEN_KEEP_SECONDS = 2 * 86400


class SharedFirstSeen:
    """When any process first saw a value (e.g. an unknown follow-up token), in PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def age(self, value: str) -> float:
        """Return seconds since the value was first seen by any process (0 the first time)."""
        key = "first_seen:" + hashlib.sha256(value.encode()).hexdigest()
        with self.engine.connect() as conn:
            return max(0.0, float(conn.execute(_FIRST_SEEN, {"key": key}).scalar() or 0.0))


def limits_engine(database_url: str) -> Engine:
    """Return an engine of its own for the limits (autocommit, its own pool).

    A request asks the limiter while its own session may already hold a pooled connection;
    sharing one pool, a burst of requests could each hold one and all wait for a second.
    """
    from sqlalchemy import create_engine

    return create_engine(
        database_url,
        isolation_level="AUTOCOMMIT",
        # As many as a process's request threads (anyio's 40): none waits for another.
        pool_size=5,
        max_overflow=35,
        hide_parameters=True,
    )


def make_limiter(
    engine: Engine, *, shared: bool, name: str, per_minute: int, burst: int | None = None
) -> Limiter:
    """Return a limiter shared through the database, or this process's in-memory one."""
    if shared:
        return SharedRateLimiter(engine, name, per_minute, burst)
    return RateLimiter(per_minute, burst)
