"""Walk-in registration: name, date of birth, reason for the visit, phone."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv


class WalkInScreen(KioskScreen):
    """Register a patient who has no appointment today."""

    first_name = StringProperty("")
    last_name = StringProperty("")
    reason = StringProperty("")
    phone = StringProperty("")
    error_msgid = StringProperty("")
    patient_fields = ("first_name", "last_name", "reason", "phone", "error_msgid")

    def on_activate(self) -> None:
        self.error_msgid = ""
        session = self.app.session
        # Carry over what the patient already typed on the check-in screen.
        if session.last_name and not self.last_name:
            self.last_name = session.last_name
        if session.date_of_birth and self.ids.dob.value_or_none() is None:
            self.ids.dob.set_value(session.date_of_birth)

    def submit(self) -> None:
        """Register (one transaction) and show the queue number."""
        first, last = self.first_name.strip(), self.last_name.strip()
        reason, phone = self.reason.strip(), self.phone.strip() or None
        if not first or not last:
            self.error_msgid = N_("Please type your first and last name.")
            return
        try:
            dob = self.ids.dob.value()
        except ValueError:
            self.error_msgid = N_("That date does not exist. Please check the day and month.")
            return
        if dob is None:
            self.error_msgid = N_("Please choose your date of birth: day, month and year.")
            return
        if not reason:
            self.error_msgid = N_("Please tell us briefly why you came today.")
            return
        try:
            receipt = self.kiosk.register_walk_in(first, last, dob, reason, phone, self.app.lang)
        except KioskError as error:
            self.error_msgid = self.explain(error)
            return
        # Registering twice on one day gives back the first receipt: say so.
        self.app.show_receipt("already" if receipt.already_checked_in else "check_in", receipt)


load_kv(__file__)
