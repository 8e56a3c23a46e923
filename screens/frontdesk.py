"""Please see the front desk (with the reason, when there is one)."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.base import KioskScreen, load_kv


class FrontDeskScreen(KioskScreen):
    """Send the patient to a person."""

    reason_msgid = StringProperty("")
    patient_fields = ("reason_msgid",)


load_kv(__file__)
