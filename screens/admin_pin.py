"""The staff PIN pad, reached by the hidden gesture."""

from __future__ import annotations

from kivy.properties import NumericProperty, StringProperty

from kiosk.facade import N_, KioskError
from screens.base import KioskScreen, load_kv


class AdminPinScreen(KioskScreen):
    """Ask for the staff PIN; a wrong one says so and clears the pad."""

    error_msgid = StringProperty("")
    lockout_seconds = NumericProperty(0)
    patient_fields = ("error_msgid", "lockout_seconds")

    def on_activate(self) -> None:
        self.error_msgid = ""
        self.ids.pad.reset()

    def submit(self) -> None:
        """Open the admin screen if the PIN is right."""
        pin = self.ids.pad.value
        self.ids.pad.reset()
        try:
            ok = bool(pin) and self.kiosk.verify_admin_pin(pin)
        except KioskError as error:  # e.g. locked after too many attempts
            self.error_msgid = self.explain(error)
            return
        if not ok:
            remaining = self.kiosk.admin_lockout_remaining()
            if remaining > 0:  # locked after too many wrong tries: say for how long
                self.lockout_seconds = remaining
                self.error_msgid = N_("Too many wrong tries. Please wait {seconds} seconds.")
            else:
                self.error_msgid = N_("Wrong PIN.")
            return
        self.app.admin_unlocked = True
        self.go("admin")


load_kv(__file__)
