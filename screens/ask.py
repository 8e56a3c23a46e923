"""Ask the staff: a typed question, optional contact details, emergency words flagged."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv

#: Service field names -> the field on this screen their errors belong to.
FIELDS = {
    "text": "question",
    "question": "question",
    "contact_name": "contact_name",
    "contact_phone": "contact_phone",
    "contact_email": "contact_email",
    "name": "contact_name",
    "phone": "contact_phone",
    "email": "contact_email",
}


class AskScreen(KioskScreen):
    """Send a question; warn at once when the words suggest an emergency."""

    question = StringProperty("")
    contact_name = StringProperty("")
    contact_phone = StringProperty("")
    contact_email = StringProperty("")
    emergency = BooleanProperty(False)
    patient_fields = ("question", "contact_name", "contact_phone", "contact_email", "emergency")
    enter_key_msgid = N_("Send")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Check the words as they type, at most a few times a second.
        self._check_trigger = Clock.create_trigger(self._check_emergency, 0.15)

    def on_question(self, *_args: Any) -> None:
        self._check_trigger()

    def _check_emergency(self, *_args: Any) -> None:
        self.emergency = bool(self.question) and self.kiosk.is_emergency_text(self.question)

    def on_enter_key(self) -> None:
        self.submit()

    def submit(self) -> None:
        """Send the question (one transaction, once per tap); show where the answer goes."""
        self.submit_once(self._submit)

    def _submit(self) -> bool:
        text = self.question.strip()
        if not text:
            self.set_error("question", N_("Please type your question."))
            return False
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
            return self.show_error(error, FIELDS)
        self.app.show_receipt("question", receipt)
        return True


load_kv(__file__)
