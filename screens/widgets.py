"""Widgets shared by the kiosk screens: fields, form area, action bar, QR code, pads, faces."""

from __future__ import annotations

import time
from calendar import monthrange
from datetime import date
from pathlib import Path
from typing import Any, Literal

import qrcode
from babel.dates import format_date, get_date_format, get_month_names
from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior, FocusBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.stencilview import StencilView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

import screens.keyboard  # noqa: F401  (the keyboard's rules, used by the fields)
from kiosk.facade import N_, face_table
from kiosk.textshape import has_rtl, typed_line
from screens.discard import discard, discard_children
from screens.keyboard import advance, keyboard

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


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
        """Set the largest font size (down to the floor) at which the text fits.

        The sizes tried are measured on the label's text provider, not set on the label:
        only the size chosen reaches `font_size` and the texture. Setting each size tried
        changed `texture_size` on every fit, even when the result was the same, and rules
        bound to it (a button's height) moved the box, which asked for another fit: in a
        row whose layout sets the height, that never settled.
        """
        wanted: float = self._wanted_font_size or float(self.font_size)  # type: ignore[has-type]
        if not wanted or not (self.fit or self._wraps()):
            return
        floor = wanted * self.min_fit
        size = wanted
        fits = self._fits if self.fit else self._words_fit
        while not fits(size) and size > floor:
            size = max(floor, size * 0.92)
        self._fitting = True
        try:
            self.font_size = size
        finally:
            self._fitting = False

    def _fits(self, font_size: float) -> bool:
        """Tell whether the text fits the box at a font size (measured, nothing drawn)."""
        core: Any = self._label
        options = core.options
        current = options["font_size"]
        options["font_size"] = font_size
        try:
            core.resolve_font_name()
            text_w, text_h = core.render()
        finally:
            options["font_size"] = current
        return bool(text_w <= self.width + 1 and text_h + self.fit_margin <= self.height + 1)

    def _wraps(self) -> bool:
        """Tell whether the text wraps to a width (the box then grows in height to hold it)."""
        return bool(self.text_size[0])

    def _words_fit(self, font_size: float) -> bool:
        """Tell whether every word fits the wrapping width whole at a font size.

        Wrapping breaks a word wider than the line inside it ("Зарегистриро-ваться"); a
        smaller font (down to the floor) keeps words whole.
        """
        core: Any = self._label
        options = core.options
        current = options["font_size"]
        options["font_size"] = font_size
        try:
            core.resolve_font_name()
            width = float(self.text_size[0])
            return all(core.get_extents(word)[0] <= width + 1 for word in self.text.split())
        finally:
            options["font_size"] = current


class FitLabel(FitText):
    """A label that shrinks its font to fit a fixed box."""


class KButton(FitText, Button):
    """The main action button: large, high-contrast, sized in dp/sp."""

    #: main (accent colours), quiet (panel colours) or alert (red); the theme gives colours.
    role = OptionProperty("main", options=("main", "quiet", "alert"))
    #: Wrap the text to the button's width (False for a short label such as a number).
    wrap = BooleanProperty(True)
    #: The height of the text, which a button that does not fit its text grows to. It stays
    #: put while `fit` is on: there the box gives the height and the text follows, and a
    #: height rule bound to the texture set the height back each time the fitted text was
    #: drawn again, against the row laying the button out (they never settled).
    text_height = NumericProperty(0)

    def on_texture_size(self, _instance: object, size: list[int]) -> None:
        if not self.fit:
            self.text_height = size[1]

    def on_fit(self, _instance: object, fit: bool) -> None:
        if not fit:
            self.text_height = self.texture_size[1]


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

    #: More languages than this make one button that opens the list (screens.language).
    MAX_BUTTONS = 3

    def on_languages(self, _instance: object, codes: list[str]) -> None:
        discard_children(self)
        if len(codes) > self.MAX_BUTTONS:
            # By name: screens.language builds on this module (and is loaded with the screens).
            self.add_widget(Factory.LanguageMenuButton())
            return
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


class KInput(TextInput):
    """A text field typed on the kiosk keyboard; Enter moves on to the next field."""

    #: Start with a capital (names): the keyboard turns Shift on at the start of a word.
    autocap = BooleanProperty(False)

    def on_focus(self, _instance: object, focused: bool) -> None:
        board = keyboard()
        if board is not None:
            if focused:
                board.attach(self)
            else:
                board.detach(self)

    def on_text_validate(self) -> None:
        advance(self)

    # --- Arabic typed in the field -----------------------------------------------------------
    # TextInput draws each line with the plain text provider (not screens.rtl's): a line
    # with Arabic is drawn here shaped and in display order (kiosk.textshape.typed_line),
    # and the caret and a tap's caret place are found on the line as drawn. The text itself
    # stays in the order typed.
    def _create_line_label(self, text: str, hint: bool = False) -> Any:
        if has_rtl(text) and (hint or not self.password):
            text = typed_line(text.replace("\n", ""))[0]
        return super()._create_line_label(text, hint)

    def _drawn_line(self, row: int) -> tuple[str, tuple[int, ...]] | None:
        """Return a line with Arabic as drawn and its caret places (None for other lines)."""
        lines = self._lines
        if self.password or row >= len(lines) or not has_rtl(lines[row]):
            return None
        return typed_line(lines[row])

    def _drawn_width(self, text: str) -> float:
        return float(self._get_text_width(text, self.tab_width, self._label_cached)) if text else 0

    def cursor_offset(self) -> float:
        """Return the caret's x offset on its line, as the line is drawn."""
        drawn = self._drawn_line(int(self.cursor_row))
        if drawn is None:
            return float(super().cursor_offset())
        line, carets = drawn
        return self._drawn_width(line[: carets[min(int(self.cursor_col), len(carets) - 1)]])

    def get_cursor_from_xy(self, x: float, y: float) -> tuple[int, int]:
        """Return the caret place (col, row) nearest a point, on the line as drawn."""
        col, row = super().get_cursor_from_xy(x, y)
        drawn = self._drawn_line(row)
        if drawn is None:
            return col, row
        line, carets = drawn
        left, _top, right, _bottom = self.padding
        room = self.width - left - right
        spare = max(0.0, room - self._get_row_width(row))
        shift = {"center": spare // 2, "right": spare}.get(self.halign, 0.0)
        start = self.x + left + shift - self.scroll_x
        places = [start + self._drawn_width(line[:place]) for place in carets]
        return min(range(len(places)), key=lambda k: abs(places[k] - x)), row


def date_order(lang: str) -> list[str]:
    """Return the order of day, month and year in a language's short dates ("d", "M", "y")."""
    try:
        pattern = get_date_format("short", locale=lang).pattern
    except Exception:  # an unknown locale: day first, the most common order
        return ["d", "M", "y"]
    order = sorted("dMy", key=lambda part: pattern.find(part) if part in pattern else 99)
    return order


def month_names(lang: str, context: Literal["format", "stand-alone"] = "format") -> list[str]:
    """Return the month names in a language (CLDR through Babel).

    `context` "format" gives the form used inside a date (Russian "февраля"), "stand-alone"
    the month named on its own (Russian "февраль"), as speech says it once typed.
    """
    try:
        names = get_month_names("wide", context=context, locale=lang)
    except Exception:  # an unknown locale: English names rather than a crash
        names = get_month_names("wide", context=context, locale="en")
    return [names[m][:1].upper() + names[m][1:] for m in range(1, 13)]


#: Digits per part of a date of birth.
PART_DIGITS = {"d": 2, "M": 2, "y": 4}
#: What an empty part shows, per part (msgids: "YYYY" is "AAAA" in Spanish).
PART_HINTS = {"d": N_("DD"), "M": N_("MM"), "y": N_("YYYY")}
DATE_PROBLEM_MONTH = N_("There is no such month. Please check the month.")
DATE_PROBLEM_DAY = N_("There is no such day. Please check the day.")
DATE_PROBLEM_DATE = N_("This date does not exist. Please check it.")


class DateField(FocusBehavior, BoxLayout):
    """A date of birth typed as 8 digits on the digit pad, in the language's order.

    The parts fill in as the digits come (no drop-down lists, no scrolling); the month is
    echoed by name and the whole date in words once complete, so a patient sees at once
    whether 03/12 was read as March or December.
    """

    digits = StringProperty("")
    lang = StringProperty("en")
    input_type = StringProperty("number")  # the keyboard shows its digit pad
    problem = StringProperty("")  # msgid of what is wrong with the digits so far
    echo = StringProperty("")  # the month, then the whole date, in words

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fbind("digits", self._check)
        self.fbind("lang", self._check)

    @property
    def text(self) -> str:
        """Return the digits typed (so a reset and the tests treat it like a text field)."""
        return self.digits

    def order(self) -> list[str]:
        return date_order(self.lang)

    def parts(self) -> dict[str, str]:
        """Split the digits typed so far into day, month and year, in the language's order."""
        out = {"d": "", "M": "", "y": ""}
        rest = self.digits
        for part in self.order():
            out[part], rest = rest[: PART_DIGITS[part]], rest[PART_DIGITS[part] :]
        return out

    def part_text(self, part: str, digits: str, lang: str) -> str:
        """Return what one box shows: the digits typed, or the hint when empty."""
        from kiosk.i18n import _

        del digits  # bound in kv so the boxes update as digits come
        typed = self.parts()[part]
        if not typed:
            return _(PART_HINTS[part], lang)
        return typed + "_" * (PART_DIGITS[part] - len(typed))

    # --- typing ------------------------------------------------------------------------------
    def insert_text(self, substring: str, from_undo: bool = False) -> None:
        wanted = "".join(ch for ch in substring if ch.isdigit() and ch.isascii())
        self.digits = (self.digits + wanted)[:8]

    def do_backspace(self, from_undo: bool = False, mode: str = "bkspc") -> None:
        self.digits = self.digits[:-1]

    def keyboard_on_textinput(self, window: Any, text: str) -> None:
        self.insert_text(text)

    def keyboard_on_key_down(self, window: Any, keycode: Any, text: Any, modifiers: Any) -> bool:
        if keycode[0] == 8:
            self.do_backspace()
            return True
        if keycode[0] in (13, 271):
            advance(self)
            return True
        return bool(super().keyboard_on_key_down(window, keycode, text, modifiers))

    def on_focus(self, _instance: object, focused: bool) -> None:
        board = keyboard()
        if board is not None:
            if focused:
                board.attach(self)
            else:
                board.detach(self)

    # --- meaning -----------------------------------------------------------------------------
    def _check(self, *_args: Any) -> None:
        parts = self.parts()
        day, month = parts["d"], parts["M"]
        problem = ""
        names = month_names(self.lang)
        echo = ""
        if len(month) == 2:
            if not 1 <= int(month) <= 12:
                problem = DATE_PROBLEM_MONTH
            else:
                echo = names[int(month) - 1]
        if len(day) == 2 and not 1 <= int(day) <= 31:
            problem = problem or DATE_PROBLEM_DAY
        if not problem and len(self.digits) == 8:
            try:
                self.value()
            except ValueError:
                problem = DATE_PROBLEM_DATE
            else:
                echo = self.in_words(self.lang)
        self.problem = problem
        self.echo = echo

    def month_in_words(self, lang: str) -> str:
        """Return the month typed, named on its own in `lang` ("Febrero"); "" until both its
        digits are typed, or when there is no such month."""
        month = self.parts()["M"]
        if len(month) != 2 or not 1 <= int(month) <= 12:
            return ""
        return month_names(lang, "stand-alone")[int(month) - 1]

    def in_words(self, lang: str) -> str:
        """Return the whole date in words in `lang` ("1 de febrero de 1990"), "" until then."""
        value = self.value_or_none()
        if value is None:
            return ""
        try:
            return str(format_date(value, "long", locale=lang))
        except Exception:  # an unknown locale: English words rather than a crash
            return str(format_date(value, "long", locale="en"))

    def value(self) -> date | None:
        """Return the date typed; None if incomplete; ValueError if it does not exist."""
        if len(self.digits) < 8:
            return None
        parts = self.parts()
        day, month, year = int(parts["d"]), int(parts["M"]), int(parts["y"])
        if not 1 <= month <= 12 or not 1 <= day <= monthrange(max(year, 1), month)[1]:
            raise ValueError("no such date")
        if year < 1:
            raise ValueError("no such year")
        return date(year, month, day)

    def value_or_none(self) -> date | None:
        """Return the date typed, or None if incomplete or impossible."""
        try:
            return self.value()
        except ValueError:
            return None

    def set_value(self, value: date | None) -> None:
        """Show a date (or nothing)."""
        if value is None:
            self.digits = ""
            return
        text = {"d": f"{value.day:02d}", "M": f"{value.month:02d}", "y": f"{value.year:04d}"}
        self.digits = "".join(text[part] for part in self.order())

    def reset(self) -> None:
        """Forget the date."""
        self.focus = False
        self.digits = ""


class FieldBox(BoxLayout):
    """A field with its label always above it and its error right under it."""

    #: How screens.keyboard recognises the box that labels a field (no import cycle).
    labels_field = True
    label = StringProperty("")
    error = StringProperty("")
    _ready = False

    def on_kv_post(self, _base_widget: object) -> None:
        self._ready = True

    def add_widget(self, widget: Widget, *args: Any, **kwargs: Any) -> None:
        if self._ready and "index" not in kwargs and not args:
            # Between the label (last child) and the error line (first child).
            super().add_widget(widget, index=1)
            return
        super().add_widget(widget, *args, **kwargs)


class FormArea(StencilView):
    """The body of a form: top-aligned, shifted up just enough to keep the field being
    typed in (with its label and error) above the docked keyboard. Never scrolled by hand.
    """

    shift = NumericProperty(0)
    #: A control to keep in view when no field is typed in here: the one the keys moved the
    #: focus to (screens.access), which may sit below the form's visible area.
    shown = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Next frame, not "before this frame": placing lays the content out, which may ask
        # to be placed again; across frames that settles instead of spinning the clock.
        self._trigger = Clock.create_trigger(self.place, 0)
        # Its own size and position place it before the frame is drawn (placing changes
        # neither, so this cannot spin): a screen shown again would otherwise show, and
        # take taps on, its old placing for a frame.
        self._trigger_now = Clock.create_trigger(self.place, -1)
        self.fbind("size", self._trigger_now)
        self.fbind("pos", self._trigger_now)
        self.fbind("shown", self._trigger_now)
        board = keyboard()
        if board is not None:
            board.fbind("target", self._trigger)

    def add_widget(self, widget: Widget, *args: Any, **kwargs: Any) -> None:
        super().add_widget(widget, *args, **kwargs)
        widget.fbind("height", self._trigger_now)
        self._trigger()

    def place_before_frame(self) -> None:
        """Place the content once the layouts of this frame have settled."""
        self._trigger_now()

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        return bool(super().on_touch_down(touch))

    def focused_box(self, content: Widget) -> Widget | None:
        """Return the FieldBox (or field) of the field being typed in, if it is in here."""
        board = keyboard()
        target = board.target if board is not None else None
        node, box = target, None
        while node is not None and node is not self:
            if box is None and isinstance(node, FieldBox):
                box = node
            if node is content:
                return box or target
            node = node.parent if node.parent is not node else None
        return None

    @staticmethod
    def _holds(content: Widget, widget: Widget) -> bool:
        node: Widget | None = widget
        while node is not None and node.parent is not node:
            if node is content:
                return True
            node = node.parent
        return False

    @staticmethod
    def _settle(content: Widget) -> None:
        """Lay the content's own layouts out now, parents first, so positions are fresh."""
        from kivy.uix.layout import Layout

        for widget in content.walk(restrict=True):
            if isinstance(widget, Layout):
                widget.do_layout()

    def place(self, *_args: Any) -> None:
        """Lay the content out at the top; shift it up to show the focused field."""
        if not self.children:
            return
        content = self.children[0]
        content.width = self.width
        content.x = self.x
        content.top = self.top
        self._settle(content)
        shift = 0.0
        box = self.focused_box(content)
        board = keyboard()
        field = board.target if board is not None else None
        if box is not None and field is not None:
            margin = dp(4)
            # Ideally the whole box (label, field, error) shows, the label never leaving...
            shift = max(0.0, min(self.y + margin - box.y, self.top - box.top))
            # ...but the field being typed in shows in any case.
            if field.y + shift < self.y + margin:
                shift = max(0.0, min(self.y + margin - field.y, self.top - field.top))
        elif self.shown is not None and self._holds(content, self.shown):
            margin = dp(4)
            shift = max(0.0, min(self.y + margin - self.shown.y, self.top - self.shown.top))
        self.shift = shift
        if shift:
            content.top = self.top + shift
            self._settle(content)


class StepIndicator(BoxLayout):
    """Where the patient is in a flow: "Step 2 of 3" and one bar per step."""

    title = StringProperty("")
    step = NumericProperty(1)
    steps = NumericProperty(3)  # 0: a screen outside a numbered flow (title only)


class BottomBar(BoxLayout):
    """The row of actions at the bottom: back on the left, the main action on the right."""

    #: Below this width (a portrait screen) the gap between the actions gives them its room.
    NARROW_DP = 600

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fbind("width", self._fit_gap)

    def add_widget(self, widget: Widget, *args: Any, **kwargs: Any) -> None:
        super().add_widget(widget, *args, **kwargs)
        self._fit_gap()

    def _fit_gap(self, *_args: Any) -> None:
        narrow = self.width < dp(self.NARROW_DP)
        for child in self.children:
            if type(child) is Widget:  # the plain spacer between the actions
                child.size_hint_x = 0.1 if narrow else 1


class ConfirmExitView(ModalView):
    """Ask staff to confirm that the kiosk should close (a new view each time)."""

    def on_dismiss(self) -> None:
        discard(self)  # never shown again: its rules must not outlive it


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

    COLOURS = face_table(
        {
            1: (0.80, 0.15, 0.15, 1),
            2: (0.93, 0.45, 0.10, 1),
            3: (0.95, 0.75, 0.10, 1),
            4: (0.50, 0.75, 0.20, 1),
            5: (0.15, 0.60, 0.25, 1),
        },
        "face colours",
    )

    def colour(self, face: int) -> tuple[float, float, float, float]:
        """Return the fill colour of a face (1-5; any other face is an error)."""
        return self.COLOURS[int(face)]


class ScoreRow(BoxLayout):
    """A question answered by tapping one of a few numbered buttons (or none)."""

    msgid = StringProperty("")
    low = NumericProperty(1)
    high = NumericProperty(5)
    score = NumericProperty(-1)  # -1: not answered
    inline = BooleanProperty(False)  # the question on the left of its buttons (a scale matrix)
    cols = NumericProperty(0)  # buttons per line; 0: all on one line

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
