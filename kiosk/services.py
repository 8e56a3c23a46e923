"""`Kiosk`: the kiosk core the screens call (kiosk.facade.KioskFacade), one object.

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
domain row and its outbox row (same UUID; kiosk.core). kiosk.demo.DEMO_PEOPLE lists who to
type.

The work is done by one object per capability, all sharing one `KioskCore` (settings,
database, clock, write path): kiosk.info, kiosk.checkin, kiosk.walkins, kiosk.waiting,
kiosk.questions, kiosk.feedback, kiosk.staff and kiosk.status. This class composes them
and only forwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime

from kiosk import status, syncing
from kiosk.checkin import CheckInDesk
from kiosk.config import ConfigError, KioskSettings
from kiosk.core import KioskCore
from kiosk.db import Database
from kiosk.facade import (
    AppointmentMatch,
    CheckInReceipt,
    ClinicInfo,
    FaqItem,
    KioskFacade,
    QuestionReceipt,
    RatingDetails,
    RatingReceipt,
    SyncStatus,
)
from kiosk.feedback import FeedbackDesk
from kiosk.info import InfoDesk
from kiosk.questions import QuestionDesk
from kiosk.staff import StaffCorner
from kiosk.state import StateKey, get_state, set_state
from kiosk.waiting import WaitingRoom
from kiosk.walkins import WalkInDesk
from sync.outbox import utcnow


class Kiosk(KioskFacade):
    """The kiosk core over one SQLite database: every facade method, forwarded."""

    def __init__(
        self,
        settings: KioskSettings,
        database: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = KioskCore(settings, database, clock=clock)
        self.info = InfoDesk(self.core)
        self.waiting = WaitingRoom(self.core)
        self.check_ins = CheckInDesk(self.core, self.waiting)
        self.walk_ins = WalkInDesk(self.core, self.waiting)
        self.questions = QuestionDesk(self.core)
        self.feedback = FeedbackDesk(self.core)
        self.staff = StaffCorner(self.core, self.info, monotonic=monotonic)

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
            from kiosk.demo import seed_demo as _seed  # demo data only where asked for

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

    @property
    def settings(self) -> KioskSettings:
        return self.core.settings

    @property
    def db(self) -> Database:
        return self.core.db

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each committed write (e.g. worker.nudge)."""
        self.core.add_commit_listener(listener)

    def now(self) -> datetime:
        """Return the current time (UTC, aware) from the kiosk's clock."""
        return self.core.now()

    def today(self) -> date:
        """Return the clinic-local date."""
        return self.core.today()

    # --- clinic and config -------------------------------------------------------------
    def clinic_info(self) -> ClinicInfo:
        return self.info.clinic_info()

    def faq(self, language: str) -> list[FaqItem]:
        return self.info.faq(language)

    def idle_timeout_seconds(self) -> int:
        return self.info.idle_timeout_seconds()

    def idle_countdown_seconds(self) -> int:
        return self.info.idle_countdown_seconds()

    # --- check in ----------------------------------------------------------------------
    def find_appointment(
        self, last_name: str, date_of_birth: date, phone_last4: str | None = None
    ) -> AppointmentMatch:
        return self.check_ins.find_appointment(last_name, date_of_birth, phone_last4)

    def check_in(
        self, appointment_ref: str, language: str, interpreter_language: str | None = None
    ) -> CheckInReceipt:
        return self.check_ins.check_in(appointment_ref, language, interpreter_language)

    def request_interpreter(self, check_in_id: str, interpreter_language: str) -> None:
        self.check_ins.request_interpreter(check_in_id, interpreter_language)

    def update_contact(self, check_in_id: str, phone: str | None, email: str | None) -> None:
        self.check_ins.update_contact(check_in_id, phone, email)

    # Same signature as KioskFacade.register_walk_in and WalkInDesk's: this class only forwards.
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
        return self.walk_ins.register_walk_in(
            first_name,
            last_name,
            date_of_birth,
            reason,
            phone,
            language,
            interpreter_language,
        )

    # --- questions ---------------------------------------------------------------------
    def is_emergency_text(self, text: str) -> bool:
        return self.questions.is_emergency_text(text)

    # Same signature as KioskFacade.ask_question and QuestionDesk's: this class only forwards.
    def ask_question(
        self,
        text: str,
        language: str,
        contact_name: str | None = None,
        contact_phone: str | None = None,
        contact_email: str | None = None,
    ) -> QuestionReceipt:
        return self.questions.ask_question(
            text, language, contact_name, contact_phone, contact_email
        )

    # --- rating ------------------------------------------------------------------------
    def rate_visit(
        self, face: int, language: str, appointment_ref: str | None = None
    ) -> RatingReceipt:
        return self.feedback.rate_visit(face, language, appointment_ref)

    def add_rating_details(self, rating_id: str, details: RatingDetails) -> None:
        self.feedback.add_rating_details(rating_id, details)

    # --- staff corner ------------------------------------------------------------------
    def verify_admin_pin(self, pin: str) -> bool:
        return self.staff.verify_admin_pin(pin)

    def admin_lockout_remaining(self) -> int:
        return self.staff.admin_lockout_remaining()

    def sync_status(self) -> SyncStatus:
        return status.sync_status(self.core)

    def admin_settings(self) -> dict[str, str]:
        return self.staff.admin_settings()

    def save_admin_settings(self, values: dict[str, str]) -> None:
        self.staff.save_admin_settings(values)

    def request_pairing(
        self, server_url: str, pairing_code: str, on_done: Callable[[str | None], None]
    ) -> None:
        # kiosk.syncing keeps its worker and status listeners per Kiosk object: pass this one.
        syncing.request_pairing(self, server_url, pairing_code, on_done)
