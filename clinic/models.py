"""Clinic server tables (SQLAlchemy 2.0 typed). Alembic migrations in clinic/migrations.

Received kiosk records are stored verbatim in `received_records` (the idempotency key is the
client-made UUID primary key) and, in the same transaction, in the typed tables the dashboard
reads (arrivals, questions, ratings, follow-up tokens). Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sync.rules import utcnow as utcnow  # the server's modules take the shared clock here
from sync.sqltypes import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every clinic server table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, uuid.UUID: Uuid}


# ---------------------------------------------------------------------------------------
# Status enums (stored as their string values)
# ---------------------------------------------------------------------------------------
class StaffRole(StrEnum):
    STAFF = "staff"
    ADMIN = "admin"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    ARRIVED = "arrived"  # FHIR Appointment.status = arrived
    CALLED_IN = "called_in"
    SEEN = "seen"  # FHIR fulfilled
    NO_SHOW = "no_show"  # FHIR noshow


class ArrivalStatus(StrEnum):
    WAITING = "waiting"
    CALLED_IN = "called_in"
    SEEN = "seen"
    NO_SHOW = "no_show"


class ReviewState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class FollowUpKind(StrEnum):
    CHECK_IN = "check_in"  # target: arrivals.id
    WALK_IN = "walk_in"  # target: arrivals.id
    QUESTION = "question"  # target: questions.id
    RATING = "rating"  # target: ratings.id


class AlertKind(StrEnum):
    UNHAPPY_RATINGS = "unhappy_ratings"
    EMERGENCY_QUESTION = "emergency_question"
    QUESTION_UNANSWERED = "question_unanswered"
    PATIENT_WAITING = "patient_waiting"
    KIOSK_SILENT = "kiosk_silent"


class AlertEmail(StrEnum):
    """Where an alert's e-mail stands."""

    PENDING = "pending"  # to be sent by the alert checker
    SENDING = "sending"  # claimed by one process
    SENT = "sent"
    SUPPRESSED = "suppressed"  # another e-mail of its kind went out shortly before
    FAILED = "failed"  # gave up after retries (reason logged)
    OFF = "off"  # no SMTP server or recipient configured when it was raised


def _enum(enum_cls: type[StrEnum]) -> String:
    return String(max(len(m.value) for m in enum_cls) + 8)


# ---------------------------------------------------------------------------------------
# Kiosks and pairing
# ---------------------------------------------------------------------------------------
class Kiosk(Base):
    __tablename__ = "kiosks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    app_version: Mapped[str | None] = mapped_column(String(32))
    backlog: Mapped[int] = mapped_column(Integer, default=0)  # from the last heartbeat
    failed: Mapped[int] = mapped_column(Integer, default=0)  # from the last heartbeat
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_heartbeat_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # From the last heartbeat: exceptions the kiosk recovered from, and its clock's health.
    crash_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_crash_at: Mapped[datetime | None]
    clock_skew_seconds: Mapped[int | None] = mapped_column(Integer)
    clock_problem: Mapped[str | None] = mapped_column(String(32))

    # Same as WaitingRoomDisplay.active: a kiosk and a display are revoked alike.
    @property
    def active(self) -> bool:
        """Return whether the kiosk's token still works."""
        return self.revoked_at is None


# Same columns as DisplayPairingCode: kept as two tables so a kiosk's code cannot pair a
# display nor a display's a kiosk (both are issued by clinic.kiosks.issue_pairing_code).
class PairingCode(Base):
    __tablename__ = "pairing_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("kiosks.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


# ---------------------------------------------------------------------------------------
# Staff accounts, sessions, login throttling, audit
# ---------------------------------------------------------------------------------------
class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id (PHC string)
    role: Mapped[str] = mapped_column(_enum(StaffRole), default=StaffRole.STAFF)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    #: Set by an admin's password reset: the user must choose a new password before anything.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    #: Base32 TOTP secret; in force once totp_enabled_at is set (enrolment confirmed a code).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    #: The last accepted TOTP time step, so one code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    @property
    def is_admin(self) -> bool:
        """Return whether the user has the admin role."""
        return self.role == StaffRole.ADMIN

    @property
    def totp_enabled(self) -> bool:
        """Return whether sign-in asks for a TOTP code after the password."""
        return self.totp_enabled_at is not None and self.totp_secret is not None


class RecoveryCode(Base):
    """A one-time TOTP recovery code (only its hash is stored)."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_staff_recovery_codes_user_id", "user_id"),)


class StaffSession(Base):
    """A server-side login session; the cookie holds a random id, the table its SHA-256."""

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute timeout
    address: Mapped[str | None] = mapped_column(String(64))
    #: The password was right but the TOTP code is still to come: the session opens nothing.
    awaiting_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[StaffUser] = relationship(lazy="joined")

    __table_args__ = (Index("ix_staff_sessions_user_id", "user_id"),)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "attempted_at"),
        Index("ix_login_attempts_address_at", "address", "attempted_at"),
    )


class AuditEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who did what, when, to what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor: Mapped[str] = mapped_column(String(100))  # username, "kiosk:<id>", "cli", "system"
    action: Mapped[str] = mapped_column(String(64))  # e.g. "login", "view.arrivals", "export"
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_audit_log_at", "at"),)


# ---------------------------------------------------------------------------------------
# Appointments and what kiosks send
# ---------------------------------------------------------------------------------------
class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    date_of_birth: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    clinician: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(_enum(AppointmentStatus), default=AppointmentStatus.BOOKED)
    arrived_at: Mapped[datetime | None]
    called_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The kiosk's match keys, derived at import (argon2id, tens of ms each) so a pull does
    # not have to; `match_tag` names the day's salt and cost they were derived with.
    match_key: Mapped[str | None] = mapped_column(String(64))
    phone_key: Mapped[str | None] = mapped_column(String(64))
    match_tag: Mapped[str | None] = mapped_column(String(80))
    #: [[match key, phone key or null], ...] of each part of a compound surname.
    part_keys: Mapped[list[list[str | None]] | None] = mapped_column(JSON, default=None)

    __table_args__ = (Index("ix_appointments_starts_at", "starts_at"),)


class ReceivedRecord(Base):
    """A kiosk record exactly as received; the UUID primary key makes ingest idempotent."""

    __tablename__ = "received_records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kiosk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kiosks.id"))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]]
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]  # when the kiosk made it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: For contact_update / rating_detail: the record they amend.
    target_id: Mapped[uuid.UUID | None]
    #: When a dependent record was applied to its target (None: target not received yet).
    applied_at: Mapped[datetime | None]
    #: The kiosk's clock was off when it made the record (created_at is its claim only; the
    #: typed rows use received_at instead).
    clock_skewed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        Index("ix_received_records_target_id", "target_id"),
        Index("ix_received_records_received_at", "received_at"),
    )


class Arrival(Base):
    """A check-in (appointment) or walk-in: one patient in today's queue."""

    __tablename__ = "arrivals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the record's UUID
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("kiosks.id"))
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    appointment_ref: Mapped[str | None] = mapped_column(String(64))
    queue_number: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(_enum(ArrivalStatus), default=ArrivalStatus.WAITING)
    arrived_at: Mapped[datetime]
    called_at: Mapped[datetime | None]
    seen_at: Mapped[datetime | None]
    #: Where the patient was called to go ("Room 3"); shown on their phone and the display.
    room: Mapped[str | None] = mapped_column(String(40))
    #: Whose queue called a walk-in (booked patients have their appointment's clinician).
    clinician: Mapped[str | None] = mapped_column(String(80))
    #: How many times the patient was called (a recall calls them again).
    call_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The latest call or recall: the display lists and chimes on it.
    last_called_at: Mapped[datetime | None]
    language: Mapped[str] = mapped_column(String(8), default="en")
    #: The language an interpreter should speak (None: no interpreter asked for).
    interpreter_language: Mapped[str | None] = mapped_column(String(8))
    interpreter_requested_at: Mapped[datetime | None]
    # Walk-ins only (check-ins are identified by their appointment):
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(500))
    # From the walk-in form or a later contact_update:
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    appointment: Mapped[Appointment | None] = relationship()

    __table_args__ = (
        Index("ix_arrivals_arrived_at", "arrived_at"),
        Index("ix_arrivals_status", "status"),
        Index("ix_arrivals_last_called_at", "last_called_at"),
    )


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("kiosks.id"))
    text: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str | None] = mapped_column(String(80))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8), default="en")
    asked_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    answered_at: Mapped[datetime | None]
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_questions_inbox", "done", "emergency", "asked_at"),
        Index("ix_questions_asked_at", "asked_at"),
    )


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("kiosks.id"))
    face: Mapped[int] = mapped_column(SmallInteger)  # 1 very unhappy ... 5 very happy
    appointment_ref: Mapped[str | None] = mapped_column(String(64))
    rated_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Merged from the rating_detail record (None until it arrives):
    ease_of_contact: Mapped[int | None] = mapped_column(SmallInteger)
    waiting_time: Mapped[int | None] = mapped_column(SmallInteger)
    politeness: Mapped[int | None] = mapped_column(SmallInteger)
    kept_informed: Mapped[int | None] = mapped_column(SmallInteger)
    overall: Mapped[int | None] = mapped_column(SmallInteger)
    would_recommend: Mapped[int | None] = mapped_column(SmallInteger)  # 0-10 (NPS)
    comment: Mapped[str | None] = mapped_column(Text)
    consent_to_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    detail_at: Mapped[datetime | None]
    # Staff review
    review_state: Mapped[str] = mapped_column(_enum(ReviewState), default=ReviewState.NEW)
    staff_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_ratings_rated_at", "rated_at"),
        Index("ix_ratings_kiosk_rated_at", "kiosk_id", "rated_at"),
        Index("ix_ratings_face_rated_at", "face", "rated_at"),
        # Created by the dashboard's migration 0103 (the "with comment" filter).
        Index(
            "ix_ratings_commented_rated_at",
            "rated_at",
            "id",
            sqlite_where=text("comment IS NOT NULL"),
            postgresql_where=text("comment IS NOT NULL"),
        ),
    )


class WaitingRoomDisplay(Base):
    """A waiting-room TV: paired with a one-time code, read-only, revoked like a kiosk."""

    __tablename__ = "waiting_room_displays"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    # Same as Kiosk.active: a display is revoked like a kiosk.
    @property
    def active(self) -> bool:
        """Return whether the display's token still works."""
        return self.revoked_at is None


# Same columns as PairingCode (see there why they are two tables).
class DisplayPairingCode(Base):
    """A one-time code that pairs a waiting-room display (a kiosk's code cannot)."""

    __tablename__ = "display_pairing_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    display_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("waiting_room_displays.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class FollowUpToken(Base):
    """The opaque token in a QR code (stored as its SHA-256 only) and what it points at."""

    __tablename__ = "follow_up_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(_enum(FollowUpKind))
    target_id: Mapped[uuid.UUID]
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# ---------------------------------------------------------------------------------------
# Clinic configuration, FAQ, alerts
# ---------------------------------------------------------------------------------------
class FaqEntryRow(Base):
    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: uuid.uuid4().hex)
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ClinicConfig(Base):
    """The clinic's details (one row, id 1) and the keyed-hash secret kiosks match with."""

    __tablename__ = "clinic_settings"

    @classmethod
    def of(cls, session: Any) -> ClinicConfig:
        """Return the clinic's row. The first migration creates it; it is never made up here:
        a stand-in would carry a key anyone could derive the daily match salts from."""
        row: ClinicConfig | None = session.get(cls, 1)
        if row is None:
            raise RuntimeError("the clinic_settings row is missing: run the database migrations")
        return row

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(120), default="Clinic")
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en", "es"])
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    check_in_early_minutes: Mapped[int] = mapped_column(Integer, default=30)
    check_in_late_minutes: Mapped[int] = mapped_column(Integer, default=15)
    #: Hex secret for match_key/phone_key (per clinic; rotate by replacing it).
    hash_key: Mapped[str] = mapped_column(String(128))
    # Unhappy-feedback alert rule (dashboard): share >= threshold within the window.
    alert_unhappy_share: Mapped[float] = mapped_column(default=0.5)
    alert_window_minutes: Mapped[int] = mapped_column(Integer, default=15)
    alert_min_responses: Mapped[int] = mapped_column(Integer, default=4)
    # The timed alert rules' minutes as an admin set them on the dashboard (0: rule off);
    # None: the server's setting (CLINIC_ALERT_..._MINUTES). See clinic/alert_settings.py.
    alert_question_unanswered_minutes: Mapped[int | None] = mapped_column(Integer)
    alert_patient_waiting_minutes: Mapped[int | None] = mapped_column(Integer)
    alert_kiosk_silent_minutes: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MaintenanceRun(Base):
    """When a periodic job last ran; shared by every server process on the database."""

    __tablename__ = "maintenance_runs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_run_at: Mapped[datetime]


class EstimateQuality(Base):
    """How good the wait estimates were, scored by the periodic job (clinic/alerting.py).

    One row (id 1), rewritten by whichever server process wins the job's period; the
    arrivals page only reads it, so no page request replays the estimator.
    """

    __tablename__ = "estimate_quality"

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime]
    scored: Mapped[int] = mapped_column(Integer)
    median_abs_error_minutes: Mapped[float | None]
    over_top_share: Mapped[float | None]


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default=AlertKind.UNHAPPY_RATINGS)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any] | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    acknowledged_at: Mapped[datetime | None]
    #: One alert per situation (e.g. "question:<id>"): a rule that fires again is ignored.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    email_state: Mapped[str] = mapped_column(String(16), default=AlertEmail.OFF)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_next_attempt_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_alerts_open", "acknowledged_at", "raised_at"),
        Index("ix_alerts_email", "email_state"),
        # The unhappy-share rule reads its kind's latest alert on every rating (migration 0306).
        Index("ix_alerts_kind_raised_at", "kind", "raised_at"),
    )


class RateLimitCell(Base):
    """A shared token bucket kept as its theoretical arrival time (GCRA), in seconds."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[float]


class PullVersion(Base):
    """One row (id 1): moved on by triggers whenever what a kiosk pulls may have changed.

    Migration 0305 creates the triggers (appointments, arrivals, faq_entries,
    clinic_settings); clinic.kiosks.PullCache reads it to answer an unchanged pull cheaply.
    """

    __tablename__ = "pull_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
