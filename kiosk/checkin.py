"""Check-in for a booked appointment: the match, the check-in, and what follows it.

`find_appointment` derives the match key from last name + date of birth (one argon2
derivation per surname form, outside any transaction) and looks it up among today's
appointments; `check_in` writes the check-in row and its outbox record. Contact changes and
interpreter requests for an earlier check-in or walk-in are contact-update records.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import validation
from kiosk.core import MSG_UNKNOWN_VISIT, KioskCore, new_record_id
from kiosk.facade import (
    N_,
    AppointmentMatch,
    CheckInReceipt,
    InvalidInput,
    KioskError,
    MatchStatus,
)
from kiosk.models import Appointment, AppointmentPartKey, CheckIn, ClinicRow, ContactUpdate, WalkIn
from kiosk.state import StateKey, get_state
from kiosk.waiting import WaitingRoom, arrival_receipt
from sync.protocol import (
    CheckInBody,
    ContactUpdateBody,
    MatchKdf,
    derive_match_secret,
    new_follow_up_token,
    surname_variants,
)

log = logging.getLogger(__name__)

MSG_NOT_FOUND = N_("We could not find your appointment. Please see the front desk.")
MSG_SEE_FRONT_DESK = N_("Please see the front desk.")
MSG_ALREADY_CHECKED_IN = N_("You are already checked in. Please take a seat.")

#: Grace after the end of the check-in window between the lookup and the confirm tap.
CONFIRM_GRACE = timedelta(minutes=2)


class CheckInDesk:
    """Matches patients to today's appointments and checks them in."""

    def __init__(self, core: KioskCore, waiting: WaitingRoom) -> None:
        self.core = core
        self.waiting = waiting

    def find_appointment(
        self, last_name: str, date_of_birth: date, phone_last4: str | None = None
    ) -> AppointmentMatch:
        """Match last name + date of birth (+ phone last 4) against today's appointments."""
        core = self.core
        name = validation.clean_name(last_name, "last_name")
        dob = validation.check_date_of_birth(date_of_birth, today=core.today())
        last4 = validation.clean_phone_last4(phone_last4)
        now = core.now()
        start, end = core.today_bounds()
        with core.db.read_session() as session:
            kdf = self._match_kdf(session)
        if kdf is None:
            return AppointmentMatch(status=MatchStatus.NO_MATCH)
        # One memory-hard derivation (~60 ms) per surname form tried, outside any
        # transaction: the whole name as typed first, then each part of a compound name
        # ("Garcia Lopez" booked as "Garcia"); appointments carry keys of their parts too.
        for variant in surname_variants(name):
            secret = derive_match_secret(kdf, variant, dob)
            with core.db.read_session() as session:
                found = _appointments_keyed(session, secret.match_key, start, end)
            if found:
                break
        else:
            return AppointmentMatch(status=MatchStatus.NO_MATCH)
        with core.db.read_session() as session:
            if last4 is not None:
                wanted = secret.phone_key(last4)
                if len(found) > 1 or any(phone is not None for phone in found.values()):
                    found = {ref: phone for ref, phone in found.items() if phone == wanted}
            candidates = [
                a for a in (session.get(Appointment, ref) for ref in found) if a is not None
            ]
            if not candidates:
                return AppointmentMatch(status=MatchStatus.NO_MATCH)
            if len(candidates) > 1:
                return AppointmentMatch(status=MatchStatus.AMBIGUOUS)
            appointment = candidates[0]
            shown: dict[str, Any] = {
                "appointment_ref": appointment.ref,
                "first_initial": appointment.first_initial,
                "starts_at": appointment.starts_at,
                "clinician": appointment.clinician,
            }
            if appointment.checked_in:
                earlier = session.scalar(
                    select(CheckIn).where(CheckIn.appointment_ref == appointment.ref)
                )
                receipt = (
                    arrival_receipt(earlier, core.server_url(session), already=True)
                    if earlier is not None
                    else None
                )
                return AppointmentMatch(
                    status=MatchStatus.ALREADY_CHECKED_IN, receipt=receipt, **shown
                )
            early, late = self._window(session)
        starts_at = shown["starts_at"]
        if now < starts_at - early:
            return AppointmentMatch(
                status=MatchStatus.TOO_EARLY, check_in_opens_at=starts_at - early, **shown
            )
        if now > starts_at + late:
            return AppointmentMatch(status=MatchStatus.TOO_LATE, **shown)
        return AppointmentMatch(status=MatchStatus.MATCHED, **shown)

    def check_in(
        self, appointment_ref: str, language: str, interpreter_language: str | None = None
    ) -> CheckInReceipt:
        """Check in for a matched appointment (idempotent: a repeat returns the first receipt)."""
        core = self.core
        lang = core.language(language)
        interpreter = validation.check_interpreter_language(interpreter_language)
        if not isinstance(appointment_ref, str) or not 0 < len(appointment_ref) <= 64:
            raise InvalidInput(MSG_NOT_FOUND, "appointment_ref")
        start, end = core.today_bounds()

        def action(session: Session) -> CheckInReceipt:
            now = core.now()
            server_url = core.server_url(session)
            earlier = session.scalar(
                select(CheckIn).where(CheckIn.appointment_ref == appointment_ref)
            )
            if earlier is not None:
                return arrival_receipt(earlier, server_url, already=True)
            appointment = session.get(Appointment, appointment_ref)
            if appointment is None or not start <= appointment.starts_at < end:
                raise InvalidInput(MSG_NOT_FOUND, "appointment_ref")
            if appointment.checked_in:  # arrived per the server (front desk, other kiosk)
                raise KioskError(MSG_ALREADY_CHECKED_IN)
            early, late = self._window(session)
            opens, closes = appointment.starts_at - early, appointment.starts_at + late
            if not opens <= now <= closes + CONFIRM_GRACE:
                raise KioskError(MSG_SEE_FRONT_DESK)
            wait, wait_high = self.waiting.estimate_range(
                session, now, clinician=appointment.clinician, starts_at=appointment.starts_at
            )
            row = CheckIn(
                id=new_record_id(),
                appointment_ref=appointment.ref,
                checked_in_at=now,
                queue_number=self.waiting.next_queue_number(session),
                estimated_wait_minutes=wait,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            appointment.checked_in = True
            # Same closing steps as WalkInDesk.register_walk_in (kiosk/walkins.py): kept apart
            # because the row and body types differ (CheckIn, CheckInBody here; WalkIn there).
            body = CheckInBody(
                appointment_ref=appointment.ref,
                checked_in_at=now,
                queue_number=row.queue_number,
                follow_up_token=row.follow_up_token,
                language=lang,
                interpreter_language=interpreter,
            )
            core.record(session, row, body, now=now)
            return arrival_receipt(row, server_url, already=False, wait_high=wait_high)

        return core.write(action)

    def update_contact(self, check_in_id: str, phone: str | None, email: str | None) -> None:
        """Record new phone and/or email for an earlier check-in or walk-in."""
        clean_phone = validation.clean_phone(phone)
        clean_email = validation.clean_email(email)
        if clean_phone is None and clean_email is None:
            raise InvalidInput(validation.MSG_CONTACT_REQUIRED, "phone")
        self._add_contact_update(_visit_id(check_in_id), phone=clean_phone, email=clean_email)

    def request_interpreter(self, check_in_id: str, interpreter_language: str) -> None:
        """Ask for an interpreter for an earlier check-in or walk-in (sent as a contact update)."""
        language = validation.check_interpreter_language(interpreter_language)
        if language is None:
            raise InvalidInput(validation.MSG_LANGUAGE, "interpreter_language")
        self._add_contact_update(_visit_id(check_in_id), interpreter_language=language)

    def _add_contact_update(
        self,
        target: uuid.UUID,
        *,
        phone: str | None = None,
        email: str | None = None,
        interpreter_language: str | None = None,
    ) -> None:
        """Save a contact update for a check-in or walk-in made on this kiosk."""
        core = self.core

        def action(session: Session) -> None:
            if (
                session.get(CheckIn, str(target)) is None
                and session.get(WalkIn, str(target)) is None
            ):
                raise InvalidInput(MSG_UNKNOWN_VISIT, "check_in_id")
            now = core.now()
            row = ContactUpdate(
                id=new_record_id(),
                check_in_id=str(target),
                updated_at=now,
                has_phone=phone is not None,
                has_email=email is not None,
            )
            body = ContactUpdateBody(
                check_in_id=target,
                phone=phone,
                email=email,
                interpreter_language=interpreter_language,
            )
            core.record(session, row, body, now=now)

        core.write(action)

    def _match_kdf(self, session: Session) -> MatchKdf | None:
        """Return today's match-key salt and cost, or None if the kiosk holds no current one."""
        value = get_state(StateKey.MATCH_KDF, session=session)
        if not value:
            return None
        try:
            kdf = MatchKdf.model_validate_json(value)
        except ValueError:
            log.error("stored match_kdf is not valid")
            return None
        # Keys of another clinic day cannot match today's appointments.
        return kdf if kdf.day == self.core.today() else None

    def _window(self, session: Session) -> tuple[timedelta, timedelta]:
        """Return how early and how late a check-in is allowed (pulled, else configured)."""
        clinic = session.get(ClinicRow, 1)
        if clinic is not None:
            return (
                timedelta(minutes=clinic.check_in_early_minutes),
                timedelta(minutes=clinic.check_in_late_minutes),
            )
        settings = self.core.settings
        return (
            timedelta(minutes=settings.check_in_early_minutes),
            timedelta(minutes=settings.check_in_late_minutes),
        )


def _visit_id(check_in_id: str) -> uuid.UUID:
    """Return the UUID of a check-in or walk-in, or raise InvalidInput."""
    try:
        return uuid.UUID(str(check_in_id))
    except ValueError:
        raise InvalidInput(MSG_UNKNOWN_VISIT, "check_in_id") from None


def _appointments_keyed(
    session: Session, key: str, start: datetime, end: datetime
) -> dict[str, str | None]:
    """Return {ref: phone key} of today's appointments holding `key` (whole or part)."""
    today = (Appointment.starts_at >= start, Appointment.starts_at < end)
    whole = session.execute(
        select(Appointment.ref, Appointment.phone_key).where(Appointment.match_key == key, *today)
    ).all()
    parts = session.execute(
        select(AppointmentPartKey.appointment_ref, AppointmentPartKey.phone_key)
        .join(Appointment, Appointment.ref == AppointmentPartKey.appointment_ref)
        .where(AppointmentPartKey.match_key == key, *today)
    ).all()
    return {ref: phone for ref, phone in [*whole, *parts]}
