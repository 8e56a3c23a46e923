"""Questions for the staff, with emergency phrase spotting."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kiosk import emergency, validation
from kiosk.core import KioskCore, new_record_id
from kiosk.facade import QuestionReceipt
from kiosk.models import Question
from sync.protocol import QuestionBody, follow_up_url, new_follow_up_token


class QuestionDesk:
    """Stores patients' questions; the answer appears behind the receipt's follow-up URL."""

    def __init__(self, core: KioskCore) -> None:
        self.core = core

    def is_emergency_text(self, text: str) -> bool:
        """Return True when the text has words that suggest an emergency."""
        return emergency.is_emergency_text(text or "", path=self.core.settings.emergency_words_path)

    # Same signature as KioskFacade.ask_question (kiosk/facade.py), which Kiosk forwards here.
    def ask_question(
        self,
        text: str,
        language: str,
        contact_name: str | None = None,
        contact_phone: str | None = None,
        contact_email: str | None = None,
    ) -> QuestionReceipt:
        """Store a question for the staff and return where the answer will appear."""
        core = self.core
        question = validation.clean_text(
            text, max_chars=validation.MAX_QUESTION_CHARS, field_name="text"
        )
        name = validation.clean_optional_name(contact_name, "contact_name")
        phone = validation.clean_phone(contact_phone, "contact_phone")
        email = validation.clean_email(contact_email, "contact_email")
        lang = core.language(language)
        urgent = self.is_emergency_text(question)

        def action(session: Session) -> QuestionReceipt:
            now = core.now()
            # Row and outbox body side by side, as in kiosk/feedback.py and kiosk/walkins.py: kept
            # apart because each record type has its own fields (shared steps: KioskCore.record).
            row = Question(
                id=new_record_id(),
                asked_at=now,
                emergency_flag=urgent,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
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
            core.record(session, row, body, now=now)
            return QuestionReceipt(
                question_id=row.id,
                follow_up_url=follow_up_url(core.server_url(session), row.follow_up_token),
                emergency=urgent,
            )

        return core.write(action)
