"""Rate my visit: one tap on a face, stored at the tap."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.facade import KioskError
from screens.base import KioskScreen, load_kv


class RateScreen(KioskScreen):
    """Five faces; the tap is saved even if the patient walks away after it."""

    error_msgid = StringProperty("")
    patient_fields = ("error_msgid",)

    def on_activate(self) -> None:
        self.error_msgid = ""

    def rate(self, face: int) -> None:
        """Store the face (one transaction), then offer the optional questions."""
        match = self.app.session.match
        ref = match.appointment_ref if match is not None else None
        try:
            receipt = self.kiosk.rate_visit(face, self.app.lang, appointment_ref=ref)
        except KioskError as error:
            self.error_msgid = self.explain(error)
            return
        self.app.session.rating_id = receipt.rating_id
        self.app.session.receipt = receipt
        self.app.session.receipt_kind = "rating"
        self.go("rate_details")


load_kv(__file__)
