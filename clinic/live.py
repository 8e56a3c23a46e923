"""Live events for open dashboard pages: `publish(kind, payload)` and their delivery.

A feature that changes what staff see calls `publish("arrival", {"kiosk_id": 3})`. The
payload is a small JSON object that must not hold patient data (no names, no question
text): pages react by fetching their own content again, through the usual session checks.

Delivery, across every server process and host:
- PostgreSQL (`live_backend` auto/postgres): `pg_notify` on channel `clinic_live`. Given a
  session, the notification goes out in that session's transaction, so it is delivered
  when (and only if) the transaction commits. Every process LISTENs on one connection of
  its own and hands events to its open pages (`Hub`).
- Otherwise (SQLite, one process): events go to this process's hub after the commit.

Browsers receive them as server-sent events from `/api/live/events` (clinic.dashboard).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from clinic.logsafe import describe_exception

log = logging.getLogger(__name__)

CHANNEL = "clinic_live"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours are far smaller.
MAX_PAYLOAD_BYTES = 4000
#: Events a slow page may fall behind by before the oldest are dropped (it refetches anyway).
SUBSCRIBER_QUEUE = 100
#: Kinds the dashboard knows; others are delivered too (pages ignore what they do not use).
KINDS = frozenset({"arrival", "question", "rating", "alert", "kiosk", "queue", "interpreter"})
_PENDING = "clinic_live_pending"


@dataclass(frozen=True)
class LiveEvent:
    """One event: what changed (kind) and a few non-identifying facts about it."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        """Return the JSON text sent between processes and to browsers."""
        return json.dumps({"kind": self.kind, "payload": self.payload}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> LiveEvent | None:
        """Parse an encoded event; None for anything malformed."""
        try:
            data = json.loads(raw)
            kind, payload = data["kind"], data.get("payload") or {}
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(kind, str) or not isinstance(payload, dict):
            return None
        return cls(kind, payload)


class Hub:
    """This process's open pages (one asyncio queue each) and the loop they live on."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[LiveEvent]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delivered = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop the subscribers run on."""
        self._loop = loop

    @property
    def subscribers(self) -> int:
        """Return how many pages are listening in this process."""
        return len(self._subscribers)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[LiveEvent]]:
        """Yield a queue that receives every event until the block ends."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def dispatch(self, item: LiveEvent) -> None:
        """Hand an event to every subscriber (call on the hub's loop)."""
        self.delivered += 1
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)

    def dispatch_threadsafe(self, item: LiveEvent) -> None:
        """Hand an event over from any thread (worker threads of sync routes)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.dispatch(item)
        else:
            with contextlib.suppress(RuntimeError):  # loop shutting down
                loop.call_soon_threadsafe(self.dispatch, item)


# Hubs by database URL: a process normally serves one database; tests may run several apps.
_hubs: dict[str, Hub] = {}
_hubs_lock = threading.Lock()


def hub_for(database_url: str) -> Hub:
    """Return this process's hub for a database (made on first use)."""
    with _hubs_lock:
        hub = _hubs.get(database_url)
        if hub is None:
            hub = _hubs[database_url] = Hub()
        return hub


def _url_of(session: Session) -> tuple[str, str]:
    bind = session.get_bind()
    url = bind.engine.url
    return url.render_as_string(hide_password=False), url.get_backend_name()


def publish(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    session: Session,
    via_postgres: bool | None = None,
) -> None:
    """Announce a change to every open dashboard page, once `session` commits.

    `payload` must not hold patient data: ids, counts, a kiosk's id, an alert's kind.
    """
    item = LiveEvent(kind, dict(payload or {}))
    encoded = item.encode()
    if len(encoded.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"live event payload over {MAX_PAYLOAD_BYTES} bytes")
    url, backend = _url_of(session)
    if via_postgres is None:
        via_postgres = backend == "postgresql"
    if via_postgres:
        # Transactional: PostgreSQL delivers it at COMMIT and drops it on ROLLBACK.
        session.execute(select(func.pg_notify(CHANNEL, encoded)))
        return
    pending: list[tuple[str, LiveEvent]] = session.info.setdefault(_PENDING, [])
    pending.append((url, item))


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for url, item in pending or ():
        hub_for(url).dispatch_threadsafe(item)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    # A savepoint's rollback also lands here; only a full rollback loses the transaction.
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def psycopg_conninfo(database_url: str) -> str:
    """Return a libpq URL for psycopg from a SQLAlchemy one."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen_postgres(
    database_url: str, hub: Hub, *, ready: asyncio.Event | None = None
) -> None:
    """LISTEN on the live channel and feed the hub; reconnect after a failure, never raise."""
    import psycopg

    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                psycopg_conninfo(database_url), autocommit=True
            ) as conn:
                await conn.execute(text_listen())
                delay = 0.5
                if ready is not None:
                    ready.set()
                async for note in conn.notifies():
                    item = LiveEvent.decode(note.payload)
                    if item is not None:
                        hub.dispatch(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database may be restarting
            log.warning("live events: listener lost (%s), retrying", describe_exception(exc))
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


def text_listen() -> Any:
    """Return the LISTEN statement (psycopg sql object; the channel name is fixed)."""
    from psycopg import sql

    return sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL))


async def stream(hub: Hub, *, keepalive_seconds: float, max_seconds: float) -> AsyncIterator[str]:
    """Yield server-sent event frames from the hub; end after max_seconds (browser reconnects)."""
    ends_at = time.monotonic() + max_seconds
    async with hub.subscribe() as queue:
        # The browser retries after 2 s when the stream ends or the connection drops.
        yield "retry: 2000\n: connected\n\n"
        while True:
            left = ends_at - time.monotonic()
            if left <= 0:
                return
            try:
                item = await asyncio.wait_for(queue.get(), timeout=min(keepalive_seconds, left))
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            yield f"event: {item.kind}\ndata: {item.encode()}\n\n"
