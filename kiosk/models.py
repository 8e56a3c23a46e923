"""The kiosk's local tables (SQLAlchemy 2.0 typed models).

Privacy by construction: appointments are stored as keyed hashes (never names), and the
domain rows of patient actions hold no free text or contact details. What identifies a
patient (walk-in name, question text, phone, email, comment) travels only in the outbox
payload of the same transaction, which kiosk/purge.py erases after the server's ack and
the retention window. Each domain row's id is the UUID of its outbox record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sync.outbox import UTCDateTime


class KioskBase(DeclarativeBase):
    """Declarative base of the kiosk's own tables (the outbox has its own base)."""


class Appointment(KioskBase):
    """One of today's appointments as pulled from the server (keyed hashes only)."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_match", "match_key", "starts_at"),)

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    match_key: Mapped[str] = mapped_column(String(64))
    phone_key: Mapped[str | None] = mapped_column(String(64), default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_initial: Mapped[str] = mapped_column(String(1))
    clinician: Mapped[str] = mapped_column(String(80))
    checked_in: Mapped[bool] = mapped_column(Boolean, default=False)


class AppointmentPartKey(KioskBase):
    """Another match key of one of today's appointments: one part of a compound surname."""

    __tablename__ = "appointment_part_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    appointment_ref: Mapped[str] = mapped_column(
        String(64), ForeignKey("appointments.ref", ondelete="CASCADE")
    )
    match_key: Mapped[str] = mapped_column(String(64), index=True)
    phone_key: Mapped[str | None] = mapped_column(String(64), default=None)


# Same columns as WalkIn below: kept as two tables because each mirrors its own outbox body
# and a walk-in has an identity key, not an appointment ref.
class CheckIn(KioskBase):
    """A check-in made at this kiosk; one per appointment (the unique ref enforces it)."""

    __tablename__ = "check_ins"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    appointment_ref: Mapped[str] = mapped_column(String(64), unique=True)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    queue_number: Mapped[str] = mapped_column(String(16))
    estimated_wait_minutes: Mapped[int] = mapped_column(Integer)
    follow_up_token: Mapped[str] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(8))


# Same columns as CheckIn above (see there why they are two tables).
class WalkIn(KioskBase):
    """A walk-in registration (name, birth date, reason, phone live in the outbox only)."""

    __tablename__ = "walk_ins"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: Keyed hash of first name + last name + birth date (kiosk-local key), so the same
    #: person registering twice on one day gets the first receipt, not a second number.
    identity_key: Mapped[str] = mapped_column(String(64), index=True)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    queue_number: Mapped[str] = mapped_column(String(16))
    estimated_wait_minutes: Mapped[int] = mapped_column(Integer)
    follow_up_token: Mapped[str] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(8))


class ContactUpdate(KioskBase):
    """New contact details for an earlier check-in or walk-in (values in the outbox only)."""

    __tablename__ = "contact_updates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    check_in_id: Mapped[str] = mapped_column(String(36), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    has_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    has_email: Mapped[bool] = mapped_column(Boolean, default=False)


class Question(KioskBase):
    """A question for the staff (the text lives in the outbox only)."""

    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    emergency_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up_token: Mapped[str] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(8))


class Rating(KioskBase):
    """A one-tap face rating; at most one per known appointment (unique ref)."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_anonymous", "appointment_ref", "rated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    face: Mapped[int] = mapped_column(Integer)
    appointment_ref: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    follow_up_token: Mapped[str] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(8))


class RatingDetail(KioskBase):
    """The optional answers after a face rating; one per rating (first answers win)."""

    __tablename__ = "rating_details"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rating_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("ratings.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body_hash: Mapped[str] = mapped_column(String(64))  # to tell a repeat from a change


class FaqRow(KioskBase):
    """One FAQ entry in one language, as pulled (or seeded in demo mode)."""

    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ClinicRow(KioskBase):
    """The clinic's settings as last pulled (a single row, id 1)."""

    __tablename__ = "clinic_info"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    languages: Mapped[list[str]] = mapped_column(JSON)
    default_language: Mapped[str] = mapped_column(String(8))
    check_in_early_minutes: Mapped[int] = mapped_column(Integer)
    check_in_late_minutes: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QueueCounter(KioskBase):
    """The last queue number handed out on a clinic-local day ("2026-11-28")."""

    __tablename__ = "queue_counters"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class StateEntry(KioskBase):
    """A key-value pair of kiosk state (see kiosk/state.py for the fixed key names)."""

    __tablename__ = "kiosk_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
