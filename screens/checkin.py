"""Check in: last name on the kiosk keyboard, date of birth as digits on the number pad."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_time
from kivy.clock import Clock
from kivy.properties import StringProperty

from kiosk.facade import N_, AppointmentMatch, KioskError, MatchStatus
from screens.base import KioskScreen, load_kv

#: Service field names -> the field on this screen their errors belong to.
FIELDS = {"last_name": "last_name", "date_of_birth": "dob"}


def opens_text(app: Any, opens_at: datetime | None) -> str:
    """Return the clinic-local time check-in opens at, formatted for the language."""
    if opens_at is None:
        return ""
    return format_time(opens_at.astimezone(app.clinic_tz), "short", locale=app.lang)


def route_match(app: Any, match: AppointmentMatch) -> None:
    """Show the screen that fits the result of an appointment lookup."""
    status = match.status
    if status == MatchStatus.MATCHED:
        app.session.match = match
        app.show("confirm")
    elif status == MatchStatus.ALREADY_CHECKED_IN:
        app.show_receipt("already", match.receipt)
    elif status == MatchStatus.TOO_EARLY:
        opens_at = getattr(match, "check_in_opens_at", None)
        frontdesk = app.screen("frontdesk")
        frontdesk.opens_at = opens_text(app, opens_at)
        app.show_front_desk(
            N_("You are early. Check-in opens at {time}. Please take a seat until then.")
            if opens_at is not None
            else N_("You are early for your appointment.")
        )
    elif status == MatchStatus.TOO_LATE:
        app.show_front_desk(N_("The check-in time for your appointment has passed."))
    elif status == MatchStatus.AMBIGUOUS:
        app.show("verify_phone")
    else:
        app.show("nomatch")


class CheckInScreen(KioskScreen):
    """Identify an appointment by last name and date of birth."""

    last_name = StringProperty("")
    patient_fields = ("last_name",)
    enter_key_msgid = N_("Next")

    def on_activate(self) -> None:
        session = self.app.session
        if session.date_of_birth and self.ids.dob.value_or_none() is None:
            self.ids.dob.set_value(session.date_of_birth)

    def on_enter(self, *args: Any) -> None:
        # The name field takes the keyboard at once: no tap needed to start typing. On the
        # next frame: the tap that brought the patient here would otherwise take it away.
        if not self.last_name:
            Clock.schedule_once(lambda _dt: self._focus_name(), 0)

    def _focus_name(self) -> None:
        if not self.is_leaving():
            self.ids.last_name.focus = True

    def on_enter_key(self) -> None:
        self.submit()

    def submit(self) -> None:
        """Look the appointment up and move on, or say what is missing (once per tap)."""
        self.submit_once(self._submit)

    def _submit(self) -> bool:
        name = self.last_name.strip()
        ok = True
        if not name:
            self.set_error("last_name", N_("Please type your last name."))
            ok = False
        try:
            dob = self.ids.dob.value()
        except ValueError:
            self.set_error("dob", N_("This date does not exist. Please check it."))
            return False
        if dob is None:
            self.set_error("dob", N_("Please type your date of birth: 8 digits."))
            ok = False
        if not ok or dob is None:
            return False
        try:
            match = self.kiosk.find_appointment(name, dob)
        except KioskError as error:
            return self.show_error(error, FIELDS)
        self.app.session.last_name = name
        self.app.session.date_of_birth = dob
        route_match(self.app, match)
        return True


load_kv(__file__)
