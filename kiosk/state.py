"""The kiosk's key-value state (pairing, sync health, last queue state, admin overrides).

Key names are fixed: the sync code (kiosk/syncing.py, from sync/worker.py's reports) writes
some of them and the services read them. Values are strings; helpers convert.
The caller owns the session (keyword-only `session=`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.models import StateEntry


class StateKey(StrEnum):
    SERVER_URL = "server_url"  # overrides settings.server_url (admin screen / pairing)
    KIOSK_ID = "kiosk_id"
    KIOSK_TOKEN = "kiosk_token"  # present = paired
    MATCH_KDF = "match_kdf"  # JSON of today's sync.protocol.MatchKdf (salt + cost)
    PULL_ETAG = "pull_etag"
    LAST_SUCCESS_AT = "last_success_at"  # ISO 8601, timezone-aware
    LAST_ATTEMPT_AT = "last_attempt_at"
    ONLINE = "online"  # "1" / "0"
    REVOKED = "revoked"  # "1" / "0"
    LAST_ERROR = "last_error"
    QUEUE_WAITING = "queue_waiting"
    QUEUE_ESTIMATED_WAIT_MINUTES = "queue_estimated_wait_minutes"
    QUEUE_UPDATED_AT = "queue_updated_at"  # ISO 8601
    #: JSON {"walk_in": [low, high] | null, "clinicians": {name: [low, high]}} from the
    #: pull's optional wait ranges (absent from a server of an earlier version).
    QUEUE_WAIT_RANGES = "queue_wait_ranges"
    LOCAL_KEY = "local_key"  # hex secret that never leaves the kiosk (walk-in identity)
    DEMO_DATA = "demo_data"  # "1": opened in demo mode once; refused outside demo mode
    # Admin overrides of settings (saved from the staff corner).
    DEFAULT_LANGUAGE = "default_language"
    IDLE_TIMEOUT_SECONDS = "idle_timeout_seconds"
    # Self-healing and clock health (kiosk/crash.py, kiosk/clockcheck.py).
    CRASH_COUNT = "crash_count"
    LAST_CRASH_AT = "last_crash_at"  # ISO 8601
    CLOCK_SKEW_SECONDS = "clock_skew_seconds"  # kiosk clock minus the server's Date header


def get_state(key: str, *, session: Session, default: str | None = None) -> str | None:
    """Return the value stored under `key`, or `default`."""
    value = session.scalar(select(StateEntry.value).where(StateEntry.key == str(key)))
    return default if value is None else value


def set_state(key: str, value: str | None, *, session: Session) -> None:
    """Store `value` under `key` (None deletes the key)."""
    if value is None:
        session.execute(delete(StateEntry).where(StateEntry.key == str(key)))
        return
    entry = session.get(StateEntry, str(key))
    if entry is None:
        session.add(StateEntry(key=str(key), value=str(value)))
    else:
        entry.value = str(value)


def get_many(keys: tuple[str, ...], *, session: Session) -> dict[str, str]:
    """Return the stored values of several keys in one query (missing keys left out)."""
    names = [str(key) for key in keys]
    rows = session.execute(
        select(StateEntry.key, StateEntry.value).where(StateEntry.key.in_(names))
    )
    return {key: value for key, value in rows}


def parse_datetime(value: str | None) -> datetime | None:
    """Return an ISO 8601 string as an aware datetime, or None (missing, malformed, naive)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def parse_int(value: str | None) -> int | None:
    """Return an integer string as an int, or None when missing or malformed."""
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def set_flag(key: str, value: bool, *, session: Session) -> None:
    """Store a bool as "1"/"0"."""
    set_state(key, "1" if value else "0", session=session)


def get_datetime(key: str, *, session: Session) -> datetime | None:
    """Return an ISO 8601 value as a timezone-aware datetime, or None (also if malformed)."""
    return parse_datetime(get_state(key, session=session))


def set_datetime(key: str, value: datetime, *, session: Session) -> None:
    """Store a timezone-aware datetime as ISO 8601."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    set_state(key, value.isoformat(), session=session)


def get_int(key: str, *, session: Session) -> int | None:
    """Return an integer value, or None when missing or malformed."""
    return parse_int(get_state(key, session=session))
