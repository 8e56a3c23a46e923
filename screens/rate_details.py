"""Optional questions after the face, on one screen: five labelled 1-5 scales, 0-10
recommend, a comment, and consent to a call back together with the phone to call."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty

from kiosk.facade import N_, KioskError, RatingDetails, dimension_table
from screens.base import KioskScreen, load_kv

#: The optional 1..5 questions: rating dimension -> msgid (each a MatrixRow id in the kv).
QUESTIONS = dimension_table(
    {
        "ease_of_contact": N_("How easy was it to contact us?"),
        "waiting_time": N_("Waiting time and responsiveness"),
        "politeness": N_("Politeness and professionalism of staff"),
        "kept_informed": N_("Were you kept informed about your care?"),
        "overall": N_("Overall, how was your visit?"),
    },
    "kiosk rating questions",
)
MSG_PHONE_FOR_CONSENT = N_("Please enter your phone number so that we can call you back.")
FIELDS = {"contact_phone": "contact_phone", "comment": "comment"}


class RateDetailsScreen(KioskScreen):
    """Ask the optional questions; every one may stay blank."""

    #: The kv's rows take their msgids from here (one MatrixRow per dimension, by id).
    questions = QUESTIONS
    comment = StringProperty("")
    consent = BooleanProperty(False)
    contact_phone = StringProperty("")
    patient_fields = ("comment", "consent", "contact_phone")
    # Enter on the last field only closes the keyboard: the scales and the consent switch
    # are to be seen (and checked) before sending.
    enter_key_msgid = N_("Done")
    full_height = True  # every question on one screen, without scrolling, at 800x480 too

    def on_consent(self, _instance: object, value: bool) -> None:
        if value and not self.contact_phone and self.manager is not None:
            # The phone is what consent is for: go straight to it.
            Clock.schedule_once(lambda _dt: setattr(self.ids.contact_phone, "focus", True), 0)
        if not value:
            self.clear_error("contact_phone")

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
        """Store the answers (one transaction, once per tap) and say thanks."""
        self.submit_once(self._submit)

    def _submit(self) -> bool:
        details = self.details()
        if details.consent_to_contact and not details.contact_phone:
            self.set_error("contact_phone", MSG_PHONE_FOR_CONSENT)
            Clock.schedule_once(lambda _dt: setattr(self.ids.contact_phone, "focus", True), 0)
            return False
        rating_id = self.app.session.rating_id
        if rating_id and details != RatingDetails():
            try:
                self.kiosk.add_rating_details(rating_id, details)
            except KioskError as error:
                return self.show_error(error, FIELDS)
        self.app.show_receipt("rating", self.app.session.receipt)
        return True

    def skip(self) -> None:
        """Leave the optional questions unanswered."""
        self.submit_once(lambda: self.app.show_receipt("rating", self.app.session.receipt) or True)


load_kv(__file__)
