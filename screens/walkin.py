"""Walk-in registration: name, date of birth, reason for the visit, phone."""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv

#: Service field names -> the field on this screen their errors belong to.
FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "date_of_birth": "dob",
    "reason": "reason",
    "phone": "phone",
}


class WalkInScreen(KioskScreen):
    """Register a patient who has no appointment today."""

    first_name = StringProperty("")
    last_name = StringProperty("")
    reason = StringProperty("")
    phone = StringProperty("")
    patient_fields = ("first_name", "last_name", "reason", "phone")
    enter_key_msgid = N_("Register")

    def on_activate(self) -> None:
        session = self.app.session
        # Carry over what the patient already typed on the check-in screen.
        if session.last_name and not self.last_name:
            self.last_name = session.last_name
        if session.date_of_birth and self.ids.dob.value_or_none() is None:
            self.ids.dob.set_value(session.date_of_birth)

    def on_enter_key(self) -> None:
        self.submit()

    def submit(self) -> None:
        """Register (one transaction, once per tap) and show the queue number."""
        self.submit_once(self._submit)

    def _submit(self) -> bool:
        first, last = self.first_name.strip(), self.last_name.strip()
        reason, phone = self.reason.strip(), self.phone.strip() or None
        missing = {
            "first_name": (not first, N_("Please type your first name.")),
            "last_name": (not last, N_("Please type your last name.")),
            "reason": (not reason, N_("Please tell us briefly why you came today.")),
        }
        ok = True
        for name, (empty, msgid) in missing.items():
            if empty:
                self.set_error(name, msgid)
                ok = False
        dob = None
        try:
            dob = self.ids.dob.value()
        except ValueError:
            self.set_error("dob", N_("This date does not exist. Please check it."))
            ok = False
        else:
            if dob is None:
                self.set_error("dob", N_("Please type your date of birth: 8 digits."))
                ok = False
        if not ok or dob is None:
            return False
        try:
            receipt = self.kiosk.register_walk_in(
                first,
                last,
                dob,
                reason,
                phone,
                self.app.lang,
                interpreter_language=self.app.session.interpreter_language or None,
            )
        except KioskError as error:
            return self.show_error(error, FIELDS)
        # Registering twice on one day gives back the first receipt: say so.
        self.app.show_receipt("already" if receipt.already_checked_in else "check_in", receipt)
        return True


load_kv(__file__)
