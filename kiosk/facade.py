"""The kiosk's one entry point for the UI: every patient action is one method here.

Screens call these methods (through `App.get_running_app().kiosk`) and nothing else of the
domain: each method validates its input, runs ONE local transaction (domain row + outbox
row) and returns only after COMMIT, so the UI may say "done". Bad input raises
`InvalidInput` whose `message` is an English msgid, translated by the UI with gettext.

`KioskFacade` is a `typing.Protocol`: the screens are type-checked against it, and
kiosk.services.Kiosk (which subclasses it, so mypy checks it implements every method) is the
implementation. No Kivy import here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from kiosk.config import KioskSettings

# The rating rules the screens need, from their one home (screens may not import sync).
from sync.rules import UnknownRuleKey as UnknownRuleKey
from sync.rules import check_dimension
from sync.rules import dimension_table as dimension_table
from sync.rules import face_table as face_table


def N_(message: str) -> str:
    """Mark a string for translation without translating it (gettext's N_)."""
    return message


class KioskError(Exception):
    """A condition the patient must be told about; `message` is an English msgid."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_name = field_name  # which input the message is about, if any


class InvalidInput(KioskError):
    """Input that cannot be accepted (empty, too long, impossible date, control chars...)."""


class StorageError(KioskError):
    """The record could not be saved (disk or database failure); nothing was written."""


class MatchStatus(StrEnum):
    MATCHED = "matched"  # one appointment today, inside the check-in window
    ALREADY_CHECKED_IN = "already_checked_in"  # matched, but checked in before: nothing new
    TOO_EARLY = "too_early"  # matched, before the window: see the front desk
    TOO_LATE = "too_late"  # matched, after the window: see the front desk
    NO_MATCH = "no_match"  # nothing today for that name + date of birth
    AMBIGUOUS = "ambiguous"  # several matches: ask for phone last 4 (or front desk)


@dataclass(frozen=True)
class AppointmentMatch:
    """What the kiosk may show after a lookup: never a full name."""

    status: MatchStatus
    appointment_ref: str | None = None
    first_initial: str | None = None
    starts_at: datetime | None = None  # timezone-aware
    clinician: str | None = None
    receipt: CheckInReceipt | None = None  # set when ALREADY_CHECKED_IN
    check_in_opens_at: datetime | None = None  # set when TOO_EARLY: "check-in opens at 10:30"


@dataclass(frozen=True)
class CheckInReceipt:
    check_in_id: str  # the outbox/record UUID
    queue_number: str  # e.g. "A012": kiosk letter + daily sequence
    estimated_wait_minutes: int
    follow_up_url: str  # server base URL + /f/<opaque token>
    already_checked_in: bool = False
    #: The top of the estimated range (estimated_wait_minutes is its low end); None when
    #: the server sent no range (an earlier version, or too little history).
    estimated_wait_high_minutes: int | None = None


@dataclass(frozen=True)
class QuestionReceipt:
    question_id: str
    follow_up_url: str
    emergency: bool  # the text contains words that suggest an emergency


@dataclass(frozen=True)
class RatingReceipt:
    rating_id: str
    follow_up_url: str
    counted: bool  # False when a repeated press within the dedupe interval was merged


@dataclass(frozen=True)
class FaqItem:
    id: str
    question: str
    answer: str


@dataclass(frozen=True)
class SyncStatus:
    pending: int
    failed: int
    last_success_at: datetime | None
    online: bool | None  # None: never tried / not paired
    paired: bool
    revoked: bool = False
    last_error: str | None = None
    #: Why the newest record parked as failed was refused (kind and the server's reason).
    last_failure: str | None = None
    #: What is wrong with the kiosk's clock (sync.protocol.ClockProblem value), if anything,
    #: and how far it was from the server's at the last answer (seconds, + = ahead).
    clock_problem: str | None = None
    clock_skew_seconds: int | None = None


@dataclass(frozen=True)
class RatingDetails:
    # One field per sync.rules.RATING_DIMENSIONS (1..5), as on the wire's RatingDetailBody.
    ease_of_contact: int | None = None
    waiting_time: int | None = None
    politeness: int | None = None
    kept_informed: int | None = None
    overall: int | None = None
    would_recommend: int | None = None  # 0..10
    comment: str | None = None
    consent_to_contact: bool = False
    contact_phone: str | None = None

    def score(self, dimension: str) -> int | None:
        """Return the answer of one rating dimension; an unknown name raises UnknownRuleKey."""
        value: int | None = getattr(self, check_dimension(dimension))
        return value


@dataclass
class ClinicInfo:
    name: str
    logo_path: str | None
    phone: str | None
    languages: list[str] = field(default_factory=lambda: ["en", "es"])
    default_language: str = "en"


class KioskFacade(Protocol):
    """What the screens may call; kiosk.services.Kiosk implements it.

    Screens reach it as `KioskScreen.kiosk`, typed as this protocol, so mypy checks every
    call they make. Each method validates its input first (InvalidInput) and a write
    returns only after COMMIT (StorageError if nothing could be saved).
    """

    @property
    def settings(self) -> KioskSettings:
        """The kiosk's settings (receipt time, time zone): read-only for the UI."""
        ...

    # --- clinic and config -------------------------------------------------------------
    def clinic_info(self) -> ClinicInfo:
        """Return the clinic's name, logo, phone and languages."""
        ...

    def faq(self, language: str) -> list[FaqItem]:
        """Return the FAQ entries in `language` (the default language's if none)."""
        ...

    def idle_timeout_seconds(self) -> int:
        """Return the inactivity before the "Still there?" countdown ends the session."""
        ...

    def idle_countdown_seconds(self) -> int:
        """Return the length of the "Still there?" countdown."""
        ...

    # --- check in ----------------------------------------------------------------------
    def find_appointment(
        self, last_name: str, date_of_birth: date, phone_last4: str | None = None
    ) -> AppointmentMatch:
        """Match last name + date of birth (+ phone last 4) against today's appointments."""
        ...

    def check_in(
        self, appointment_ref: str, language: str, interpreter_language: str | None = None
    ) -> CheckInReceipt:
        """Check in for a matched appointment (a repeat returns the first receipt)."""
        ...

    def request_interpreter(self, check_in_id: str, interpreter_language: str) -> None:
        """Ask for an interpreter for an earlier check-in or walk-in."""
        ...

    def update_contact(self, check_in_id: str, phone: str | None, email: str | None) -> None:
        """Record a new phone and/or email for an earlier check-in or walk-in."""
        ...

    # Signature repeated in kiosk/services.py (forwards) and kiosk/walkins.py (does the work):
    # kept so the screens see only this Protocol; mypy checks both copies against it.
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
        ...

    # --- questions ---------------------------------------------------------------------
    def is_emergency_text(self, text: str) -> bool:
        """Return True when the text has words that suggest an emergency."""
        ...

    # Signature repeated in kiosk/services.py (forwards) and kiosk/questions.py (does the work):
    # kept so the screens see only this Protocol; mypy checks both copies against it.
    def ask_question(
        self,
        text: str,
        language: str,
        contact_name: str | None = None,
        contact_phone: str | None = None,
        contact_email: str | None = None,
    ) -> QuestionReceipt:
        """Store a question for the staff and return where the answer will appear."""
        ...

    # --- rating ------------------------------------------------------------------------
    def rate_visit(
        self, face: int, language: str, appointment_ref: str | None = None
    ) -> RatingReceipt:
        """Store a face tap at once (one per known visit; anonymous repeats are merged)."""
        ...

    def add_rating_details(self, rating_id: str, details: RatingDetails) -> None:
        """Store the optional answers after a face rating (first answers win)."""
        ...

    # --- staff corner ------------------------------------------------------------------
    def verify_admin_pin(self, pin: str) -> bool:
        """Check the staff PIN; after too many wrong tries, refuse everything for a while."""
        ...

    def admin_lockout_remaining(self) -> int:
        """Return the whole seconds left before the PIN may be tried again (0 if none)."""
        ...

    def sync_status(self) -> SyncStatus:
        """Return the outbox backlog, sync health and clock health."""
        ...

    def admin_settings(self) -> dict[str, str]:
        """Return the settings staff may change: server_url, default_language, idle timeout."""
        ...

    def save_admin_settings(self, values: dict[str, str]) -> None:
        """Validate and store staff changes (all or nothing; InvalidInput names the key)."""
        ...

    def request_pairing(
        self, server_url: str, pairing_code: str, on_done: Callable[[str | None], None]
    ) -> None:
        """Pair in the background; on_done(None) on success or on_done(msgid) on failure.

        on_done is called from a background thread: the UI wraps it with @mainthread.
        """
        ...
