"""Please see the front desk (with the reason, when there is one)."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.base import KioskScreen, load_kv


class FrontDeskScreen(KioskScreen):
    """Send the patient to a person, saying why and what to do now."""

    reason_msgid = StringProperty("")
    opens_at = StringProperty("")  # "10:30" when check-in has not opened yet
    patient_fields = ("reason_msgid", "opens_at")

    def reason_text(self, msgid: str, opens_at: str, lang: str) -> str:
        """Return the translated reason, with the time check-in opens filled in."""
        return self.tr(msgid).format(time=opens_at) if msgid else ""


load_kv(__file__)
