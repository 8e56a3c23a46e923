"""The background sync worker: one daemon thread that drains the outbox and pulls updates.

Shaped like sentry_sdk's `worker.py`: a daemon thread that wakes and stops on an Event,
sleeps in short slices so shutdown is prompt, and on shutdown finishes (or abandons) the
request in flight within a bound. Unlike a telemetry queue, the queue is the SQLite outbox
on disk: nothing is held only in memory, so an abandoned request or a kill -9 loses
nothing (rows left in flight go back to pending at the next start, and the server's
UUID idempotency turns a resend into a harmless duplicate).

Dependencies point one way: the worker takes a session factory and callbacks (`SyncHooks`)
and never imports kiosk code. It never logs patient data: only record ids, kinds, HTTP
statuses and the server's reason.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sync import outbox
from sync.client import (
    DEFAULT_TIMEOUT,
    KioskClient,
    Refused,
    Retryable,
    Revoked,
    SyncError,
    Unauthorized,
)
from sync.outbox import OutboxStatus, utcnow
from sync.protocol import (
    ACKED_OUTCOMES,
    MAX_BATCH_RECORDS,
    PARKED_OUTCOMES,
    Heartbeat,
    KioskPull,
    RecordOutcome,
)
from sync.retry import RetryPolicy

log = logging.getLogger(__name__)

#: A claimed row as the worker carries it: (id, kind, attempts, wire JSON).
_Row = tuple[str, str, int, dict[str, Any]]


@dataclass(frozen=True)
class Credentials:
    server_url: str
    token: str


@dataclass
class SyncHooks:
    """How the worker reaches its host application (all called from the worker thread)."""

    #: Current server URL and token, or None when the kiosk is not paired.
    credentials: Callable[[], Credentials | None]
    #: Persist a fresh pull and its ETag (in one transaction of the host's choosing).
    on_pull: Callable[[KioskPull, str | None], None]
    #: The ETag of the pull stored last time, so a restart does not refetch unchanged data.
    load_etag: Callable[[], str | None] = lambda: None
    #: Status changes, keyed like kiosk.state: online, revoked, last_error, last_success_at,
    #: last_attempt_at. Only changed values are reported.
    on_status: Callable[[dict[str, Any]], None] = lambda _changes: None
    #: Extra heartbeat fields from the host (crash count, clock problem...).
    heartbeat_extras: Callable[[], dict[str, Any]] = lambda: {}
    #: Called after each transaction that changed outbox rows' statuses (for the UI's mark).
    on_outbox_change: Callable[[], None] = lambda: None


@dataclass
class WorkerSettings:
    app_version: str = "0"
    batch_size: int = 100
    pull_interval: float = 30.0
    heartbeat_interval: float = 60.0
    #: How often an idle worker looks for newly saved rows (a nudge() wakes it sooner).
    poll_interval: float = 0.5
    #: How often a kiosk whose token was refused asks again (a re-pairing is picked up at once).
    auth_recheck_interval: float = 60.0
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: Timestamps like last_success_at are reported at most this often.
    status_min_interval: float = 1.0
    #: The pairing (server URL, token) is read again at most this often while draining.
    credentials_ttl: float = 1.0
    #: The measured clock skew is reported in steps of this many seconds (the Date header
    #: has 1 s resolution, and latency adds noise).
    clock_skew_step: int = 5


class SyncWorker:
    """Deliver outbox rows to the clinic server and pull updates, in a daemon thread."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        hooks: SyncHooks,
        settings: WorkerSettings | None = None,
        *,
        client_factory: Callable[..., KioskClient] = KioskClient,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._hooks = hooks
        self.settings = settings or WorkerSettings()
        self._client_factory = client_factory
        self._clock = clock
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: KioskClient | None = None
        self._credentials: Credentials | None = None
        self._batch_limit = min(self.settings.batch_size, MAX_BATCH_RECORDS)
        self._failures = 0  # consecutive whole-request failures
        self._not_before: datetime | None = None  # no request of any kind before this
        self._auth_refused = False
        self._next_pull_at: datetime | None = None
        self._next_heartbeat_at: datetime | None = None
        self._etag: str | None = None
        self._reported: dict[str, Any] = {}
        self._reported_at: dict[str, datetime] = {}
        self._last_error: str | None = None
        self._held: dict[str, Any] = {}
        self._prefetched: list[_Row] = []
        self._creds_cache: Credentials | None = None
        self._creds_read_at: float | None = None

    # --- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("worker already started")
        self._thread = threading.Thread(target=self._run, name="sync-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop within `timeout` s; True if the thread ended, False if a request was abandoned.

        An abandoned request changes nothing on disk until it returns: its rows stay in
        flight and go back to pending at the next start.
        """
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("sync worker still waiting for the server after %.1fs; abandoned", timeout)
            return False
        return True

    def nudge(self) -> None:
        """Wake the worker now (e.g. right after a record was saved)."""
        self._wake.set()

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with self._session_factory() as session, session.begin():
                reset = outbox.reset_in_flight(session=session)
            if reset:
                log.info("sync: %d rows left in flight by the last run are pending again", reset)
            self._etag = self._hooks.load_etag()
        except Exception:
            log.exception("sync worker could not start")
            return
        while not self._stop.is_set():
            try:
                busy = self._cycle()
            except Exception:  # never let one bad cycle kill the thread
                log.exception("sync cycle failed")
                busy = False
                self._sleep(self.settings.poll_interval * 4)
            if not busy:
                self._flush_status()
                self._sleep(self._idle_wait())
        try:
            self._release_prefetched()
        except Exception:
            log.exception("sync: could not release claimed rows (reset at next start)")
        self._flush_status()
        self._close_client()

    def _sleep(self, seconds: float) -> None:
        # Waiting on the Event is the slice: stop() and nudge() end it at once.
        if seconds > 0 and not self._stop.is_set():
            self._wake.wait(seconds)
        self._wake.clear()

    def _idle_wait(self) -> float:
        wait = self.settings.poll_interval
        if self._not_before is not None:
            gap = (self._not_before - self._clock()).total_seconds()
            wait = min(wait, max(gap, 0.0)) if gap > 0 else wait
        return max(wait, 0.01)

    def _may_send(self) -> bool:
        """Return whether a request may leave now (not stopping, no Retry-After pending)."""
        if self._stop.is_set():
            return False
        return self._not_before is None or self._clock() >= self._not_before

    def _cycle(self) -> bool:
        """Do one round of work; return True if more work is likely due right away."""
        creds = self._current_credentials()
        if creds is None:
            self._close_client()
            self._report(online=None)
            return False
        client = self._client_for(creds)
        now = self._clock()
        if self._auth_refused:
            # Ask again now and then (cheaply) whether the server takes the token again.
            if (
                self._may_send()
                and self._next_heartbeat_at is not None
                and (now >= self._next_heartbeat_at)
            ):
                self._heartbeat(client)
            return False
        if self._may_send() and self._due(self._next_pull_at, self.settings.pull_interval, now):
            self._pull(client)
        if self._may_send() and self._due(
            self._next_heartbeat_at, self.settings.heartbeat_interval, now
        ):
            self._heartbeat(client)
        if not self._may_send() or self._auth_refused:
            return False
        sent, full = self._push(client)
        return full

    def _due(self, at: datetime | None, interval: float, now: datetime) -> bool:
        """Return whether a periodic request is due; a clock set back makes it due at once.

        Deadlines are wall-clock times: without this, a kiosk whose clock is corrected
        backwards by an hour would not pull or send a heartbeat for that hour.
        """
        if at is None or now >= at:
            return True
        return (at - now).total_seconds() > interval + self.settings.policy.cap_seconds

    def _current_credentials(self) -> Credentials | None:
        """Return the pairing, read from the host at most every `credentials_ttl` seconds."""
        now = time.monotonic()
        if self._creds_read_at is None or now - self._creds_read_at >= (
            self.settings.credentials_ttl
        ):
            self._creds_cache = self._hooks.credentials()
            self._creds_read_at = now
        return self._creds_cache

    def nudge_credentials(self) -> None:
        """Make the next cycle read the pairing again (after pairing or unpairing)."""
        self._creds_read_at = None
        self._wake.set()

    def _client_for(self, creds: Credentials) -> KioskClient:
        if self._client is None or creds != self._credentials:
            self._close_client()
            self._client = self._client_factory(
                creds.server_url, creds.token, timeout=self.settings.timeout
            )
            if self._credentials is not None:  # re-paired: start afresh with the new server
                self._etag = None
            self._credentials = creds
            self._auth_refused = False
            self._failures = 0
            self._not_before = None
            self._next_pull_at = None
            self._next_heartbeat_at = None
        return self._client

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- failures shared by every request ----------------------------------------------
    def _on_retryable(self, exc: Retryable, what: str) -> datetime:
        """Record a retryable failure; block all requests until the returned deadline."""
        self._failures += 1
        now = self._clock()
        policy = self.settings.policy
        if exc.retry_after is not None and exc.retry_after > policy.retry_after_cap_seconds:
            log.warning(
                "sync: Retry-After %.0fs capped to %.0fs",
                exc.retry_after,
                policy.retry_after_cap_seconds,
            )
        until = policy.next_attempt_at(
            attempts=self._failures, now=now, rng=self._rng, retry_after=exc.retry_after
        )
        if self._not_before is None or until > self._not_before:
            self._not_before = until
        log.info(
            "sync: %s failed (%s); next request in %.2fs",
            what,
            exc.reason,
            (until - now).total_seconds(),
        )
        self._report_error(exc.reason, online=False)
        return until

    def _on_unauthorized(self, exc: Unauthorized) -> None:
        revoked = isinstance(exc, Revoked)
        reason = "kiosk revoked by the server" if revoked else "server refused the kiosk token"
        if not self._auth_refused:
            log.warning("sync: %s; records stay on the kiosk", reason)
        self._auth_refused = True
        self._next_heartbeat_at = self._clock() + timedelta(
            seconds=self.settings.auth_recheck_interval
        )
        self._report_error(reason, online=True, revoked=True)

    def _check_clock(self) -> None:
        """Report how far this kiosk's clock is from the server's last Date header."""
        server = self._client.last_server_date if self._client is not None else None
        if server is None:
            return
        skew = (self._clock() - server).total_seconds()
        step = max(1, self.settings.clock_skew_step)
        # The Date header is truncated to the second: a kiosk in step reads 0..1 s ahead.
        self._report(clock_skew_seconds=int(round((skew - 0.5) / step)) * step)

    def _on_success(self) -> None:
        self._failures = 0
        self._check_clock()
        now = self._clock()
        if self._auth_refused:
            log.info("sync: server accepts the kiosk token again")
        self._auth_refused = False
        self._last_error = None
        self._report(online=True, revoked=False, last_error=None, last_success_at=now)

    # --- pull and heartbeat ------------------------------------------------------------
    def _pull(self, client: KioskClient) -> None:
        self._report(last_attempt_at=self._clock())
        # Same three refusals as _heartbeat's: kept inline because each sets its own next time.
        try:
            result = client.pull(self._etag)
        except Retryable as exc:
            self._next_pull_at = self._on_retryable(exc, "pull")
            return
        except Unauthorized as exc:
            self._on_unauthorized(exc)
            return
        except Refused as exc:
            log.warning("sync: pull refused (%s); trying again later", exc)
            self._next_pull_at = self._clock() + timedelta(seconds=self.settings.pull_interval)
            return
        if result is not None:
            self._hooks.on_pull(result.pull, result.etag)
            self._etag = result.etag
        self._next_pull_at = self._clock() + timedelta(seconds=self.settings.pull_interval)
        self._on_success()

    def _heartbeat(self, client: KioskClient) -> None:
        with self._session_factory() as session:
            counts = outbox.counts(session=session)
        try:
            extras = self._hooks.heartbeat_extras()
        except Exception:  # the heartbeat itself matters more than its extras
            log.exception("sync: heartbeat extras unavailable")
            extras = {}
        beat = Heartbeat(
            app_version=self.settings.app_version[:32] or "0",
            backlog=counts[OutboxStatus.PENDING] + counts[OutboxStatus.IN_FLIGHT],
            failed=counts[OutboxStatus.FAILED],
            last_error=(self._last_error or None) and self._last_error[:500],
            **extras,
        )
        interval = timedelta(seconds=self.settings.heartbeat_interval)
        # Same three refusals as _pull's: kept inline because each sets its own next time.
        try:
            client.heartbeat(beat)
        except Retryable as exc:
            self._next_heartbeat_at = self._on_retryable(exc, "heartbeat")
            return
        except Unauthorized as exc:
            self._on_unauthorized(exc)
            return
        except Refused as exc:
            log.warning("sync: heartbeat refused (%s)", exc)
            self._next_heartbeat_at = self._clock() + interval
            return
        self._next_heartbeat_at = self._clock() + interval
        self._on_success()

    # --- push --------------------------------------------------------------------------
    def _push(self, client: KioskClient) -> tuple[int, bool]:
        """Send one batch of due rows; return (rows claimed, whether the batch was full)."""
        limit = self._batch_limit
        now = self._clock()
        batch, self._prefetched = self._prefetched, []
        if not batch:
            with self._session_factory() as session, session.begin():
                batch = self._claim(session, limit, now)
        if not batch:
            return 0, False
        self._report(last_attempt_at=now)
        try:
            results = client.send_batch([wire for _, _, _, wire in batch])
        except Retryable as exc:
            until = self._on_retryable(exc, f"sending {len(batch)} records")
            self._reschedule_all(batch, until, exc.reason)
            return len(batch), False
        except Unauthorized as exc:
            self._on_unauthorized(exc)
            self._reschedule_all(batch, self._clock(), str(exc) or "unauthorized")
            return len(batch), False
        except Refused as exc:
            self._on_refused(batch, exc)
            return len(batch), True
        except SyncError as exc:  # pragma: no cover - every SyncError is one of the above
            until = self._on_retryable(Retryable(str(exc)), "sending")
            self._reschedule_all(batch, until, str(exc))
            return len(batch), False
        self._batch_limit = min(self._batch_limit * 2, self.settings.batch_size, MAX_BATCH_RECORDS)
        parked = self._apply_results(batch, results, prefetch=len(batch) >= limit)
        self._outbox_changed()
        self._on_success()
        if parked:
            self._report_error(parked[-1])
        return len(batch), len(batch) >= limit

    def _reschedule_all(self, batch: list[_Row], until: datetime, reason: str) -> None:
        with self._session_factory() as session, session.begin():
            for record_id, _kind, _attempts, _wire in batch:
                outbox.reschedule(
                    record_id, session=session, next_attempt_at=until, reason=reason[:1000]
                )

    def _on_refused(self, batch: list[_Row], exc: Refused) -> None:
        """Whole request refused (413, 422...): halve the batch to find the culprit, then park."""
        if len(batch) > 1:
            self._batch_limit = max(1, len(batch) // 2)
            log.info(
                "sync: batch of %d refused (HTTP %d); retrying in batches of %d",
                len(batch),
                exc.status,
                self._batch_limit,
            )
            self._reschedule_all(batch, self._clock(), f"batch refused: HTTP {exc.status}")
            return
        record_id, kind, _attempts, _wire = batch[0]
        reason = f"refused: HTTP {exc.status}: {exc.reason}"
        log.warning("sync: giving up on %s record %s: %s", kind, record_id, reason)
        with self._session_factory() as session, session.begin():
            outbox.mark_failed(record_id, session=session, reason=reason)
        self._outbox_changed()
        self._report_error(reason, online=True)

    def _outbox_changed(self) -> None:
        try:
            self._hooks.on_outbox_change()
        except Exception:
            log.exception("sync: outbox change callback failed")

    def _claim(self, session: Session, limit: int, now: datetime) -> list[_Row]:
        claimed = outbox.claim_due_batch(session=session, limit=limit, now=now)
        # Bodies were validated when queued; a row the server cannot read comes back as
        # a per-record 422 or a whole-request 422 (then the batch is halved down to it).
        return [(row.id, row.kind, row.attempts, row.wire()) for row in claimed]

    def _release_prefetched(self) -> None:
        """Give back rows claimed for a request that will not be sent now."""
        batch, self._prefetched = self._prefetched, []
        if batch:
            with self._session_factory() as session, session.begin():
                for record_id, _kind, _attempts, _wire in batch:
                    outbox.reschedule(
                        record_id,
                        session=session,
                        next_attempt_at=self._clock(),
                        reason="not sent: worker stopped",
                    )

    def _apply_results(
        self, batch: list[_Row], results: list[Any], *, prefetch: bool = False
    ) -> list[str]:
        """Record each result in one transaction; return the reasons of rows parked.

        With `prefetch`, the next batch is claimed in the same transaction: one durable
        commit per batch instead of two, which is most of the kiosk's cost per batch.
        """
        now = self._clock()
        policy = self.settings.policy
        parked: list[str] = []
        with self._session_factory() as session, session.begin():
            acked = [
                record_id
                for (record_id, _k, _a, _w), result in zip(batch, results, strict=True)
                if result.outcome in ACKED_OUTCOMES
            ]
            outbox.mark_sent_many(acked, session=session, now=now)
            for (record_id, kind, attempts, _wire), result in zip(batch, results, strict=True):
                outcome = RecordOutcome(result.outcome)
                if outcome in ACKED_OUTCOMES:
                    continue
                if outcome in PARKED_OUTCOMES:
                    reason = f"{outcome.value} (HTTP {result.status})"
                    if result.detail:
                        reason += f": {result.detail}"
                    log.warning("sync: giving up on %s record %s: %s", kind, record_id, reason)
                    outbox.mark_failed(record_id, session=session, reason=reason)
                    parked.append(reason)
                else:  # RETRY: the server could not store this one now
                    until = policy.next_attempt_at(attempts=attempts, now=now, rng=self._rng)
                    outbox.reschedule(
                        record_id,
                        session=session,
                        next_attempt_at=until,
                        reason=f"retry (HTTP {result.status})",
                    )
            if prefetch and not self._stop.is_set():
                self._prefetched = self._claim(session, self._batch_limit, now)
        return parked

    # --- status ------------------------------------------------------------------------
    def _flush_status(self) -> None:
        if self._held:
            held, self._held = self._held, {}
            self._reported_at.clear()
            self._report(**held)

    def _report_error(self, reason: str, **changes: Any) -> None:
        self._last_error = reason
        self._report(last_error=reason[:500], **changes)

    def _report(self, **changes: Any) -> None:
        """Pass changed status values to the host, throttling mere timestamp updates."""
        now = self._clock()
        fresh: dict[str, Any] = {}
        for key, value in changes.items():
            self._held.pop(key, None)
            if key in self._reported and self._reported[key] == value:
                continue
            if (
                isinstance(value, datetime)
                and key in self._reported_at
                and (now - self._reported_at[key]).total_seconds()
                < self.settings.status_min_interval
            ):
                self._held[key] = value  # reported when the worker next goes idle
                continue
            fresh[key] = value
        if not fresh:
            return
        try:
            self._hooks.on_status(fresh)
        except Exception:
            log.exception("sync: status callback failed")
            return
        for key, value in fresh.items():
            self._reported[key] = value
            self._reported_at[key] = now
