"""The end of a flow: what was saved, and a QR code to follow up on a phone."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.facade import N_
from screens.base import KioskScreen, load_kv

TITLES = {
    "check_in": N_("You are checked in"),
    "already": N_("You are already checked in"),
    "question": N_("Your question was sent"),
    "rating": N_("Thank you for your feedback"),
}
QR_HINTS = {
    "check_in": N_("Scan to follow your place in the queue on your phone."),
    "already": N_("Scan to follow your place in the queue on your phone."),
    "question": N_("Scan to see the answer on your phone."),
    "rating": N_("Scan to answer a longer survey at home or ask us to call you back."),
}


class ReceiptScreen(KioskScreen):
    """Confirm a saved record; the app fills it through `show(kind, receipt)`."""

    kind = StringProperty("check_in")
    queue_number = StringProperty("")
    wait_minutes = NumericProperty(-1)
    wait_high = NumericProperty(-1)  # top of the range; -1: a single figure
    follow_up_url = StringProperty("")
    emergency = BooleanProperty(False)
    patient_fields = (
        "kind",
        "queue_number",
        "wait_minutes",
        "wait_high",
        "follow_up_url",
        "emergency",
    )

    def fill(self, kind: str, receipt: Any) -> None:
        """Take the figures to show from a service receipt."""
        self.kind = kind
        self.queue_number = getattr(receipt, "queue_number", "") or ""
        wait = getattr(receipt, "estimated_wait_minutes", None)
        self.wait_minutes = -1 if wait is None else int(wait)
        high = getattr(receipt, "estimated_wait_high_minutes", None)
        self.wait_high = -1 if wait is None or high is None else max(int(high), int(wait))
        self.emergency = bool(getattr(receipt, "emergency", False))
        self.follow_up_url = getattr(receipt, "follow_up_url", "") or ""

    def call_text(self, kind: str, number: str, lang: str) -> str:
        """Return what to do now: take a seat, we will call your number."""
        if not number:
            return ""
        return self.tr(N_("Please take a seat. We will call {number}.")).format(number=number)

    @staticmethod
    def wait_figure(low: float, high: float) -> str:
        """Return the minutes to show: "15-30" for a range, "15" for a single figure."""
        if high > low:
            return f"{int(low)}-{int(high)}"
        return str(int(low))

    @staticmethod
    def title(kind: str) -> str:
        return TITLES.get(kind, "")

    @staticmethod
    def qr_hint(kind: str) -> str:
        return QR_HINTS.get(kind, "")


load_kv(__file__)
