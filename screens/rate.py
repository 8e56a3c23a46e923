"""Rate my visit: one tap on a face, stored at the tap."""

from __future__ import annotations

from kiosk.facade import N_, KioskError, face_table
from screens.base import KioskScreen, load_kv

#: What each face means, printed under it.
FACE_LABELS = face_table(
    {
        1: N_("Very bad"),
        2: N_("Bad"),
        3: N_("Okay"),  # a face: "so-so", not the "OK" of a button
        4: N_("Good"),
        5: N_("Very good"),
    },
    "face labels",
)


class RateScreen(KioskScreen):
    """Five faces; the tap is saved even if the patient walks away after it."""

    def face(self, face: int) -> object:
        """Return the button of one face (1 to 5)."""
        return self.ids[f"choice{face}"].ids.button

    @staticmethod
    def face_label(face: int) -> str:
        return FACE_LABELS[face]

    def rate(self, face: int) -> None:
        """Store the face (one transaction, once per tap), then offer the optional questions."""
        self.submit_once(lambda: self._rate(face))

    def _rate(self, face: int) -> bool:
        match = self.app.session.match
        ref = match.appointment_ref if match is not None else None
        try:
            receipt = self.kiosk.rate_visit(face, self.app.lang, appointment_ref=ref)
        except KioskError as error:
            return self.show_error(error)
        self.app.session.rating_id = receipt.rating_id
        self.app.session.receipt = receipt
        self.app.session.receipt_kind = "rating"
        self.go("rate_details")
        return True


load_kv(__file__)
