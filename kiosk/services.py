"""The kiosk's domain services: `Kiosk` implements every method of kiosk.facade.KioskFacade.

Usage (no Kivy needed):
    from kiosk.config import KioskSettings
    from kiosk.services import Kiosk
    kiosk = Kiosk.open(KioskSettings.load())   # opens/migrates the SQLite file; demo: seeds
    match = kiosk.find_appointment("Okafor", date(1984, 3, 12))
    receipt = kiosk.check_in(match.appointment_ref, "en")   # returns after COMMIT
    kiosk.ask_question("Where do I park?", "en")
    kiosk.rate_visit(5, "en")
    kiosk.close()
Bad input raises facade.InvalidInput(msgid, field_name); a failure to store raises
facade.StorageError. Each patient action = one BEGIN IMMEDIATE transaction writing the
domain row and its outbox row (same UUID). kiosk.demo.DEMO_PEOPLE lists who to type.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kiosk import emergency, syncing, validation
from kiosk.clockcheck import clock_problem
from kiosk.config import DEMO_ADMIN_PIN, ConfigError, KioskSettings
from kiosk.db import Database
from kiosk.facade import (
    N_,
    AppointmentMatch,
    CheckInReceipt,
    ClinicInfo,
    FaqItem,
    InvalidInput,
    KioskError,
    KioskFacade,
    MatchStatus,
    QuestionReceipt,
    RatingDetails,
    RatingReceipt,
    StorageError,
    SyncStatus,
)
from kiosk.models import (
    Appointment,
    AppointmentPartKey,
    CheckIn,
    ClinicRow,
    ContactUpdate,
    FaqRow,
    Question,
    QueueCounter,
    Rating,
    RatingDetail,
    WalkIn,
)
from kiosk.state import (
    StateKey,
    get_int,
    get_many,
    get_state,
    parse_datetime,
    parse_int,
    set_state,
)
from sync import outbox
from sync.outbox import utcnow
from sync.protocol import (
    CheckInBody,
    ContactUpdateBody,
    MatchKdf,
    QuestionBody,
    RatingBody,
    RatingDetailBody,
    RecordError,
    RecordKind,
    WalkInBody,
    body_hash,
    derive_match_secret,
    dump_body,
    follow_up_url,
    new_follow_up_token,
    normalize_last_name,
    surname_variants,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MSG_NOT_FOUND = N_("We could not find your appointment. Please see the front desk.")
MSG_SEE_FRONT_DESK = N_("Please see the front desk.")
MSG_ALREADY_CHECKED_IN = N_("You are already checked in. Please take a seat.")
MSG_NOT_SAVED = N_("Sorry, this could not be saved. Please see the front desk.")
MSG_UNKNOWN_VISIT = N_("We could not find this visit.")
MSG_DETAILS_SAVED = N_("Your answers were already saved. Thank you.")
MSG_SERVER_URL = N_("Please enter a web address starting with http:// or https://.")
MSG_IDLE_TIMEOUT = N_("Please enter a number of seconds between 20 and 600.")
MSG_UNKNOWN_SETTING = N_("This setting cannot be changed here.")

#: Grace after the end of the check-in window between the lookup and the confirm tap.
CONFIRM_GRACE = timedelta(minutes=2)
#: A pulled queue state older than this is ignored for the wait estimate.
QUEUE_STATE_FRESH_FOR = timedelta(hours=2)
#: Without a fresh pulled queue state, arrivals this recent count as still waiting.
LOCAL_QUEUE_LOOKBACK = timedelta(minutes=60)
IDLE_TIMEOUT_RANGE = (20, 600)


class Kiosk(KioskFacade):
    """The kiosk's domain layer over one SQLite database."""

    def __init__(
        self,
        settings: KioskSettings,
        database: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.db = database
        self._clock = clock
        self._monotonic = monotonic
        self._pin_hash = _staff_pin_hash(settings)
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self._pin_lock = threading.Lock()
        self._commit_listeners: list[Callable[[], None]] = []
        self._emergency_path = settings.emergency_words_path

    # --- life cycle --------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: KioskSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        seed_demo: bool | None = None,
    ) -> Kiosk:
        """Open (create/migrate) the database and, in demo mode, seed today's demo data."""
        database = Database(settings.database_path)
        kiosk = cls(settings, database, clock=clock, monotonic=monotonic)
        kiosk._guard_demo_data()
        if settings.demo if seed_demo is None else seed_demo:
            from kiosk.demo import seed_demo as _seed

            _seed(kiosk)
        return kiosk

    def _guard_demo_data(self) -> None:
        """Mark a demo database; refuse one outside demo mode (its outbox may hold test taps)."""
        with self.db.read_session() as session:
            marked = get_state(StateKey.DEMO_DATA, session=session) == "1"
        if self.settings.demo and not marked:
            with self.db.write() as session:
                set_state(StateKey.DEMO_DATA, "1", session=session)
        elif marked and not self.settings.demo:
            self.db.close()
            raise ConfigError(
                f"{self.settings.database_path} holds demo data: give this kiosk its own "
                "data_dir (KIOSK_DATA_DIR), or delete that file"
            )

    def close(self) -> None:
        """Release the database connections."""
        self.db.close()

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each committed patient record (e.g. worker.nudge)."""
        self._commit_listeners.append(listener)

    def now(self) -> datetime:
        """Return the current time (UTC, aware) from the kiosk's clock."""
        return self._clock()

    def today(self) -> date:
        """Return the clinic-local date."""
        return self.now().astimezone(self.settings.tz).date()

    def _today_bounds(self) -> tuple[datetime, datetime]:
        local_day = self.today()
        start = datetime.combine(local_day, datetime.min.time(), tzinfo=self.settings.tz)
        end = datetime.combine(
            local_day + timedelta(days=1), datetime.min.time(), tzinfo=self.settings.tz
        )
        return start.astimezone(UTC), end.astimezone(UTC)

    def _write(self, action: Callable[[Session], T]) -> T:
        """Run `action` in one BEGIN IMMEDIATE transaction; return after COMMIT."""
        try:
            with self.db.write() as session:
                result = action(session)
        except KioskError:
            raise
        except (SQLAlchemyError, sqlite3.Error, RecordError, ValidationError) as exc:
            log.error("kiosk write failed: %s", type(exc).__name__)  # no patient data
            raise StorageError(MSG_NOT_SAVED) from exc
        for listener in self._commit_listeners:
            try:
                listener()
            except Exception:  # a listener must never undo a committed record
                log.exception("commit listener failed")
        return result

    def _language(self, language: str) -> str:
        if language in self.settings.languages:  # the usual case needs no database read
            return language
        if language not in self._languages():
            raise InvalidInput(validation.MSG_LANGUAGE, "language")
        return language

    def _languages(self) -> list[str]:
        with self.db.read_session() as session:
            clinic = session.get(ClinicRow, 1)
            if clinic is not None and clinic.languages:
                return list(dict.fromkeys([*clinic.languages, *self.settings.languages]))
        return list(self.settings.languages)

    def _server_url(self, session: Session) -> str:
        return get_state(StateKey.SERVER_URL, session=session) or self.settings.server_url

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
        return kdf if kdf.day == self.today() else None

    def _window(self, session: Session) -> tuple[timedelta, timedelta]:
        clinic = session.get(ClinicRow, 1)
        if clinic is not None:
            return (
                timedelta(minutes=clinic.check_in_early_minutes),
                timedelta(minutes=clinic.check_in_late_minutes),
            )
        return (
            timedelta(minutes=self.settings.check_in_early_minutes),
            timedelta(minutes=self.settings.check_in_late_minutes),
        )

    # --- clinic and config -------------------------------------------------------------
    def clinic_info(self) -> ClinicInfo:
        """Return the clinic's name, logo, phone and languages."""
        with self.db.read_session() as session:
            clinic = session.get(ClinicRow, 1)
            default_language = get_state(StateKey.DEFAULT_LANGUAGE, session=session)
        languages = self._languages()
        default = default_language or (
            clinic.default_language if clinic else self.settings.default_language
        )
        if default not in languages:
            default = languages[0]
        return ClinicInfo(
            name=clinic.name if clinic else self.settings.clinic_name,
            logo_path=str(self.settings.logo_path) if self.settings.logo_path else None,
            phone=(clinic.phone if clinic else None) or self.settings.clinic_phone,
            languages=languages,
            default_language=default,
        )

    def faq(self, language: str) -> list[FaqItem]:
        """Return the FAQ entries in `language` (the default language's if none)."""
        with self.db.read_session() as session:
            rows = self._faq_rows(session, language)
            if not rows:
                rows = self._faq_rows(session, self.clinic_info().default_language)
            return [FaqItem(id=row.id, question=row.question, answer=row.answer) for row in rows]

    @staticmethod
    def _faq_rows(session: Session, language: str) -> list[FaqRow]:
        return list(
            session.scalars(
                select(FaqRow)
                .where(FaqRow.language == language)
                .order_by(FaqRow.position, FaqRow.id)
            )
        )

    def idle_timeout_seconds(self) -> int:
        """Return the inactivity before the "Still there?" countdown ends the session."""
        with self.db.read_session() as session:
            value = get_int(StateKey.IDLE_TIMEOUT_SECONDS, session=session)
        return value if value is not None else self.settings.idle_timeout_seconds

    def idle_countdown_seconds(self) -> int:
        """Return the length of the "Still there?" countdown (it follows the timeout, so a
        short timeout set by staff never shortens the warning)."""
        return self.settings.idle_countdown_seconds

    # --- check in ----------------------------------------------------------------------
    def find_appointment(
        self, last_name: str, date_of_birth: date, phone_last4: str | None = None
    ) -> AppointmentMatch:
        """Match last name + date of birth (+ phone last 4) against today's appointments."""
        name = validation.clean_name(last_name, "last_name")
        dob = validation.check_date_of_birth(date_of_birth, today=self.today())
        last4 = validation.clean_phone_last4(phone_last4)
        now = self.now()
        start, end = self._today_bounds()
        with self.db.read_session() as session:
            kdf = self._match_kdf(session)
        if kdf is None:
            return AppointmentMatch(status=MatchStatus.NO_MATCH)
        # One memory-hard derivation (~60 ms) per surname form tried, outside any
        # transaction: the whole name as typed first, then each part of a compound name
        # ("Garcia Lopez" booked as "Garcia"); appointments carry keys of their parts too.
        for variant in surname_variants(name):
            secret = derive_match_secret(kdf, variant, dob)
            with self.db.read_session() as session:
                found = self._appointments_keyed(session, secret.match_key, start, end)
            if found:
                break
        else:
            return AppointmentMatch(status=MatchStatus.NO_MATCH)
        with self.db.read_session() as session:
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
                    self._receipt(earlier, self._server_url(session), already=True)
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

    @staticmethod
    def _appointments_keyed(
        session: Session, key: str, start: datetime, end: datetime
    ) -> dict[str, str | None]:
        """Return {ref: phone key} of today's appointments holding `key` (whole or part)."""
        today = (Appointment.starts_at >= start, Appointment.starts_at < end)
        whole = session.execute(
            select(Appointment.ref, Appointment.phone_key).where(
                Appointment.match_key == key, *today
            )
        ).all()
        parts = session.execute(
            select(AppointmentPartKey.appointment_ref, AppointmentPartKey.phone_key)
            .join(Appointment, Appointment.ref == AppointmentPartKey.appointment_ref)
            .where(AppointmentPartKey.match_key == key, *today)
        ).all()
        return {ref: phone for ref, phone in [*whole, *parts]}

    @staticmethod
    def _receipt(
        row: CheckIn | WalkIn, server_url: str, *, already: bool, wait_high: int | None = None
    ) -> CheckInReceipt:
        return CheckInReceipt(
            check_in_id=row.id,
            queue_number=row.queue_number,
            estimated_wait_minutes=row.estimated_wait_minutes,
            follow_up_url=follow_up_url(server_url, row.follow_up_token),
            already_checked_in=already,
            estimated_wait_high_minutes=wait_high,
        )

    def check_in(
        self, appointment_ref: str, language: str, interpreter_language: str | None = None
    ) -> CheckInReceipt:
        """Check in for a matched appointment (idempotent: a repeat returns the first receipt)."""
        return self._check_in(
            appointment_ref,
            language,
            enforce_window=True,
            interpreter_language=interpreter_language,
        )

    def _check_in(
        self,
        appointment_ref: str,
        language: str,
        *,
        enforce_window: bool,
        interpreter_language: str | None = None,
    ) -> CheckInReceipt:
        lang = self._language(language)
        interpreter = validation.check_interpreter_language(interpreter_language)
        if not isinstance(appointment_ref, str) or not 0 < len(appointment_ref) <= 64:
            raise InvalidInput(MSG_NOT_FOUND, "appointment_ref")
        start, end = self._today_bounds()

        def action(session: Session) -> CheckInReceipt:
            now = self.now()
            server_url = self._server_url(session)
            earlier = session.scalar(
                select(CheckIn).where(CheckIn.appointment_ref == appointment_ref)
            )
            if earlier is not None:
                return self._receipt(earlier, server_url, already=True)
            appointment = session.get(Appointment, appointment_ref)
            if appointment is None or not start <= appointment.starts_at < end:
                raise InvalidInput(MSG_NOT_FOUND, "appointment_ref")
            if appointment.checked_in:  # arrived per the server (front desk, other kiosk)
                raise KioskError(MSG_ALREADY_CHECKED_IN)
            early, late = self._window(session)
            inside = (
                appointment.starts_at - early
                <= now
                <= (appointment.starts_at + late + CONFIRM_GRACE)
            )
            if enforce_window and not inside:
                raise KioskError(MSG_SEE_FRONT_DESK)
            record_id = uuid.uuid4()
            wait, wait_high = self._estimate_range(
                session, now, clinician=appointment.clinician, starts_at=appointment.starts_at
            )
            row = CheckIn(
                id=str(record_id),
                appointment_ref=appointment.ref,
                checked_in_at=now,
                queue_number=self._next_queue_number(session),
                estimated_wait_minutes=wait,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            session.add(row)
            appointment.checked_in = True
            body = CheckInBody(
                appointment_ref=appointment.ref,
                checked_in_at=now,
                queue_number=row.queue_number,
                follow_up_token=row.follow_up_token,
                language=lang,
                interpreter_language=interpreter,
            )
            outbox.enqueue(
                RecordKind.CHECK_IN,
                dump_body(body),
                session=session,
                record_id=record_id,
                now=now,
            )
            return self._receipt(row, server_url, already=False, wait_high=wait_high)

        return self._write(action)

    def _next_queue_number(self, session: Session) -> str:
        """Allocate the next number of the clinic-local day inside the caller's transaction."""
        day = self.today().isoformat()
        counter = session.get(QueueCounter, day)
        if counter is None:
            counter = QueueCounter(day=day, last_number=0)
            session.add(counter)
        counter.last_number += 1
        return f"{self.settings.kiosk_letter}{counter.last_number:03d}"

    def _estimate_wait(self, session: Session, now: datetime) -> int:
        """Estimate minutes of waiting for someone arriving now (before adding them)."""
        per_patient = self.settings.minutes_per_patient
        values = get_many(
            (
                StateKey.QUEUE_UPDATED_AT,
                StateKey.QUEUE_WAITING,
                StateKey.QUEUE_ESTIMATED_WAIT_MINUTES,
            ),
            session=session,
        )
        pulled_at = parse_datetime(values.get(StateKey.QUEUE_UPDATED_AT))
        waiting = parse_int(values.get(StateKey.QUEUE_WAITING))
        estimate = parse_int(values.get(StateKey.QUEUE_ESTIMATED_WAIT_MINUTES))
        fresh = (
            pulled_at is not None
            and waiting is not None
            and estimate is not None
            and timedelta(0) <= now - pulled_at <= QUEUE_STATE_FRESH_FOR
        )
        since = pulled_at if fresh and pulled_at is not None else now - LOCAL_QUEUE_LOOKBACK
        arrivals = self._arrivals_since(session, since)
        if fresh and waiting is not None and estimate is not None:
            if waiting > 0 and estimate > 0:
                per_patient = max(1, round(estimate / waiting))
            return estimate + arrivals * per_patient
        return arrivals * per_patient

    def _estimate_range(
        self,
        session: Session,
        now: datetime,
        *,
        clinician: str | None = None,
        starts_at: datetime | None = None,
    ) -> tuple[int, int | None]:
        """Return the wait as (low, high) from the pulled ranges; high None without them.

        A booked patient: minutes until their appointment plus the clinician's lateness
        range. A walk-in: the walk-in range, plus minutes per patient for each walk-in
        registered here since the pull. Without a fresh range: the single figure.
        """
        single = self._estimate_wait(session, now)
        values = get_many((StateKey.QUEUE_UPDATED_AT, StateKey.QUEUE_WAIT_RANGES), session=session)
        pulled_at = parse_datetime(values.get(StateKey.QUEUE_UPDATED_AT))
        raw = values.get(StateKey.QUEUE_WAIT_RANGES)
        if (
            raw is None
            or pulled_at is None
            or not timedelta(0) <= now - pulled_at <= QUEUE_STATE_FRESH_FOR
        ):
            return single, None
        try:
            ranges = json.loads(raw)
        except ValueError:
            return single, None
        if clinician is not None and starts_at is not None:
            late = (ranges.get("clinicians") or {}).get(clinician)
            if not late:
                return single, None
            until = max(0, math.ceil((starts_at - now).total_seconds() / 60))
            return until + int(late[0]), until + int(late[1])
        walk_in = ranges.get("walk_in")
        if not walk_in:
            return single, None
        since = session.scalar(
            select(func.count()).select_from(WalkIn).where(WalkIn.arrived_at >= pulled_at)
        )
        extra = int(since or 0) * self.settings.minutes_per_patient
        return int(walk_in[0]) + extra, int(walk_in[1]) + extra

    @staticmethod
    def _arrivals_since(session: Session, since: datetime) -> int:
        check_ins = (
            select(func.count()).select_from(CheckIn).where(CheckIn.checked_in_at >= since)
        ).scalar_subquery()
        walk_ins = (
            select(func.count()).select_from(WalkIn).where(WalkIn.arrived_at >= since)
        ).scalar_subquery()
        return int(session.scalar(select(check_ins + walk_ins)) or 0)

    def update_contact(self, check_in_id: str, phone: str | None, email: str | None) -> None:
        """Record new phone and/or email for an earlier check-in or walk-in."""
        clean_phone = validation.clean_phone(phone)
        clean_email = validation.clean_email(email)
        if clean_phone is None and clean_email is None:
            raise InvalidInput(validation.MSG_CONTACT_REQUIRED, "phone")
        try:
            target = uuid.UUID(str(check_in_id))
        except ValueError:
            raise InvalidInput(MSG_UNKNOWN_VISIT, "check_in_id") from None

        def action(session: Session) -> None:
            if (
                session.get(CheckIn, str(target)) is None
                and session.get(WalkIn, str(target)) is None
            ):
                raise InvalidInput(MSG_UNKNOWN_VISIT, "check_in_id")
            now = self.now()
            record_id = uuid.uuid4()
            session.add(
                ContactUpdate(
                    id=str(record_id),
                    check_in_id=str(target),
                    updated_at=now,
                    has_phone=clean_phone is not None,
                    has_email=clean_email is not None,
                )
            )
            body = ContactUpdateBody(check_in_id=target, phone=clean_phone, email=clean_email)
            outbox.enqueue(
                RecordKind.CONTACT_UPDATE,
                dump_body(body),
                session=session,
                record_id=record_id,
                now=now,
            )

        self._write(action)

    def request_interpreter(self, check_in_id: str, interpreter_language: str) -> None:
        """Ask for an interpreter for an earlier check-in or walk-in (sent as a contact update)."""
        language = validation.check_interpreter_language(interpreter_language)
        if language is None:
            raise InvalidInput(validation.MSG_LANGUAGE, "interpreter_language")
        try:
            target = uuid.UUID(str(check_in_id))
        except ValueError:
            raise InvalidInput(MSG_UNKNOWN_VISIT, "check_in_id") from None

        def action(session: Session) -> None:
            if (
                session.get(CheckIn, str(target)) is None
                and session.get(WalkIn, str(target)) is None
            ):
                raise InvalidInput(MSG_UNKNOWN_VISIT, "check_in_id")
            now = self.now()
            record_id = uuid.uuid4()
            session.add(
                ContactUpdate(
                    id=str(record_id),
                    check_in_id=str(target),
                    updated_at=now,
                    has_phone=False,
                    has_email=False,
                )
            )
            body = ContactUpdateBody(check_in_id=target, interpreter_language=language)
            outbox.enqueue(
                RecordKind.CONTACT_UPDATE,
                dump_body(body),
                session=session,
                record_id=record_id,
                now=now,
            )

        self._write(action)

    def register_walk_in(
        self,
        first_name: str,
        last_name: str,
        date_of_birth: date,
        reason: str,
        phone: str | None,
        language: str,
        interpreter_language: str | None = None,
    ) -> CheckInReceipt:
        """Register a patient without a matching appointment and give them a queue number."""
        interpreter = validation.check_interpreter_language(interpreter_language)
        first = validation.clean_name(first_name, "first_name")
        last = validation.clean_name(last_name, "last_name")
        dob = validation.check_date_of_birth(date_of_birth, today=self.today())
        why = validation.clean_text(
            reason, max_chars=validation.MAX_REASON_CHARS, field_name="reason"
        )
        clean_phone = validation.clean_phone(phone)
        lang = self._language(language)

        start, end = self._today_bounds()

        def action(session: Session) -> CheckInReceipt:
            now = self.now()
            identity = self._walk_in_identity(session, first, last, dob)
            earlier = session.scalar(
                select(WalkIn).where(
                    WalkIn.identity_key == identity,
                    WalkIn.arrived_at >= start,
                    WalkIn.arrived_at < end,
                )
            )
            if earlier is not None:  # registered already today: same receipt, nothing new
                return self._receipt(earlier, self._server_url(session), already=True)
            record_id = uuid.uuid4()
            wait, wait_high = self._estimate_range(session, now)
            row = WalkIn(
                id=str(record_id),
                identity_key=identity,
                arrived_at=now,
                queue_number=self._next_queue_number(session),
                estimated_wait_minutes=wait,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            session.add(row)
            body = WalkInBody(
                first_name=first,
                last_name=last,
                date_of_birth=dob,
                reason=why,
                phone=clean_phone,
                arrived_at=now,
                queue_number=row.queue_number,
                follow_up_token=row.follow_up_token,
                language=lang,
                interpreter_language=interpreter,
            )
            outbox.enqueue(
                RecordKind.WALK_IN,
                dump_body(body),
                session=session,
                record_id=record_id,
                now=now,
            )
            return self._receipt(row, self._server_url(session), already=False, wait_high=wait_high)

        return self._write(action)

    @staticmethod
    def _walk_in_identity(session: Session, first: str, last: str, dob: date) -> str:
        """Return the keyed hash identifying a walk-in (key made on first use, kept local)."""
        key_hex = get_state(StateKey.LOCAL_KEY, session=session)
        if not key_hex:
            key_hex = secrets.token_hex(32)
            set_state(StateKey.LOCAL_KEY, key_hex, session=session)
        message = "|".join(
            ("walk_in", normalize_last_name(first), normalize_last_name(last), dob.isoformat())
        )
        return hmac.new(bytes.fromhex(key_hex), message.encode(), hashlib.sha256).hexdigest()

    # --- questions ---------------------------------------------------------------------
    def is_emergency_text(self, text: str) -> bool:
        """Return True when the text has words that suggest an emergency."""
        return emergency.is_emergency_text(text or "", path=self._emergency_path)

    def ask_question(
        self,
        text: str,
        language: str,
        contact_name: str | None = None,
        contact_phone: str | None = None,
        contact_email: str | None = None,
    ) -> QuestionReceipt:
        """Store a question for the staff and return where the answer will appear."""
        question = validation.clean_text(
            text, max_chars=validation.MAX_QUESTION_CHARS, field_name="text"
        )
        name = validation.clean_optional_name(contact_name, "contact_name")
        phone = validation.clean_phone(contact_phone, "contact_phone")
        email = validation.clean_email(contact_email, "contact_email")
        lang = self._language(language)
        urgent = self.is_emergency_text(question)

        def action(session: Session) -> QuestionReceipt:
            now = self.now()
            record_id = uuid.uuid4()
            row = Question(
                id=str(record_id),
                asked_at=now,
                emergency_flag=urgent,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            session.add(row)
            body = QuestionBody(
                text=question,
                contact_name=name,
                contact_phone=phone,
                contact_email=email,
                emergency_flag=urgent,
                asked_at=now,
                follow_up_token=row.follow_up_token,
                language=lang,
            )
            outbox.enqueue(
                RecordKind.QUESTION,
                dump_body(body),
                session=session,
                record_id=record_id,
                now=now,
            )
            return QuestionReceipt(
                question_id=row.id,
                follow_up_url=follow_up_url(self._server_url(session), row.follow_up_token),
                emergency=urgent,
            )

        return self._write(action)

    # --- rating ------------------------------------------------------------------------
    def rate_visit(
        self, face: int, language: str, appointment_ref: str | None = None
    ) -> RatingReceipt:
        """Store a face tap at once (one per known visit; anonymous repeats are merged)."""
        if isinstance(face, bool) or not isinstance(face, int) or not 1 <= face <= 5:
            raise InvalidInput(validation.MSG_FACE, "face")
        lang = self._language(language)
        ref = appointment_ref or None
        if ref is not None and (not isinstance(ref, str) or len(ref) > 64):
            raise InvalidInput(MSG_UNKNOWN_VISIT, "appointment_ref")

        def action(session: Session) -> RatingReceipt:
            now = self.now()
            server_url = self._server_url(session)
            if ref is not None:
                earlier = session.scalar(select(Rating).where(Rating.appointment_ref == ref))
                known = (
                    session.get(Appointment, ref) is not None
                    or session.scalar(select(CheckIn.id).where(CheckIn.appointment_ref == ref))
                    is not None
                )
                if earlier is None and not known:
                    raise InvalidInput(MSG_UNKNOWN_VISIT, "appointment_ref")
            else:
                window = timedelta(seconds=self.settings.rating_dedupe_seconds)
                earlier = session.scalar(
                    select(Rating)
                    .where(Rating.appointment_ref.is_(None), Rating.rated_at > now - window)
                    .order_by(Rating.rated_at.desc())
                    .limit(1)
                )
            if earlier is not None:
                return RatingReceipt(
                    rating_id=earlier.id,
                    follow_up_url=follow_up_url(server_url, earlier.follow_up_token),
                    counted=False,
                )
            record_id = uuid.uuid4()
            row = Rating(
                id=str(record_id),
                face=face,
                appointment_ref=ref,
                rated_at=now,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            session.add(row)
            body = RatingBody(
                face=face,
                appointment_ref=ref,
                rated_at=now,
                follow_up_token=row.follow_up_token,
                language=lang,
            )
            outbox.enqueue(
                RecordKind.RATING,
                dump_body(body),
                session=session,
                record_id=record_id,
                now=now,
            )
            return RatingReceipt(
                rating_id=row.id,
                follow_up_url=follow_up_url(server_url, row.follow_up_token),
                counted=True,
            )

        return self._write(action)

    def add_rating_details(self, rating_id: str, details: RatingDetails) -> None:
        """Store the optional answers after a face rating (first answers win; see docs)."""
        try:
            target = uuid.UUID(str(rating_id))
        except ValueError:
            raise InvalidInput(MSG_UNKNOWN_VISIT, "rating_id") from None
        scores: dict[str, int | None] = {}
        for name in ("ease_of_contact", "waiting_time", "politeness", "kept_informed", "overall"):
            value = getattr(details, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5
            ):
                raise InvalidInput(validation.MSG_SCORE, name)
            scores[name] = value
        recommend = details.would_recommend
        if recommend is not None and (
            isinstance(recommend, bool)
            or not isinstance(recommend, int)
            or not 0 <= recommend <= 10
        ):
            raise InvalidInput(validation.MSG_SCORE, "would_recommend")
        comment = validation.clean_optional_text(
            details.comment, max_chars=validation.MAX_COMMENT_CHARS, field_name="comment"
        )
        phone = validation.clean_phone(details.contact_phone, "contact_phone")
        body = RatingDetailBody(
            rating_id=target,
            would_recommend=recommend,
            comment=comment,
            consent_to_contact=bool(details.consent_to_contact),
            contact_phone=phone,
            **scores,
        )
        payload = dump_body(body)
        digest = body_hash(payload)

        def action(session: Session) -> None:
            if session.get(Rating, str(target)) is None:
                raise InvalidInput(MSG_UNKNOWN_VISIT, "rating_id")
            earlier = session.scalar(
                select(RatingDetail).where(RatingDetail.rating_id == str(target))
            )
            if earlier is not None:
                if earlier.body_hash == digest:
                    return  # a repeated submit of the same answers: nothing new
                raise InvalidInput(MSG_DETAILS_SAVED, "rating_id")
            now = self.now()
            record_id = uuid.uuid4()
            session.add(
                RatingDetail(
                    id=str(record_id), rating_id=str(target), created_at=now, body_hash=digest
                )
            )
            outbox.enqueue(
                RecordKind.RATING_DETAIL, payload, session=session, record_id=record_id, now=now
            )

        self._write(action)

    # --- staff corner ------------------------------------------------------------------
    def verify_admin_pin(self, pin: str) -> bool:
        """Check the staff PIN; after too many wrong tries, refuse everything for a while."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        with self._pin_lock:
            if self._monotonic() < self._pin_locked_until:
                return False
            try:
                ok: bool = isinstance(pin, str) and PasswordHasher().verify(self._pin_hash, pin)
            except (VerificationError, InvalidHashError):
                ok = False
            if ok:
                self._pin_failures = 0
                return True
            self._pin_failures += 1
            if self._pin_failures >= self.settings.admin_max_attempts:
                self._pin_failures = 0
                self._pin_locked_until = self._monotonic() + self.settings.admin_lockout_seconds
                log.warning("admin PIN locked after repeated wrong tries")
            return False

    def admin_lockout_remaining(self) -> int:
        """Return the whole seconds left before the PIN may be tried again (0 if none)."""
        left = self._pin_locked_until - self._monotonic()
        return max(0, int(left + 0.999))

    def sync_status(self) -> SyncStatus:
        """Return the outbox backlog, sync health and clock health (constant cost)."""
        keys = (
            StateKey.LAST_SUCCESS_AT,
            StateKey.ONLINE,
            StateKey.KIOSK_TOKEN,
            StateKey.REVOKED,
            StateKey.LAST_ERROR,
            StateKey.CLOCK_SKEW_SECONDS,
        )
        with self.db.read_session() as session:
            numbers = outbox.counts(session=session)  # trigger-kept counters, no scan
            values = get_many(keys, session=session)
            last_failure = self._last_failure(session) if numbers["failed"] else None
        skew = parse_int(values.get(StateKey.CLOCK_SKEW_SECONDS))
        problem = clock_problem(self.now(), skew)
        return SyncStatus(
            pending=numbers["pending"] + numbers["in_flight"],
            failed=numbers["failed"],
            last_success_at=parse_datetime(values.get(StateKey.LAST_SUCCESS_AT)),
            online=None if StateKey.ONLINE not in values else values[StateKey.ONLINE] == "1",
            paired=bool(values.get(StateKey.KIOSK_TOKEN)),
            revoked=values.get(StateKey.REVOKED) == "1",
            last_error=values.get(StateKey.LAST_ERROR),
            last_failure=last_failure,
            clock_problem=problem.value if problem else None,
            clock_skew_seconds=skew,
        )

    @staticmethod
    def _last_failure(session: Session) -> str | None:
        """Return the kind and reason of the newest record parked as failed."""
        row = session.execute(
            select(outbox.OutboxRecord.kind, outbox.OutboxRecord.last_error)
            .where(outbox.OutboxRecord.status == outbox.OutboxStatus.FAILED)
            .order_by(outbox.OutboxRecord.next_attempt_at.desc())
            .limit(1)
        ).first()
        return None if row is None else f"{row.kind}: {row.last_error or '?'}"

    def admin_settings(self) -> dict[str, str]:
        """Return the settings staff may change: server_url, default_language, idle timeout."""
        with self.db.read_session() as session:
            server_url = self._server_url(session)
        return {
            "server_url": server_url,
            "default_language": self.clinic_info().default_language,
            "idle_timeout_seconds": str(self.idle_timeout_seconds()),
        }

    def save_admin_settings(self, values: dict[str, str]) -> None:
        """Validate and store staff changes (all or nothing)."""
        changes: dict[StateKey, str] = {}
        for key, raw in values.items():
            text = str(raw).strip()
            if key == "server_url":
                changes[StateKey.SERVER_URL] = check_server_url(text)
            elif key == "default_language":
                if text not in self._languages():
                    raise InvalidInput(validation.MSG_LANGUAGE, key)
                changes[StateKey.DEFAULT_LANGUAGE] = text
            elif key == "idle_timeout_seconds":
                low, high = IDLE_TIMEOUT_RANGE
                if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
                    raise InvalidInput(MSG_IDLE_TIMEOUT, key)
                changes[StateKey.IDLE_TIMEOUT_SECONDS] = str(int(text))
            else:
                raise InvalidInput(MSG_UNKNOWN_SETTING, key)

        def action(session: Session) -> None:
            for state_key, value in changes.items():
                set_state(state_key, value, session=session)

        self._write(action)

    def request_pairing(
        self, server_url: str, pairing_code: str, on_done: Callable[[str | None], None]
    ) -> None:
        """Pair in the background; on_done(None) on success or on_done(msgid) on failure."""
        syncing.request_pairing(self, server_url, pairing_code, on_done)


def _staff_pin_hash(settings: KioskSettings) -> str:
    """Return the configured staff PIN hash; the public demo PIN only in demo mode."""
    if settings.admin_pin_hash:
        return settings.admin_pin_hash
    if settings.demo:
        return _demo_pin_hash()
    raise ConfigError("missing setting admin_pin_hash (KIOSK_ADMIN_PIN_HASH)")


@functools.lru_cache(maxsize=1)
def _demo_pin_hash() -> str:
    """Hash the demo PIN once per process; cheap parameters, as the demo PIN is public."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_ADMIN_PIN)


def check_server_url(text: str) -> str:
    """Return a clinic server base URL (http/https with a host) or raise InvalidInput."""
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InvalidInput(MSG_SERVER_URL, "server_url") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() for ch in text)
        or parts.query
        or parts.fragment
    ):
        raise InvalidInput(MSG_SERVER_URL, "server_url")
    return text.rstrip("/")
