"""Feedback: the face rating (saved at once) and the optional answers after it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import validation
from kiosk.core import MSG_UNKNOWN_VISIT, KioskCore, new_record_id
from kiosk.facade import N_, InvalidInput, RatingDetails, RatingReceipt
from kiosk.models import Appointment, CheckIn, Rating, RatingDetail
from sync.protocol import (
    RatingBody,
    RatingDetailBody,
    body_hash,
    dump_body,
    follow_up_url,
    new_follow_up_token,
)
from sync.rules import RATING_DIMENSIONS, is_face, is_recommend_score, is_scale_score

MSG_DETAILS_SAVED = N_("Your answers were already saved. Thank you.")


class FeedbackDesk:
    """Stores ratings (one per visit; anonymous repeats merged) and their details."""

    def __init__(self, core: KioskCore) -> None:
        self.core = core

    def rate_visit(
        self, face: int, language: str, appointment_ref: str | None = None
    ) -> RatingReceipt:
        """Store a face tap at once (one per known visit; anonymous repeats are merged)."""
        core = self.core
        if not is_face(face):
            raise InvalidInput(validation.MSG_FACE, "face")
        lang = core.language(language)
        ref = appointment_ref or None
        if ref is not None and (not isinstance(ref, str) or len(ref) > 64):
            raise InvalidInput(MSG_UNKNOWN_VISIT, "appointment_ref")

        def action(session: Session) -> RatingReceipt:
            now = core.now()
            server_url = core.server_url(session)
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
                window = timedelta(seconds=core.settings.rating_dedupe_seconds)
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
            # Row and outbox body side by side, as in kiosk/questions.py and kiosk/walkins.py: kept
            # apart because each record type has its own fields (shared steps: KioskCore.record).
            row = Rating(
                id=new_record_id(),
                face=face,
                appointment_ref=ref,
                rated_at=now,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            body = RatingBody(
                face=face,
                appointment_ref=ref,
                rated_at=now,
                follow_up_token=row.follow_up_token,
                language=lang,
            )
            core.record(session, row, body, now=now)
            return RatingReceipt(
                rating_id=row.id,
                follow_up_url=follow_up_url(server_url, row.follow_up_token),
                counted=True,
            )

        return core.write(action)

    def add_rating_details(self, rating_id: str, details: RatingDetails) -> None:
        """Store the optional answers after a face rating (first answers win; see docs)."""
        core = self.core
        try:
            target = uuid.UUID(str(rating_id))
        except ValueError:
            raise InvalidInput(MSG_UNKNOWN_VISIT, "rating_id") from None
        scores: dict[str, int | None] = {}
        for name in RATING_DIMENSIONS:
            value = details.score(name)
            if value is not None and not is_scale_score(value):
                raise InvalidInput(validation.MSG_SCORE, name)
            scores[name] = value
        recommend = details.would_recommend
        if recommend is not None and not is_recommend_score(recommend):
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
        digest = body_hash(dump_body(body))

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
            now = core.now()
            row = RatingDetail(
                id=new_record_id(), rating_id=str(target), created_at=now, body_hash=digest
            )
            core.record(session, row, body, now=now)

        core.write(action)
