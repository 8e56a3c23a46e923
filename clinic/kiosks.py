"""Kiosk pairing, revocation, heartbeat and the pull payload."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinic import waits
from clinic.appointments import appointment_keys, day_kdf
from clinic.config import Settings
from clinic.models import (
    Appointment,
    AppointmentStatus,
    ClinicConfig,
    DisplayPairingCode,
    FaqEntryRow,
    Kiosk,
    PairingCode,
    StaffUser,
    utcnow,
)
from clinic.queue import (
    current_pace,
    estimate_minutes,
    estimate_steady_until,
    today_bounds,
    waiting_today,
)
from clinic.security import hash_pairing_code, hash_token, new_kiosk_token, new_pairing_code
from sync.protocol import (
    ClinicSettings,
    FaqEntry,
    Heartbeat,
    KioskAppointment,
    KioskPull,
    MatchKeyPair,
    QueueState,
    WaitRange,
    canonical_json,
    shared_match_keys,
)

MAX_COUNTER = 2**31 - 1


class PairingError(ValueError):
    """The pairing code is unknown, expired or already used."""


#: A kiosk's or a waiting-room display's one-time pairing code (separate tables, same columns).
CodeRow = TypeVar("CodeRow", PairingCode, DisplayPairingCode)


def issue_pairing_code(
    model: type[CodeRow],
    *,
    session: Session,
    settings: Settings,
    created_by: StaffUser | None,
    now: datetime,
) -> tuple[str, CodeRow]:
    """Store a new one-time code in model's table; return it (shown once) and its row."""
    code = new_pairing_code()
    row = model(
        code_hash=hash_pairing_code(code),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.pairing_code_minutes),
        created_by_id=created_by.id if created_by else None,
    )
    session.add(row)
    session.flush()
    return code, row


def create_pairing_code(
    *, session: Session, settings: Settings, created_by: StaffUser | None = None
) -> tuple[str, PairingCode]:
    """Create a one-time pairing code; return it (shown once) and its row (hash only)."""
    return issue_pairing_code(
        PairingCode, session=session, settings=settings, created_by=created_by, now=utcnow()
    )


def pair_kiosk(
    *, session: Session, code: str, kiosk_name: str, app_version: str
) -> tuple[Kiosk, str]:
    """Exchange a pairing code for a new kiosk and its token (only the hash is stored)."""
    now = utcnow()
    kiosk = Kiosk(
        id=uuid.uuid4(),
        name=kiosk_name,
        token_hash="",
        created_at=now,
        app_version=app_version,
        last_seen_at=now,
    )
    token = new_kiosk_token()
    kiosk.token_hash = hash_token(token)
    session.add(kiosk)
    session.flush()
    # One UPDATE decides: two kiosks racing for one code cannot both win.
    claimed = session.execute(
        update(PairingCode)
        .where(
            PairingCode.code_hash == hash_pairing_code(code),
            PairingCode.used_at.is_(None),
            PairingCode.expires_at > now,
        )
        .values(used_at=now, kiosk_id=kiosk.id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise PairingError("pairing code unknown, expired or already used")
    return kiosk, token


def revoke_kiosk(*, session: Session, kiosk_id: uuid.UUID) -> Kiosk | None:
    """Revoke a kiosk: its token stops working with the next request."""
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is not None and kiosk.revoked_at is None:
        kiosk.revoked_at = utcnow()
    return kiosk


#: A heartbeat that reports nothing new is stored only when the last stored one is older
#: than this: kiosks send one a minute, so a healthy kiosk costs one write per two minutes,
#: and last_heartbeat_at / last_seen_at are this coarse (silence alerts count in minutes).
HEARTBEAT_WRITE_SECONDS = 110


def record_heartbeat(
    *, session: Session, kiosk: Kiosk, heartbeat: Heartbeat, now: datetime | None = None
) -> bool:
    """Store what the kiosk reports about itself; return False when nothing was written.

    Nothing is written when the report equals what is stored and the stored heartbeat is
    younger than HEARTBEAT_WRITE_SECONDS.
    """
    now = now or utcnow()
    reported = {
        "app_version": heartbeat.app_version,
        # The protocol sets no upper bound; the columns are 32-bit.
        "backlog": min(heartbeat.backlog, MAX_COUNTER),
        "failed": min(heartbeat.failed, MAX_COUNTER),
        "last_error": heartbeat.last_error,
        "crash_count": heartbeat.crash_count,
        "last_crash_at": heartbeat.last_crash_at,
        "clock_skew_seconds": heartbeat.clock_skew_seconds,
        "clock_problem": heartbeat.clock_problem.value if heartbeat.clock_problem else None,
    }
    if (
        kiosk.last_heartbeat_at is not None
        and 0 <= (now - kiosk.last_heartbeat_at).total_seconds() < HEARTBEAT_WRITE_SECONDS
        and all(getattr(kiosk, name) == value for name, value in reported.items())
    ):
        return False
    kiosk.last_seen_at = now
    kiosk.last_heartbeat_at = now
    for name, value in reported.items():
        setattr(kiosk, name, value)
    return True


#: The pull's wait estimate is rounded up to this many minutes ("about 15 minutes").
PULL_WAIT_STEP_MINUTES = 5


def build_pull(
    *, session: Session, settings: Settings, now: datetime, wait_ranges: bool = False
) -> tuple[KioskPull, str]:
    """Return today's kiosk payload and its ETag (which ignores generated_at).

    `wait_ranges`: the kiosk asked for QueueState's wait ranges (sync.protocol).
    """
    pull, etag, _steady_until = _build_pull(
        session=session, settings=settings, now=now, wait_ranges=wait_ranges
    )
    return pull, etag


def _build_pull(
    *, session: Session, settings: Settings, now: datetime, wait_ranges: bool
) -> tuple[KioskPull, str, datetime]:
    """Return the pull, its ETag, and until when time alone leaves them as they are."""
    config = ClinicConfig.of(session)
    clinic = ClinicSettings(
        name=config.name,
        phone=config.phone,
        address=config.address,
        languages=list(config.languages or ["en"]),
        default_language=config.default_language,
        check_in_early_minutes=config.check_in_early_minutes,
        check_in_late_minutes=config.check_in_late_minutes,
    )
    faq = [
        FaqEntry(
            id=row.id,
            language=row.language,
            question=row.question,
            answer=row.answer,
            position=row.position,
        )
        for row in session.scalars(
            select(FaqEntryRow).order_by(FaqEntryRow.language, FaqEntryRow.position, FaqEntryRow.id)
        )
    ]
    start, end = today_bounds(settings.tz, now)
    # Only today's salt leaves the server; the pepper it comes from never does.
    kdf = day_kdf(pepper=bytes.fromhex(config.hash_key), day=now.astimezone(settings.tz).date())
    rows = list(
        session.scalars(
            select(Appointment)
            .where(Appointment.starts_at >= start, Appointment.starts_at < end)
            .order_by(Appointment.starts_at, Appointment.ref)
        )
    )
    keys = [appointment_keys(a, kdf) for a in rows]
    # A phone key is sent only where two appointments share a match key (same surname or
    # surname part and birth date): elsewhere it would only hand out 4 more digits to guess.
    shared = shared_match_keys(keys)
    appointments = [
        KioskAppointment(
            ref=a.ref,
            match_key=whole[0],
            phone_key=whole[1] if whole[0] in shared else None,
            starts_at=a.starts_at,
            first_initial=a.first_name[:1],
            clinician=a.clinician,
            arrived=a.status != AppointmentStatus.BOOKED,
            part_keys=[
                MatchKeyPair(match_key=match, phone_key=phone if match in shared else None)
                for match, phone in parts
            ],
        )
        for a, (whole, *parts) in zip(rows, keys, strict=True)
    ]
    waiting = waiting_today(session=session, settings=settings, now=now)
    pace = current_pace(session=session, settings=settings, now=now)
    exact = QueueState(
        waiting=waiting, estimated_wait_minutes=estimate_minutes(pace, waiting + 1, now)
    )
    # While the next call-in is due, the exact estimate drops every minute; kiosks pull
    # every 30 s, so an exact figure would change the ETag on every other pull. Rounded up
    # to PULL_WAIT_STEP_MINUTES, an idle pull stays a 304 for minutes at a time.
    queue = QueueState(
        waiting=exact.waiting,
        estimated_wait_minutes=-(-exact.estimated_wait_minutes // PULL_WAIT_STEP_MINUTES)
        * PULL_WAIT_STEP_MINUTES,
        **(pull_wait_ranges(session=session, settings=settings, now=now) if wait_ranges else {}),
    )
    pull = KioskPull(
        generated_at=now,
        match_kdf=kdf,
        clinic=clinic,
        faq=faq,
        appointments=appointments,
        queue=queue,
    )
    content = pull_json(pull, wait_ranges=wait_ranges)
    content.pop("generated_at")
    etag = '"' + hashlib.sha256(canonical_json(content).encode()).hexdigest()[:32] + '"'
    return pull, etag, min(end, estimate_steady_until(pace, waiting + 1, now))


#: Longest a process answers pulls from its last one while nothing was written: the wait
#: ranges (rolling windows of history) drift with the clock alone, by minutes per hour.
PULL_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class _CachedPull:
    version: int
    built_at: datetime
    valid_until: datetime
    pull: KioskPull
    etag: str


class PullCache:
    """This process's last pull (with and without wait ranges) and the version it was built at.

    A pull is answered from here while `pull_version` (moved on by triggers whenever an
    appointment, arrival, FAQ entry or the clinic's settings change, migration 0305) still
    reads the same, and the clock has not moved the content: the queue estimate counts down
    (clinic.queue.estimate_steady_until), the day changes at local midnight, and the wait
    ranges are rebuilt at least every PULL_CACHE_SECONDS. So an unchanged pull costs one
    indexed read, and a changed one is seen by the very next pull, in every process.
    """

    def __init__(self) -> None:
        self._entries: dict[bool, _CachedPull] = {}
        self.built = 0  # pulls built from the database (for tests and benchmarks)

    def get(
        self,
        *,
        session: Session,
        settings: Settings,
        now: datetime,
        wait_ranges: bool,
        version: int | None,
    ) -> tuple[KioskPull, str]:
        """Return the pull and its ETag as build_pull would, from the cache when still true.

        `version`: pull_version as read in this transaction before now (None: no cache).
        """
        entry = self._entries.get(wait_ranges)
        if (
            version is not None
            and entry is not None
            and entry.version == version
            and entry.built_at <= now < entry.valid_until
        ):
            return entry.pull, entry.etag
        pull, etag, steady_until = _build_pull(
            session=session, settings=settings, now=now, wait_ranges=wait_ranges
        )
        self.built += 1
        if version is not None:
            limit = now + timedelta(seconds=PULL_CACHE_SECONDS)
            # Threads may race here; each entry is whole and true for its version.
            self._entries[wait_ranges] = _CachedPull(
                version, now, min(limit, steady_until), pull, etag
            )
        return pull, etag


def _step_up(minutes: int) -> int:
    return -(-minutes // PULL_WAIT_STEP_MINUTES) * PULL_WAIT_STEP_MINUTES


def pull_wait_ranges(*, session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Return QueueState's optional wait ranges, rounded up like the single figure."""
    pace = current_pace(session=session, settings=settings, now=now)
    waiting = waiting_today(session=session, settings=settings, now=now)
    walk_in = waits.range_for_walk_in(
        session=session,
        now=now,
        tz=settings.tz,
        fallback_minutes=estimate_minutes(pace, waiting + 1, now),
    )
    lateness = waits.lateness_ranges(session=session, now=now, tz=settings.tz)
    return {
        "walk_in_wait": WaitRange(low=_step_up(walk_in.low), high=_step_up(walk_in.high)),
        "clinician_lateness": {
            name: WaitRange(low=_step_up(max(0, low)), high=_step_up(max(0, high)))
            for name, (low, high) in lateness.items()
        }
        or None,
    }


def pull_json(pull: KioskPull, *, wait_ranges: bool) -> dict[str, Any]:
    """Return the pull as JSON, without the optional fields a kiosk did not ask for."""
    content = pull.model_dump(mode="json")
    queue = content["queue"]
    for key in ("walk_in_wait", "clinician_lateness"):
        if not wait_ranges or queue.get(key) is None:
            queue.pop(key, None)
    return content


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Return whether an If-None-Match header names this ETag (weak comparison)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
