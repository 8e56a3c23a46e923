"""Ask the staff: a typed question, optional contact details, emergency words flagged."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv


class AskScreen(KioskScreen):
    """Send a question; warn at once when the words suggest an emergency."""

    question = StringProperty("")
    contact_name = StringProperty("")
    contact_phone = StringProperty("")
    contact_email = StringProperty("")
    emergency = BooleanProperty(False)
    error_msgid = StringProperty("")
    patient_fields = (
        "question",
        "contact_name",
        "contact_phone",
        "contact_email",
        "emergency",
        "error_msgid",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Check the words as they type, at most a few times a second.
        self._check_trigger = Clock.create_trigger(self._check_emergency, 0.15)

    def on_question(self, *_args: Any) -> None:
        self._check_trigger()

    def _check_emergency(self, *_args: Any) -> None:
        self.emergency = bool(self.question) and self.kiosk.is_emergency_text(self.question)

    def on_activate(self) -> None:
        self.error_msgid = ""

    def submit(self) -> None:
        """Send the question (one transaction) and show where the answer will appear."""
        text = self.question.strip()
        if not text:
            self.error_msgid = N_("Please type your question.")
            return
        self._check_emergency()
        try:
            receipt = self.kiosk.ask_question(
                text,
                self.app.lang,
                contact_name=self.contact_name.strip() or None,
                contact_phone=self.contact_phone.strip() or None,
                contact_email=self.contact_email.strip() or None,
            )
        except KioskError as error:
            self.error_msgid = self.explain(error)
            return
        self.app.show_receipt("question", receipt)


load_kv(__file__)
