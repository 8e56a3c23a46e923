"""What a patient sends from the follow-up page (longer survey, call-back request)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinic.models import Base, utcnow


class ResponseKind(StrEnum):
    SURVEY = "survey"
    CALLBACK = "callback"


class FollowUpResponse(Base):
    """One survey or call-back request per rating, sent from the patient's phone."""

    __tablename__ = "follow_up_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any] | None]
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("rating_id", "kind", name="uq_follow_up_responses_rating_kind"),
        Index("ix_follow_up_responses_created_at", "created_at"),
    )
