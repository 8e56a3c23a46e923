"""Widgets shared by the kiosk screens: top bar, QR code, date picker, PIN pad, faces."""

from __future__ import annotations

import time
from calendar import monthrange
from datetime import date
from pathlib import Path

import qrcode
from babel.dates import get_month_names
from kivy.app import App
from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: Oldest age the date-of-birth picker offers.
MAX_AGE_YEARS = 110


class FitText(Label):
    """Shrink a label's font (down to `min_fit` of the size its rules ask for) to fit its box.

    Used where the box cannot grow: the titles and buttons of the action row at the top of
    a screen, which must stay one row high in every language with larger text.
    The size the kv rules set is kept as the wanted size; fitting only ever lowers it.
    """

    fit = BooleanProperty(False)
    min_fit = NumericProperty(0.6)
    fit_margin = NumericProperty(0)  # room kept free above and below the text, in total
    _wanted_font_size = 0.0
    _fitting = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._fit_trigger = Clock.create_trigger(self.fit_text, -1)
        for name in ("fit", "text", "size", "font_name", "text_size"):
            self.fbind(name, self._fit_trigger)
        self._fit_trigger()

    def on_font_size(self, _instance: object, value: float) -> None:
        if not self._fitting:  # a rule or the language changed it: the new wanted size
            self._wanted_font_size = value
            trigger = getattr(self, "_fit_trigger", None)  # None while kv rules apply
            if trigger is not None:
                trigger()

    def fit_text(self, *_args: object) -> None:
        """Set the largest font size (down to the floor) at which the text fits."""
        wanted: float = self._wanted_font_size or float(self.font_size)  # type: ignore[has-type]
        if not self.fit or not wanted:
            return
        floor = wanted * self.min_fit
        size = wanted
        self._fitting = True
        try:
            while True:
                self.font_size = size
                self.texture_update()
                text_w, text_h = self.texture_size
                fits = text_w <= self.width + 1 and text_h + self.fit_margin <= self.height + 1
                if fits or size <= floor:
                    return
                size = max(floor, size * 0.92)
        finally:
            self._fitting = False


class FitLabel(FitText):
    """A label that shrinks its font to fit a fixed box."""


class KButton(FitText, Button):
    """The main action button: large, high-contrast, sized in dp/sp."""

    #: main (accent colours), quiet (panel colours) or alert (red); the theme gives colours.
    role = OptionProperty("main", options=("main", "quiet", "alert"))


class KQuietButton(KButton):
    """A secondary action button."""


class LangButton(KButton):
    """Switch the kiosk to one language."""

    lang = StringProperty("")


class ScoreButton(KQuietButton):
    """One number of a ScoreRow."""

    row = ObjectProperty(None, allownone=True)
    number = NumericProperty(0)


class FaqButton(KQuietButton):
    """One FAQ question in the list."""

    faq_id = StringProperty("")
    screen = ObjectProperty(None, allownone=True)


class StaffCorner(Widget):
    """The hidden staff gesture: 5 taps within 3 seconds open the PIN pad."""

    taps_needed = NumericProperty(5)
    within_seconds = NumericProperty(3.0)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._taps: list[float] = []

    def on_touch_down(self, touch: object) -> bool:
        if not self.collide_point(*touch.pos):  # type: ignore[attr-defined]
            return False
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t <= self.within_seconds] + [now]
        if len(self._taps) >= self.taps_needed:
            self._taps.clear()
            App.get_running_app().open_staff_corner()
        return True


class ActionRow(BoxLayout):
    """The row of actions at the top of a screen: its texts fit the row, never taller."""

    def add_widget(self, widget: Widget, *args: object, **kwargs: object) -> None:
        if isinstance(widget, FitText):
            widget.size_hint_y = 1
            widget.fit = True
        super().add_widget(widget, *args, **kwargs)


class TopBar(BoxLayout):
    """Clinic name and logo, sync mark, accessibility and language switches."""


class LanguageButtons(BoxLayout):
    """One toggle per configured language."""

    languages = ListProperty([])

    def on_languages(self, _instance: object, codes: list[str]) -> None:
        self.clear_widgets()
        for code in codes:
            self.add_widget(LangButton(lang=code))


class QrCode(Widget):
    """A follow-up URL drawn as a QR code: one texel per module, quiet zone kept."""

    data = StringProperty("")
    texture = ObjectProperty(None, allownone=True)
    modules = NumericProperty(0)  # modules per side, quiet zone included

    def on_data(self, _instance: object, value: str) -> None:
        if not value:
            self.texture = None
            self.modules = 0
            return
        qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(value)
        qr.make(fit=True)
        matrix = qr.get_matrix()  # includes the 4-module quiet zone
        side = len(matrix)
        # Rows go bottom-up in a GL texture; reverse them so the code is not mirrored.
        pixels = bytes(0 if cell else 255 for row in reversed(matrix) for cell in row)
        texture = Texture.create(size=(side, side), colorfmt="luminance")
        texture.mag_filter = "nearest"
        texture.min_filter = "nearest"
        texture.blit_buffer(pixels, colorfmt="luminance", bufferfmt="ubyte")
        self.modules = side
        self.texture = texture


class DatePicker(BoxLayout):
    """Day, month and year chosen from lists: no free-text date on a touch screen."""

    day = NumericProperty(0)
    month = NumericProperty(0)
    year = NumericProperty(0)
    days = ListProperty([str(d) for d in range(1, 32)])
    years = ListProperty([])

    def __init__(self, **kwargs: object) -> None:
        this_year = date.today().year
        self.years = [str(y) for y in range(this_year, this_year - MAX_AGE_YEARS - 1, -1)]
        super().__init__(**kwargs)

    @staticmethod
    def month_names(lang: str) -> list[str]:
        """Return the month names in a language (CLDR through Babel)."""
        try:
            names = get_month_names("wide", locale=lang)
        except Exception:  # an unknown locale: English names rather than a crash
            names = get_month_names("wide", locale="en")
        return [names[m][:1].upper() + names[m][1:] for m in range(1, 13)]

    def pick(self, part: str, values: list[str], text: str) -> None:
        """Store a choice made in one of the lists (placeholders are ignored)."""
        if text not in values:
            return
        if part == "month":
            self.month = values.index(text) + 1
        else:
            setattr(self, part, int(text))

    def value(self) -> date | None:
        """Return the chosen date; None if incomplete; ValueError if it does not exist."""
        if not (self.day and self.month and self.year):
            return None
        if self.day > monthrange(self.year, self.month)[1]:
            raise ValueError("no such day in that month")
        return date(self.year, self.month, self.day)

    def value_or_none(self) -> date | None:
        """Return the chosen date, or None if incomplete or impossible."""
        try:
            return self.value()
        except ValueError:
            return None

    def set_value(self, value: date | None) -> None:
        """Show a date (or nothing)."""
        self.day, self.month, self.year = (
            (value.day, value.month, value.year) if value else (0, 0, 0)
        )

    def reset(self) -> None:
        """Forget the chosen date."""
        self.set_value(None)


class NumPad(BoxLayout):
    """A big digit pad with a masked or plain display, for PINs and phone digits."""

    value = StringProperty("")
    max_length = NumericProperty(8)
    masked = BooleanProperty(True)

    def press(self, key: str) -> None:
        """Add a digit, or delete the last one."""
        if key == "del":
            self.value = self.value[:-1]
        elif len(self.value) < self.max_length:
            self.value += key

    def reset(self) -> None:
        """Clear what was entered."""
        self.value = ""


class FaceButton(ButtonBehavior, Widget):
    """One of the five faces, from 1 (very unhappy) to 5 (very happy), drawn in vector."""

    face = NumericProperty(3)

    COLOURS = {
        1: (0.80, 0.15, 0.15, 1),
        2: (0.93, 0.45, 0.10, 1),
        3: (0.95, 0.75, 0.10, 1),
        4: (0.50, 0.75, 0.20, 1),
        5: (0.15, 0.60, 0.25, 1),
    }

    def colour(self, face: int) -> tuple[float, float, float, float]:
        """Return the fill colour of a face."""
        return self.COLOURS.get(int(face), self.COLOURS[3])


class ScoreRow(BoxLayout):
    """A question answered by tapping one of a few numbered buttons (or none)."""

    msgid = StringProperty("")
    low = NumericProperty(1)
    high = NumericProperty(5)
    score = NumericProperty(-1)  # -1: not answered

    def on_kv_post(self, _base_widget: object) -> None:
        from kivy.factory import Factory

        for n in range(int(self.low), int(self.high) + 1):
            button = Factory.ScoreButton(text=str(n), row=self, number=n)
            self.ids.buttons.add_widget(button)

    def choose(self, number: int) -> None:
        """Select a score; tapping the selected one again clears it."""
        self.score = -1 if self.score == number else number

    def reset(self) -> None:
        """Forget the answer."""
        self.score = -1


class StillThereView(ModalView):
    """The idle countdown; any touch on it cancels the reset."""

    def on_touch_down(self, touch: object) -> bool:
        App.get_running_app().keep_session_alive()
        return True
