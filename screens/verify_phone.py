"""Several appointments fit: ask for the last four digits of the phone number."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv
from screens.checkin import route_match


class VerifyPhoneScreen(KioskScreen):
    """Tell apart two patients with the same last name and date of birth."""

    error_msgid = StringProperty("")
    patient_fields = ("error_msgid",)

    def on_activate(self) -> None:
        self.error_msgid = ""
        self.ids.pad.reset()

    def submit(self) -> None:
        """Look the appointment up again with the phone digits."""
        digits = self.ids.pad.value
        if len(digits) != 4:
            self.error_msgid = N_("Please enter the last 4 digits of your phone number.")
            return
        session = self.app.session
        try:
            match = self.kiosk.find_appointment(
                session.last_name, session.date_of_birth, phone_last4=digits
            )
        except KioskError as error:
            self.error_msgid = self.explain(error)
            return
        self.ids.pad.reset()
        route_match(self.app, match)


load_kv(__file__)
