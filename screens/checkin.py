"""Check in: last name on the on-screen keyboard, date of birth from lists."""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty

from kiosk.facade import N_, AppointmentMatch, KioskError, MatchStatus
from screens.base import KioskScreen, load_kv


def route_match(app: Any, match: AppointmentMatch) -> None:
    """Show the screen that fits the result of an appointment lookup."""
    status = match.status
    if status == MatchStatus.MATCHED:
        app.session.match = match
        app.show("confirm")
    elif status == MatchStatus.ALREADY_CHECKED_IN:
        app.show_receipt("already", match.receipt)
    elif status == MatchStatus.TOO_EARLY:
        app.show_front_desk(N_("You are early for your appointment."))
    elif status == MatchStatus.TOO_LATE:
        app.show_front_desk(N_("The check-in time for your appointment has passed."))
    elif status == MatchStatus.AMBIGUOUS:
        app.show("verify_phone")
    else:
        app.show("nomatch")


class CheckInScreen(KioskScreen):
    """Identify an appointment by last name and date of birth."""

    last_name = StringProperty("")
    error_msgid = StringProperty("")
    patient_fields = ("last_name", "error_msgid")

    def on_activate(self) -> None:
        self.error_msgid = ""

    def submit(self) -> None:
        """Look the appointment up and move on, or say what is missing."""
        name = self.last_name.strip()
        if not name:
            self.error_msgid = N_("Please type your last name.")
            return
        try:
            dob = self.ids.dob.value()
        except ValueError:
            self.error_msgid = N_("That date does not exist. Please check the day and month.")
            return
        if dob is None:
            self.error_msgid = N_("Please choose your date of birth: day, month and year.")
            return
        try:
            match = self.kiosk.find_appointment(name, dob)
        except KioskError as error:
            self.error_msgid = self.explain(error)
            return
        self.error_msgid = ""
        self.app.session.last_name = name
        self.app.session.date_of_birth = dob
        route_match(self.app, match)


load_kv(__file__)
