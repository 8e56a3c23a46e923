"""Is this you? First-name initial, time and clinician only; then check in."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_time
from kivy.properties import ObjectProperty, StringProperty

from kiosk.facade import KioskError
from screens.base import KioskScreen, load_kv


class ConfirmScreen(KioskScreen):
    """Show just enough for the patient to recognise their appointment."""

    first_initial = StringProperty("")
    clinician = StringProperty("")
    starts_at = ObjectProperty(None, allownone=True)
    patient_fields = ("first_initial", "clinician", "starts_at")

    def on_activate(self) -> None:
        match = self.app.session.match
        if match is not None:
            self.first_initial = match.first_initial or ""
            self.clinician = match.clinician or ""
            self.starts_at = match.starts_at

    def time_text(self, lang: str, starts_at: datetime | None) -> str:
        """Return the appointment time in the clinic's zone, formatted for a language."""
        if starts_at is None:
            return ""
        local = starts_at.astimezone(self.app.clinic_tz)
        return format_time(local, "short", locale=lang)

    def confirm(self) -> None:
        """Check in (one transaction, once per tap), then offer the contact update."""
        self.submit_once(self._confirm)

    def _confirm(self) -> bool:
        match = self.app.session.match
        if match is None or match.appointment_ref is None:
            self.go("checkin")
            return True
        try:
            receipt = self.kiosk.check_in(
                match.appointment_ref,
                self.app.lang,
                interpreter_language=self.app.session.interpreter_language or None,
            )
        except KioskError as error:
            return self.show_error(error)
        self.app.session.receipt = receipt
        self.app.session.receipt_kind = "already" if receipt.already_checked_in else "check_in"
        self.go("contact")
        return True


load_kv(__file__)
