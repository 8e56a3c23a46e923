"""Several appointments fit: ask for the last four digits of the phone number."""

from __future__ import annotations

from kiosk.facade import N_, KioskError, MatchStatus
from screens.base import KioskScreen, load_kv
from screens.checkin import route_match

#: Wrong digits are not a wrong name or birth date: say so, and keep the patient here.
MSG_PHONE_MISMATCH = N_(
    "These digits do not match the phone number we have. Please try again, or see the front desk."
)


class VerifyPhoneScreen(KioskScreen):
    """Tell apart two patients with the same last name and date of birth."""

    def on_activate(self) -> None:
        self.ids.pad.reset()

    def submit(self) -> None:
        """Look the appointment up again with the phone digits (once per tap)."""
        self.submit_once(self._submit)

    def _submit(self) -> bool:
        digits = self.ids.pad.value
        if len(digits) != 4:
            self.set_error("digits", N_("Please enter the last 4 digits of your phone number."))
            return False
        session = self.app.session
        try:
            match = self.kiosk.find_appointment(
                session.last_name, session.date_of_birth, phone_last4=digits
            )
        except KioskError as error:
            return self.show_error(error, {"phone_last4": "digits"})
        self.ids.pad.reset()
        if match.status == MatchStatus.NO_MATCH:
            self.set_error("digits", MSG_PHONE_MISMATCH)
            return False
        route_match(self.app, match)
        return True


load_kv(__file__)
