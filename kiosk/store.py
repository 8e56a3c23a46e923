"""Apply what the kiosk pulled from the server to the local store.

The sync engineer's worker calls `apply_pull` inside one write transaction; demo mode
calls it with a locally built pull. The caller owns the session.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.models import Appointment, CheckIn, ClinicRow, FaqRow
from kiosk.state import StateKey, set_datetime, set_state
from sync.protocol import KioskPull


def apply_pull(pull: KioskPull, *, session: Session) -> None:
    """Replace appointments, FAQ, clinic settings, hash key and queue state from a pull.

    An appointment already checked in here stays checked in, whatever the pull says
    (the server may not have received the check-in yet).
    """
    checked_in_here = set(session.scalars(select(CheckIn.appointment_ref)))
    checked_in_before = set(
        session.scalars(select(Appointment.ref).where(Appointment.checked_in.is_(True)))
    )
    keep_checked_in = checked_in_here | checked_in_before

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

    set_state(StateKey.HASH_KEY, pull.hash_key, session=session)
    set_state(StateKey.QUEUE_WAITING, str(pull.queue.waiting), session=session)
    set_state(
        StateKey.QUEUE_ESTIMATED_WAIT_MINUTES,
        str(pull.queue.estimated_wait_minutes),
        session=session,
    )
    set_datetime(StateKey.QUEUE_UPDATED_AT, _aware(pull.generated_at), session=session)
    session.flush()


def _aware(moment: datetime) -> datetime:
    """Treat a naive wire timestamp as UTC (the protocol sends aware ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
