"""Optional: update the phone number or email the clinic has for this visit."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv

FIELDS = {"phone": "phone", "email": "email"}


class ContactScreen(KioskScreen):
    """Offer a contact update after check-in; skipping is fine."""

    phone = StringProperty("")
    email = StringProperty("")
    patient_fields = ("phone", "email")
    enter_key_msgid = N_("Save")

    def on_enter_key(self) -> None:
        self.save()

    def save(self) -> None:
        """Store the new details (if any), then show the receipt (once per tap)."""
        self.submit_once(self._save)

    def _save(self) -> bool:
        phone, email = self.phone.strip() or None, self.email.strip() or None
        receipt = self.app.session.receipt
        if (phone or email) and receipt is not None:
            try:
                self.kiosk.update_contact(receipt.check_in_id, phone, email)
            except KioskError as error:
                return self.show_error(error, FIELDS)
        self._to_receipt()
        return True

    def skip(self) -> None:
        """Go on to the receipt without changing anything."""
        self.submit_once(self._to_receipt)

    def _to_receipt(self) -> bool:
        self.phone = self.email = ""
        self.app.show_receipt(self.app.session.receipt_kind or "check_in", self.app.session.receipt)
        return True


load_kv(__file__)
