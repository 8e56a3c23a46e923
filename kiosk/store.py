"""Apply what the kiosk pulled from the server to the local store.

The sync worker (through kiosk/syncing.py) calls `apply_pull` inside one write
transaction; demo mode calls it with a locally built pull. The caller owns the session.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.models import Appointment, AppointmentPartKey, CheckIn, ClinicRow, FaqRow
from kiosk.state import StateKey, get_state, set_datetime, set_state
from sync.protocol import KioskPull, MatchKdf

#: State key under which earlier versions stored a clinic-wide HMAC key.
LEGACY_HASH_KEY = "hash_key"


def apply_pull(pull: KioskPull, *, session: Session) -> None:
    """Replace appointments, FAQ, clinic settings, match-key salt and queue state from a pull.

    An appointment already checked in here stays checked in, whatever the pull says
    (the server may not have received the check-in yet).
    """
    checked_in_here = set(session.scalars(select(CheckIn.appointment_ref)))
    checked_in_before = set(
        session.scalars(select(Appointment.ref).where(Appointment.checked_in.is_(True)))
    )
    keep_checked_in = checked_in_here | checked_in_before

    session.execute(delete(AppointmentPartKey))
    session.execute(delete(Appointment))
    session.add_all(
        Appointment(
            ref=item.ref,
            match_key=item.match_key,
            phone_key=item.phone_key,
            starts_at=_aware(item.starts_at),
            first_initial=item.first_initial,
            clinician=item.clinician,
            checked_in=item.arrived or item.ref in keep_checked_in,
        )
        for item in pull.appointments
    )
    session.flush()
    session.add_all(
        AppointmentPartKey(
            appointment_ref=item.ref, match_key=part.match_key, phone_key=part.phone_key
        )
        for item in pull.appointments
        for part in item.part_keys
    )

    session.execute(delete(FaqRow))
    session.add_all(
        FaqRow(
            id=entry.id,
            language=entry.language,
            question=entry.question,
            answer=entry.answer,
            position=entry.position,
        )
        for entry in pull.faq
    )

    clinic = session.get(ClinicRow, 1)
    if clinic is None:
        clinic = ClinicRow(id=1)
        session.add(clinic)
    clinic.name = pull.clinic.name
    clinic.phone = pull.clinic.phone
    clinic.address = pull.clinic.address
    clinic.languages = list(pull.clinic.languages)
    clinic.default_language = pull.clinic.default_language
    clinic.check_in_early_minutes = pull.clinic.check_in_early_minutes
    clinic.check_in_late_minutes = pull.clinic.check_in_late_minutes
    clinic.updated_at = _aware(pull.generated_at)

    set_state(StateKey.MATCH_KDF, pull.match_kdf.model_dump_json(), session=session)
    # Kiosks of earlier versions kept the clinic-wide HMAC key: it must not stay on disk.
    set_state(LEGACY_HASH_KEY, None, session=session)
    set_state(StateKey.QUEUE_WAITING, str(pull.queue.waiting), session=session)
    set_state(
        StateKey.QUEUE_ESTIMATED_WAIT_MINUTES,
        str(pull.queue.estimated_wait_minutes),
        session=session,
    )
    walk_in = pull.queue.walk_in_wait
    lateness = pull.queue.clinician_lateness or {}
    ranges = {
        "walk_in": [walk_in.low, walk_in.high] if walk_in is not None else None,
        "clinicians": {name: [r.low, r.high] for name, r in lateness.items()},
    }
    has_ranges = walk_in is not None or bool(lateness)
    set_state(
        StateKey.QUEUE_WAIT_RANGES, json.dumps(ranges) if has_ranges else None, session=session
    )
    set_datetime(StateKey.QUEUE_UPDATED_AT, _aware(pull.generated_at), session=session)
    session.flush()


def _aware(moment: datetime) -> datetime:
    """Treat a naive wire timestamp as UTC (the protocol sends aware ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def drop_stale_match_keys(*, session: Session, today: date) -> bool:
    """Erase the appointments and salt of a past clinic day; return whether any were held.

    A kiosk that stayed offline overnight would otherwise keep yesterday's match keys on
    disk: the kiosk holds only today's (docs/security.md).
    """
    raw = get_state(StateKey.MATCH_KDF, session=session)
    if raw is None:
        return False
    try:
        day = MatchKdf.model_validate_json(raw).day
    except ValueError:
        day = None
    if day == today:
        return False
    session.execute(delete(AppointmentPartKey))
    session.execute(delete(Appointment))
    set_state(StateKey.MATCH_KDF, None, session=session)
    set_state(StateKey.PULL_ETAG, None, session=session)
    return True
