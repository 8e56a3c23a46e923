"""Optional: update the phone number or email the clinic has for this visit."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.facade import KioskError
from screens.base import KioskScreen, load_kv


class ContactScreen(KioskScreen):
    """Offer a contact update after check-in; skipping is fine."""

    phone = StringProperty("")
    email = StringProperty("")
    error_msgid = StringProperty("")
    patient_fields = ("phone", "email", "error_msgid")

    def on_activate(self) -> None:
        self.error_msgid = ""

    def save(self) -> None:
        """Store the new details (if any), then show the receipt."""
        phone, email = self.phone.strip() or None, self.email.strip() or None
        receipt = self.app.session.receipt
        if (phone or email) and receipt is not None:
            try:
                self.kiosk.update_contact(receipt.check_in_id, phone, email)
            except KioskError as error:
                self.error_msgid = self.explain(error)
                return
        self.skip()

    def skip(self) -> None:
        """Go on to the receipt without changing anything."""
        self.phone = self.email = ""
        self.app.show_receipt(self.app.session.receipt_kind or "check_in", self.app.session.receipt)


load_kv(__file__)
