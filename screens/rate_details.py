"""Optional questions after the face: five 1-5 ratings, 0-10 recommend, comment, consent."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.facade import N_, KioskError, RatingDetails
from screens.base import KioskScreen, load_kv

#: The optional 1..5 questions: RatingDetails field -> msgid.
QUESTIONS = {
    "ease_of_contact": N_("How easy was it to contact us?"),
    "waiting_time": N_("Waiting time and responsiveness"),
    "politeness": N_("Politeness and professionalism of staff"),
    "kept_informed": N_("Were you kept informed about your care?"),
    "overall": N_("Overall, how was your visit?"),
}


class RateDetailsScreen(KioskScreen):
    """Ask the optional questions; every one may stay blank."""

    comment = StringProperty("")
    consent = BooleanProperty(False)
    contact_phone = StringProperty("")
    error_msgid = StringProperty("")
    patient_fields = ("comment", "consent", "contact_phone", "error_msgid")

    def on_activate(self) -> None:
        self.error_msgid = ""

    def details(self) -> RatingDetails:
        """Collect the answers given."""
        scores = {}
        for name in QUESTIONS:
            score = self.ids[name].score
            scores[name] = None if score < 0 else int(score)
        recommend = self.ids.would_recommend.score
        return RatingDetails(
            **scores,
            would_recommend=None if recommend < 0 else int(recommend),
            comment=self.comment.strip() or None,
            consent_to_contact=self.consent,
            contact_phone=(self.contact_phone.strip() or None) if self.consent else None,
        )

    def submit(self) -> None:
        """Store the answers (one transaction) and say thanks."""
        details = self.details()
        rating_id = self.app.session.rating_id
        if rating_id and details != RatingDetails():
            try:
                self.kiosk.add_rating_details(rating_id, details)
            except KioskError as error:
                self.error_msgid = self.explain(error)
                return
        self.app.show_receipt("rating", self.app.session.receipt)


load_kv(__file__)
