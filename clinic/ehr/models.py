"""Tables of the EHR link: the outbound queue, each target's link state, appointment links."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clinic.models import Base, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) attempt
    SENT = "sent"  # the EHR accepted it (or already held that state)
    REFUSED = "refused"  # the EHR said no (FHIR 4xx, HL7 AR/AE): shown to staff, not retried
    GAVE_UP = "gave_up"  # retried until give_up_after_seconds: shown to staff


class EventKind(StrEnum):
    ARRIVED = "arrived"  # a check-in at the kiosk
    WALK_IN = "walk_in"  # a walk-in registration at the kiosk
    CALLED_IN = "called_in"
    SEEN = "seen"
    NO_SHOW = "no_show"
    WAITING = "waiting"  # staff undid a call-in
    RATING = "rating"
    QUESTION = "question"


class EhrOutbox(Base):
    """One message for the EHR; `id` gives the order, `patient_key` the per-patient lane."""

    __tablename__ = "ehr_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(8))  # "fhir" or "hl7"
    event: Mapped[str] = mapped_column(String(16))
    #: Messages of one patient are delivered in id order (arrival id or appointment ref).
    patient_key: Mapped[str] = mapped_column(String(80))
    #: What happened (references and times only; names are read from their rows when sent).
    payload: Mapped[dict[str, Any]]
    #: Stable across retries: HL7 MSH-10, FHIR request id; the peer de-duplicates on it.
    message_id: Mapped[str] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: What the EHR answered on success (e.g. "already fulfilled in the EHR: left alone").
    outcome: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_ehr_outbox_due", "status", "next_attempt_at"),
        Index("ix_ehr_outbox_lane", "patient_key", "status", "id"),
    )


class EhrLinkState(Base):
    """Per target ("fhir", "hl7", "schedule"): last success, last error, the worker's lease."""

    __tablename__ = "ehr_link_state"

    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: One worker at a time across server processes: whoever holds an unexpired lease.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class EhrAppointmentLink(Base):
    """Where an appointment came from: the source's ids of it and of its patient."""

    __tablename__ = "ehr_appointment_links"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(8))  # "fhir" or "hl7"
    external_id: Mapped[str] = mapped_column(String(64))  # Appointment.id / SIU SCH-2
    patient_id: Mapped[str] = mapped_column(String(64))  # Patient.id / PID-3
    version: Mapped[str | None] = mapped_column(String(64))  # meta.versionId seen last
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_ehr_appointment_links_external", "source", "external_id"),)


class EhrConfigRow(Base):
    """What an admin set on the admin page (one row, id 1), over the file/environment."""

    __tablename__ = "ehr_config"

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    values: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
