"""Keys instead of touch, speech instead of sight: one focus manager for every screen.

It walks the widget tree of the screen on show (and of an open dialog) for the controls a
patient can use (buttons, cards, faces, fields), orders them as they read (top to bottom,
then in the reading direction), draws a focus ring round the one in focus on the Window,
and turns keys into moves, selections and typing. No screen needs its own key handling.

Keys (docs/accessibility.md):
- 12-key keypad (keypad digits, `*`, `#`, Enter): 2/4 previous, 8/6 next, 5 or Enter
  select, `*` back, `#` repeat, 0 help, 1/3 volume down/up. On a text longer than its place
  (an FAQ answer) 2/8 scroll it, and move on once its end shows. In a name field the digits
  type letters by multi-tap (as on a phone), `*` deletes; in a digit field they type digits.
- Keyboard: Tab / Shift+Tab and the arrows move, Enter (or Space on a button) selects,
  Escape goes back; F1 help, F2 repeat, Page Up/Down volume. On a long text Up/Down scroll
  it first, as 2/8 do.
Any keypad key while speech is off turns speech on (and does nothing else).

What is said is decided here from the widget tree; how it is said is kiosk.speech.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.event import EventDispatcher
from kivy.graphics import Color, InstructionGroup, Line
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.behaviors import ButtonBehavior, ToggleButtonBehavior
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView
from kivy.uix.stencilview import StencilView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from kiosk import speech
from kiosk.i18n import _

N_ = str

# Kivy keycodes.
TAB, ENTER, ESCAPE, SPACE, BACKSPACE = 9, 13, 27, 32, 8
UP, DOWN, RIGHT, LEFT = 273, 274, 275, 276
KP_DIGITS = {256 + n: str(n) for n in range(10)}
KP_DIVIDE, KP_MULTIPLY, KP_MINUS, KP_PLUS, KP_ENTER = 267, 268, 269, 270, 271
F1, F2 = 282, 283
PAGE_UP, PAGE_DOWN = 280, 281
KEYPAD_CODES = {*KP_DIGITS, KP_DIVIDE, KP_MULTIPLY, KP_MINUS, KP_PLUS, KP_ENTER}

ROLE_BUTTON = N_("button")
ROLE_FIELD = N_("text field")
ROLE_DATE = N_("date field, 8 digits")
ROLE_DIGITS = N_("digit field")
SELECTED = N_("selected")
EMPTY = N_("empty")
DELETED = N_("deleted {char}")
KEPT = N_("Thank you. Please go on.")
LARGER_TEXT = N_("Larger text and high contrast")

#: Room left between a control scrolled into view and the edge of its list (dp).
SCROLL_PADDING_DP = 8

#: For this many frames after a focus move, the focused control is scrolled back into view
#: if a late layout (a row taking its text's height) pushed it out; not longer, so that a
#: patient's own swipe through the list is not undone.
REVEAL_FRAMES = 3

#: Up/Down on a text in focus scroll it by this part of its height: a line read last
#: stays in view.
TEXT_SCROLL_PART = 0.75

#: The welcome screen says how to start speech after this long without a touch or key.
HINT_AFTER_SECONDS = 6.0


def _ancestors(widget: Widget) -> list[Widget]:
    out = []
    node = widget.parent
    while node is not None and node is not node.parent:
        out.append(node)
        node = node.parent
    return out


def window_rect(widget: Widget) -> tuple[float, float, float, float]:
    """Return a widget's (x, y, width, height) in window coordinates."""
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, widget.width, widget.height


def is_shown(widget: Widget) -> bool:
    """Tell whether a widget is drawn where a patient can see and reach it."""
    if widget.disabled or widget.opacity <= 0 or widget.width < 2 or widget.height < 2:
        return False
    if widget.get_root_window() is None:
        return False
    x, y, w, h = window_rect(widget)
    cx, cy = x + w / 2, y + h / 2
    if not (0 <= cx <= Window.width and 0 <= cy <= Window.height):
        return False
    from screens.widgets import FormArea

    for node in _ancestors(widget):
        if node.opacity <= 0:
            return False
        if isinstance(node, FormArea):
            continue  # a form shifts to show the field in focus: its fields stay reachable
        if isinstance(node, StencilView) or type(node).__name__ in ("ScrollView", "RecycleView"):
            nx, ny, nw, nh = window_rect(node)
            if not (nx <= cx <= nx + nw and ny <= cy <= ny + nh):
                return False
    return True


def scroller(widget: Widget) -> ScrollView | None:
    """Return the ScrollView (or RecycleView) a widget scrolls in, if any."""
    for node in _ancestors(widget):
        if isinstance(node, ScrollView):
            return node
    return None


def is_reachable(widget: Widget) -> bool:
    """Tell whether a patient can reach a widget: shown, or shown once its list scrolls to it.

    A list longer than the screen is still walked from top to bottom with the keys: moving
    the focus scrolls the list (Access.set_focus), so its hidden entries count.
    """
    if is_shown(widget):
        return True
    view = scroller(widget)
    if view is None or widget.get_root_window() is None:
        return False
    if widget.disabled or widget.opacity <= 0 or widget.width < 2 or widget.height < 2:
        return False
    for node in _ancestors(widget):
        if node is view:
            break
        if node.opacity <= 0:
            return False
    return is_reachable(view)


def is_recycle_view(widget: Any) -> bool:
    """Tell whether a widget is a RecycleView (by what it has: Kivy's Factory loads the class
    from `kivy.uix.recycleview.__init__`, another class object than an import gives)."""
    return isinstance(widget, ScrollView) and hasattr(widget, "view_adapter")


def recycle_row(widget: Widget) -> tuple[Any, int] | None:
    """Return the RecycleView a widget is a row of, and the index of its row in the data.

    A RecycleView makes widgets only for the rows in view (and reuses them as it scrolls),
    so moving through its rows goes by index, not by widget.
    """
    manager = widget.parent
    view = getattr(manager, "recycleview", None)
    if not is_recycle_view(view):
        return None
    index = getattr(manager, "view_indices", {}).get(widget)
    return None if index is None else (view, int(index))


def is_control(widget: Widget) -> bool:
    """Tell whether a widget is something a patient operates (not a label)."""
    from screens.keyboard import KeyButton
    from screens.widgets import DateField

    if isinstance(widget, KeyButton):
        return False  # the on-screen keyboard: keys type through multi-tap or a real keyboard
    return isinstance(widget, ButtonBehavior | TextInput | DateField)


def is_text_view(widget: Widget) -> bool:
    """Tell whether a widget is a ScrollView of text only that is longer than its place (an
    FAQ answer): it has no control to focus, so it is a stop of the focus ring itself, and
    Up/Down (keypad 2/8) scroll it while it has focus (Access.up_down)."""
    if not isinstance(widget, ScrollView) or is_recycle_view(widget) or not widget.do_scroll_y:
        return False
    content = widget.children[0] if widget.children else None
    if content is None or content.height <= widget.height + 1:
        return False
    return not any(is_control(w) for w in content.walk(restrict=True))


def scroll_text(view: ScrollView, step: int) -> bool:
    """Scroll a text view down (1) or up (-1) by TEXT_SCROLL_PART of its height; tell
    whether it moved (not when its end already shows)."""
    _dsx, dsy = view.convert_distance_to_scroll(0, view.height * TEXT_SCROLL_PART)
    scroll_y = view.scroll_y - step * dsy
    scroll_y = 0.0 if scroll_y < 1e-6 else 1.0 if scroll_y > 1 - 1e-6 else scroll_y  # the ends
    if abs(scroll_y - view.scroll_y) < 1e-6:
        return False
    view.scroll_y = scroll_y
    view.update_from_scroll()
    return True


def inside_control(widget: Widget) -> bool:
    return any(is_control(node) for node in _ancestors(widget))


def language_name(code: str) -> str:
    """Return a language's name in that language ("Español"), as patients look for it."""
    from babel import Locale

    try:
        name = Locale.parse(code).get_display_name(code) or code
    except Exception:  # a code Babel does not know: say the code
        return code
    return name[:1].upper() + name[1:]


def field_label(widget: Widget) -> str:
    """Return the label a field is known by (its FieldBox's, else its hint)."""
    from screens.widgets import FieldBox

    for node in _ancestors(widget):
        if isinstance(node, FieldBox):
            return str(node.label)
    return str(getattr(widget, "hint_text", "") or "")


def control_name(widget: Widget, lang: str) -> str:
    """Return what a control is called (its text, or the labels next to it)."""
    from screens.widgets import FaceButton, LangButton, ScoreButton

    if isinstance(widget, FaceButton):
        from screens.rate import FACE_LABELS

        return _(FACE_LABELS[int(widget.face)], lang)
    if isinstance(widget, LangButton):
        return language_name(str(widget.lang))
    if getattr(widget, "text", "") == "A+":
        return _(LARGER_TEXT, lang)
    if isinstance(widget, ScoreButton) and widget.row is not None:
        return f"{widget.text}, {_(widget.row.msgid, lang)}"
    text = str(getattr(widget, "text", "") or "")
    if text:
        return text
    texts = [
        w.text
        for w in widget.walk(restrict=True)
        if isinstance(w, Label) and w is not widget and w.text
    ]
    if not texts and widget.parent is not None:
        texts = [w.text for w in widget.parent.children if isinstance(w, Label) and w.text]
    return ", ".join(texts)


def describe(widget: Widget, lang: str) -> str:
    """Return what to say when a control takes the focus."""
    from screens.widgets import DateField, ScoreButton

    if is_text_view(widget):  # a long text: read whole (the keys scroll it for the eyes)
        return sentences(
            [w.text for w in widget.walk(restrict=True) if isinstance(w, Label) and w.text.strip()]
        )
    if isinstance(widget, DateField):
        value = widget.echo or widget.digits or _(EMPTY, lang)
        return f"{field_label(widget)}, {_(ROLE_DATE, lang)}, {value}"
    if isinstance(widget, TextInput):
        role = ROLE_DIGITS if widget.input_type in ("tel", "number") else ROLE_FIELD
        value = widget.text if not widget.password else ""
        return f"{field_label(widget)}, {_(role, lang)}, {value or _(EMPTY, lang)}"
    parts = [control_name(widget, lang), _(ROLE_BUTTON, lang)]
    selected = False
    if isinstance(widget, ToggleButtonBehavior):
        selected = widget.state == "down"
    elif isinstance(widget, ScoreButton) and widget.row is not None:
        selected = widget.row.score == widget.number
    if selected:
        parts.append(_(SELECTED, lang))
    return ", ".join(p for p in parts if p)


def _drawn(widget: Widget) -> bool:
    """Tell whether a widget is drawn at all (a form's lower part may be out of view)."""
    nodes = [widget, *_ancestors(widget)]
    return all(n.opacity > 0 for n in nodes) and widget.height > 1 and not widget.disabled


def reading_text(root: Widget) -> list[str]:
    """Return the texts a screen shows outside its controls, in the order they are declared
    (the kv files declare a screen top to bottom)."""
    labels = [
        w
        for w in root.walk(restrict=True)
        if isinstance(w, Label)
        and w.text.strip()
        and not is_control(w)
        and not inside_control(w)
        and _drawn(w)
    ]
    seen: list[str] = []
    for label in labels:
        if label.text not in seen:
            seen.append(label.text)
    return seen


def _row_of(widget: Widget, view: Any) -> bool:
    row = recycle_row(widget)
    return row is not None and row[0] is view


def _rows_in_data_order(controls: list[Widget]) -> list[Widget]:
    """Put the rows of each RecycleView in their data order, in the places they hold.

    A RecycleView adds a row's widget when the row scrolls into view, so its children are
    in the order they were made, not the order of the list.
    """
    out = list(controls)
    rows: dict[int, list[tuple[int, int, Widget]]] = {}
    for place, widget in enumerate(out):
        row = recycle_row(widget)
        if row is not None:
            rows.setdefault(id(row[0]), []).append((place, row[1], widget))
    for members in rows.values():
        ordered = sorted(members, key=lambda member: member[1])
        for (place, _i, _w), (_p, _index, widget) in zip(members, ordered, strict=True):
            out[place] = widget
    return out


def reveal(view: ScrollView, y: float, height: float) -> bool:
    """Scroll a view vertically so that the band (y, height), in window coordinates, shows
    whole inside it (its top if it is taller than the view); tell whether it scrolled.

    The view's content is moved at once (not on the next frame), so window coordinates
    read right after are the new ones.
    """
    _vx, vy, _vw, vh = window_rect(view)
    pad = dp(SCROLL_PADDING_DP)
    if height + 2 * pad > vh or y + height > vy + vh - pad:
        dy = (vy + vh - pad) - (y + height)
    elif y < vy + pad:
        dy = vy + pad - y
    else:
        return False
    _dsx, dsy = view.convert_distance_to_scroll(0, dy)
    scroll_y = min(1.0, max(0.0, view.scroll_y - dsy))
    if abs(scroll_y - view.scroll_y) < 1e-6:
        return False
    view.scroll_y = scroll_y
    view.update_from_scroll()
    return True


def fully_in_view(widget: Widget) -> bool:
    """Tell whether all of a widget lies inside every list or form that clips it (and the
    window)."""
    x, y, w, h = window_rect(widget)
    boxes = [(0.0, 0.0, float(Window.width), float(Window.height))]
    boxes += [window_rect(node) for node in _ancestors(widget) if isinstance(node, StencilView)]
    e = 0.5  # rounding
    return all(
        x >= bx - e and y >= by - e and x + w <= bx + bw + e and y + h <= by + bh + e
        for bx, by, bw, bh in boxes
    )


def _month_just_typed(field: Any, old: str) -> bool:
    """Tell whether the digit just typed into a date field was its month's second."""
    from screens.widgets import PART_DIGITS

    order = field.order()
    end = sum(PART_DIGITS[part] for part in order[: order.index("M") + 1])
    return len(old) < end <= len(field.digits)


def sentences(texts: list[str]) -> str:
    """Join texts as sentences (a pause between them when spoken)."""
    out = []
    for text in texts:
        text = text.strip()
        out.append(text if text[-1:] in ".?!:;。？！؟" else text + ".")
    return " ".join(out)


class Access(EventDispatcher):
    """Focus, keys and speech for the running kiosk app."""

    speech_on = BooleanProperty(False)
    focused = ObjectProperty(None, allownone=True)

    def __init__(self, app: Any, speaker: speech.Speaker | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.speaker = speaker or speech.Speaker()
        self.multitap = speech.MultiTap()
        self._ring = InstructionGroup()
        self._ring_outer = Line(width=dp(3))
        self._ring_inner = Line(width=dp(1.5))
        self._ring.add(Color(0, 0, 0, 1))
        self._ring.add(self._ring_outer)
        self._ring.add(Color(1, 0.84, 0, 1))
        self._ring.add(self._ring_inner)
        self._events: list[Any] = []
        self._spoken_errors: set[str] = set()
        # The field typed in: its text is echoed as it changes (a bound callback, not a poll:
        # a poll between two fast keys would say "Smg" instead of "g", or a date as a number).
        self._watched: Any = None
        self._watched_text = ""
        self._watched_binding: tuple[Any, str, int] | None = None
        self._multitap_edit = False
        self._last_activity = Clock.get_time()
        self._hinted = False
        self._still_there_said = False
        # Two frames after a screen change: its fields take the focus on the first.
        self._read_trigger = Clock.create_trigger(
            lambda _dt: Clock.schedule_once(self._read_screen, 0), 0
        )
        self._swallow_text: str | None = None
        self._pad_value = ""
        # The focus on a row of a RecycleView is held as (view, index): the view reuses its
        # row widgets as it lays out and scrolls, so the widget in focus may come to show
        # another row; the ring and the keys follow the row (see _follow_row).
        self._focus_row: tuple[Any, int] | None = None
        self._following_row = False
        self._reveal_frames = 0
        self._shown_in: Any = None  # the FormArea told to keep the focus in view

    def on_focused(self, _instance: Any, widget: Widget | None) -> None:
        if not self._following_row:
            self._focus_row = recycle_row(widget) if widget is not None else None
        form = self._shown_in
        if form is not None and (widget is None or form not in _ancestors(widget)):
            self._shown_in = None
            form.shown = None  # the form goes back to its own placing

    def _follow_row(self) -> None:
        """Point `focused` at the widget now showing the row in focus (see __init__)."""
        if self._focus_row is None:
            return
        view, index = self._focus_row
        row = view.view_adapter.get_visible_view(index) if view.view_adapter else None
        if row is not None and row.parent is not None and row is not self.focused:
            self._following_row = True
            try:
                self.focused = row
            finally:
                self._following_row = False

    # --- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        Window.canvas.after.add(self._ring)
        Window.bind(
            on_key_down=self.on_key_down,
            on_textinput=self.on_textinput,
            on_touch_down=self._on_touch,
        )
        self.app.manager.bind(current=self._on_screen)
        self.app.bind(lang=self._on_screen)
        self.app.keyboard.bind(target=self._on_target)
        self._events = [
            Clock.schedule_interval(self._tick, 0.1),
            Clock.schedule_interval(self._draw_ring, 0),
        ]

    def stop(self) -> None:
        Window.unbind(
            on_key_down=self.on_key_down,
            on_textinput=self.on_textinput,
            on_touch_down=self._on_touch,
        )
        self.app.manager.unbind(current=self._on_screen)
        self.app.unbind(lang=self._on_screen)
        self.app.keyboard.unbind(target=self._on_target)
        self._watch(None)
        if self._ring in Window.canvas.after.children:
            Window.canvas.after.remove(self._ring)
        for event in self._events:
            event.cancel()
        self._events = []
        self.speaker.stop()

    def reset(self) -> None:
        """The patient's session ended: silence, default volume, speech off, nothing kept."""
        self.speaker.stop()
        self.speaker.reset_volume()
        self.speaker.clear_log()
        self.speech_on = False
        self.focused = None
        self.multitap.commit()
        self._spoken_errors = set()
        self._hinted = False
        self._last_activity = Clock.get_time()

    # --- speech -----------------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return str(self.app.lang)

    def say(self, text: str, *, queue: bool = False) -> None:
        if self.speech_on and text:
            self.speaker.say(text, self.lang, queue=queue)

    def turn_speech_on(self) -> None:
        self.speech_on = True
        self.speaker.say(_(speech.SPEECH_ON, self.lang), self.lang)
        self._read_screen(queue=True)

    def _on_screen(self, _instance: Any, _value: Any) -> None:
        """A new screen, or the same in another language: read it from the top."""
        if _instance is self.app.manager:
            self.focused = None
        self.multitap.lang = self.lang
        self.multitap.commit()
        self._spoken_errors = set()
        if self.speech_on:
            self.speaker.stop()
            # Next frame: the screen's texts are bound to properties filled on entering.
            self._read_trigger()

    def _read_screen(self, *_args: Any, queue: bool = False) -> None:
        """Say the screen's title and instructions, then the control in focus."""
        if not self.speech_on:
            return
        root = self._root()
        texts = reading_text(root)
        self._spoken_errors = set(self._error_texts())
        if self.focused is None or not is_shown(self.focused):
            controls = self.controls()
            self.focused = self._first_focus(controls)
        self.speaker.say(sentences(texts), self.lang, queue=queue)
        if self.focused is not None:
            self.speaker.say(describe(self.focused, self.lang), self.lang, queue=True)
        if self.app.manager.current == "welcome":
            self.speaker.say(_(speech.KEYPAD_HELP, self.lang), self.lang, queue=True)

    def _first_focus(self, controls: list[Widget]) -> Widget | None:
        from screens.widgets import DateField

        for widget in controls:
            if isinstance(widget, TextInput | DateField) and widget.focus:
                return widget
        # The screen's main action first: most patients take it, the others are a move away.
        return self.main_button() or (controls[0] if controls else None)

    def _error_texts(self) -> list[str]:
        from screens.widgets import FieldBox

        out = []
        for widget in self._root().walk(restrict=True):
            if isinstance(widget, FieldBox) and widget.error:
                out.append(str(widget.error))
            elif type(widget).__name__ in ("FieldError", "ErrorBox") and widget.text:
                out.append(str(widget.text))
        return out

    # --- controls and focus -----------------------------------------------------------------
    def _root(self) -> Widget:
        dialogs = [w for w in Window.children if isinstance(w, ModalView)]
        if dialogs:
            return dialogs[0]
        return self.app.manager.current_screen

    def controls(self) -> list[Widget]:
        """Return the controls of the screen (or dialog) on show, in reading order.

        The order is the widget tree's (kv files declare a screen top to bottom, a bottom
        bar from Back to the main action), not positions on screen: a form's lower fields
        may sit under the on-screen keyboard, and a right-to-left layout keeps its logic.
        A control in a list longer than its view counts (moving to it scrolls it into view);
        the rows a RecycleView has made widgets for are put in their data order. A text
        longer than its place (is_text_view) counts too, so that the keys can scroll it.
        """
        root = self._root()
        found = [
            w
            for w in root.walk(restrict=True)
            if (is_control(w) or is_text_view(w)) and is_reachable(w)
        ]
        if not isinstance(root, ModalView) and self.app.top_bar.parent is not None:
            found += [
                w for w in self.app.top_bar.walk(restrict=True) if is_control(w) and is_reachable(w)
            ]
        return _rows_in_data_order(found)

    def move(self, step: int) -> None:
        """Put the focus on the next (1) or previous (-1) control and say it.

        In a RecycleView the focus goes row by row through its data, the rows out of view
        included (scrolled in as the focus reaches them); it enters a list at its first row
        going forward and at its last going back.
        """
        controls = self.controls()
        if not controls:
            return
        self.multitap.commit()
        self._follow_row()
        current = self.focused
        row = self._focus_row if current is not None else None
        if row is not None and not is_reachable(row[0]):
            row = None  # the list is gone (a dialog over it)
        target: Widget | None = None
        if row is not None:  # by index: its widget may be off screen, or show another row
            target = self._recycle_row(row[0], row[1] + step)
            if target is None:  # past either end: the control after (before) the list
                rows = [i for i, w in enumerate(controls) if _row_of(w, row[0])]
                if rows:
                    index = max(rows) if step > 0 else min(rows)
                    target = controls[(index + step) % len(controls)]
        elif current in controls:
            target = controls[(controls.index(current) + step) % len(controls)]
        if target is None:
            target = controls[0] if step > 0 else controls[-1]
        entered = recycle_row(target)
        if entered is not None and (row is None or entered[0] is not row[0]):
            view = entered[0]
            target = self._recycle_row(view, 0 if step > 0 else len(view.data) - 1) or target
        self.set_focus(target)

    def up_down(self, step: int) -> None:
        """Up/Down, keypad 2/8: scroll the text in focus while it has more to show in that
        direction, else move the focus as the other keys do."""
        widget = self.focused
        text = widget is not None and is_text_view(widget) and is_shown(widget)
        if not (text and scroll_text(widget, step)):
            self.move(step)

    def set_focus(self, widget: Widget, *, speak: bool = True) -> None:
        from screens.widgets import DateField

        previous = self.focused
        self.focused = widget
        unfocus = previous is not None and previous is not widget
        if unfocus and isinstance(previous, TextInput | DateField) and previous.focus:
            previous.focus = False
        if isinstance(widget, TextInput | DateField) and not widget.focus:
            widget.focus = True
        self._scroll_to(widget)
        if speak:
            self.say(describe(widget, self.lang))

    def _scroll_to(self, widget: Widget) -> None:
        """Scroll every list the widget is in (innermost first) until all of it is in view."""
        self._reveal_frames = REVEAL_FRAMES
        row = recycle_row(widget)
        if row is not None:
            self._recycle_row(*row)
            widget = row[0]
        self._show_in_form(widget)
        node = widget
        while (view := scroller(node)) is not None:
            if is_recycle_view(view):
                # ScrollView.scroll_to fails on a RecycleView in Kivy 2.3.1 (its layout's
                # _trigger_layout is a method there): the row's band is scrolled in instead.
                _x, y, _w, h = window_rect(node)
                reveal(view, y, h)
            else:
                with contextlib.suppress(Exception):  # a widget outside the view's content
                    view.scroll_to(node, padding=SCROLL_PADDING_DP, animate=False)
            node = view

    def _show_in_form(self, widget: Widget) -> None:
        """A control in a form below its visible area (a button under the fields): the form
        shifts it into view, as it does for the field typed in."""
        from screens.widgets import FormArea

        form = next((n for n in _ancestors(widget) if isinstance(n, FormArea)), None)
        if form is not self._shown_in and self._shown_in is not None:
            self._shown_in.shown = None
        self._shown_in = form
        if form is not None:
            form.shown = widget
            form.place()

    def _recycle_row(self, view: Any, index: int) -> Widget | None:
        """Return the widget of row `index` of a RecycleView, scrolled whole into view
        (the view makes a row's widget only once it shows); None past either end."""
        if not 0 <= index < len(view.data):
            return None
        manager = view.layout_manager
        for _attempt in range(4):  # a row made takes its text's height: the rows move
            view.refresh_views()
            row = view.view_adapter.get_visible_view(index)
            if row is not None and row.parent is not None:
                _x, y, _w, height = window_rect(row)
            elif manager is not None and index < len(manager.view_opts):
                opts = manager.view_opts[index]
                y, height = manager.to_window(*opts["pos"])[1], opts["size"][1]
            else:
                return None
            if not reveal(view, y, height):
                break
        view.refresh_views()
        row = view.view_adapter.get_visible_view(index)
        return row if row is not None and row.parent is not None else None

    def main_button(self) -> Widget | None:
        """Return the screen's main action: a card marked `main`, else its first main button."""
        from screens.widgets import KButton

        top_bar = self.app.top_bar
        controls = [
            widget
            for widget in self.controls()
            if not any(n is top_bar for n in _ancestors(widget))
        ]
        for widget in controls:
            if getattr(widget, "main", False) is True:
                return widget
        for widget in controls:
            if isinstance(widget, KButton) and widget.role == "main":
                return widget
        return None

    def select(self) -> None:
        """Operate the control in focus (press a button, start typing in a field).

        On a digit pad screen the keypad's digits type, so Enter there is the screen's main
        action unless the focus was moved to another control on purpose.
        """
        self._follow_row()
        widget = self.focused
        if self._focus_row is not None and is_reachable(self._focus_row[0]):
            # A row swiped out of view: brought back, and it (not what its widget shows now)
            # is the one pressed.
            widget = self._recycle_row(*self._focus_row) or widget
            if widget is not self.focused:
                self.focused = widget
                self._scroll_to(widget)
        pad = self._numpad()
        if pad is not None and (widget is None or any(n is pad for n in _ancestors(widget))):
            widget = self.main_button()
            if widget is not None:
                self.focused = widget
        if widget is None or not is_shown(widget):
            self.move(1)
            return
        from screens.keyboard import advance
        from screens.widgets import DateField

        self.multitap.commit()
        if isinstance(widget, TextInput | DateField):
            if widget.focus:
                advance(widget)
                Clock.schedule_once(self._follow_kivy_focus, 0)
            else:
                widget.focus = True
            return
        if isinstance(widget, ButtonBehavior):
            screen = self.app.manager.current
            before = reading_text(self._root()) if self.speech_on else []
            widget.trigger_action(duration=0)
            if self.speech_on:
                Clock.schedule_once(lambda _dt: self._after_select(widget, screen, before), 0)

    def _after_select(self, widget: Widget, screen: str, before: list[str]) -> None:
        """The screen stayed (a score, a toggle, an answer shown): say what changed."""
        if self.app.manager.current != screen:
            return
        new = [t for t in reading_text(self._root()) if t not in before]
        if self.focused is widget and is_shown(widget):
            self.say(describe(widget, self.lang))
        if new:
            self.say(sentences(new), queue=True)

    def _follow_kivy_focus(self, *_args: Any) -> None:
        target = self.app.keyboard.target
        if target is not None and target is not self.focused and is_shown(target):
            self.set_focus(target)

    def back(self) -> None:
        """Go back: the screen's Back (or Skip / No) button, else the welcome screen."""
        if isinstance(self._root(), ModalView):
            self.app.keep_session_alive()
            return
        screen = self.app.manager.current_screen
        ids = getattr(screen, "ids", {})
        for name in ("back", "not_me", "skip"):
            button = ids.get(name)
            if button is not None and is_shown(button):
                button.trigger_action(duration=0)
                return
        for widget in screen.walk(restrict=True):
            if isinstance(widget, ButtonBehavior) and getattr(widget, "text", "") == _(
                "Back", self.lang
            ):
                widget.trigger_action(duration=0)
                return
        if screen.name != "welcome":
            self.app.go_home()

    def repeat(self) -> None:
        self.speaker.stop()
        self._read_screen()

    def help(self) -> None:
        lang = self.lang
        self.speaker.say(_(speech.KEYPAD_HELP, lang), lang)
        self.speaker.say(_(speech.KEYBOARD_HELP, lang), lang, queue=True)
        self.speaker.say(_(speech.TYPING_HELP, lang), lang, queue=True)

    def volume(self, step: int) -> None:
        level = self.speaker.volume_up() if step > 0 else self.speaker.volume_down()
        text = _(speech.VOLUME_SAID, self.lang).format(
            level=level + 1, levels=len(speech.VOLUME_LEVELS)
        )
        self.speaker.say(text, self.lang)

    # --- typing -----------------------------------------------------------------------------
    def _typing_target(self) -> Any:
        from screens.widgets import DateField

        widget = self.focused
        if isinstance(widget, TextInput | DateField) and widget.focus:
            return widget
        return None

    def _numpad(self) -> Any:
        from screens.widgets import NumPad

        for widget in self._root().walk(restrict=True):
            if isinstance(widget, NumPad) and is_shown(widget):
                return widget
        return None

    def _keypad_digit(self, digit: str) -> bool:
        """A keypad digit: type it (digit field, PIN pad), a letter (name), or navigate."""
        from screens.widgets import DateField

        target = self._typing_target()
        if target is not None:
            if isinstance(target, DateField) or target.input_type in ("tel", "number"):
                target.insert_text(digit)
                return True
            self._multitap(target, digit)
            return True
        pad = self._numpad()
        if pad is not None:
            pad.press(digit)
            self._echo_pad()
            return True
        actions = {
            "2": lambda: self.up_down(-1),
            "4": lambda: self.move(-1),
            "8": lambda: self.up_down(1),
            "6": lambda: self.move(1),
            "5": self.select,
            "0": self.help,
            "1": lambda: self.volume(-1),
            "3": lambda: self.volume(1),
        }
        action = actions.get(digit)
        if action is not None:
            action()
        return True

    def _multitap(self, target: TextInput, digit: str) -> None:
        """Type (or cycle) a letter by multi-tap and say the letter now on offer."""
        replace, letter = self.multitap.press(digit)
        if not letter:
            return
        # A cycle replaces the letter just typed: one change to say (the letter on offer),
        # not a deletion and a letter, so it is echoed here rather than by the text binding.
        self._multitap_edit = True
        try:
            if replace:
                target.do_backspace()
            text = target.text
            autocap = getattr(target, "autocap", False) and (not text or text[-1] in " -'")
            typed = letter.upper() if autocap else letter
            target.insert_text(typed)
        finally:
            self._multitap_edit = False
        if target is self._watched:
            self._watched_text = str(target.text)
        board = self.app.keyboard
        if board is not None and board.target is target:
            board.shift = False
        if not self.speech_on:
            return
        if target.password:
            self.speaker.beep(self.lang)
        else:
            self.say(speech.spoken_char(typed, self.lang))

    def _star(self) -> None:
        """`*`: delete in a field (leave it when empty), else back."""
        target = self._typing_target()
        self.multitap.commit()
        if target is not None:
            if target.text:
                target.do_backspace()
            else:
                self.move(-1)
            return
        pad = self._numpad()
        if pad is not None and pad.value:
            pad.press("del")
            self._echo_pad()
            return
        self.back()

    def _on_target(self, _board: Any, target: Any) -> None:
        """A field took the on-screen keyboard: follow it with the focus and echo its text."""
        self._watch(target)
        if target is not None and target is not self.focused and is_shown(target):
            self.focused = target
            if self.speech_on:
                self.say(describe(target, self.lang), queue=True)

    def _watch(self, field: Any) -> None:
        """Echo what is typed into `field` from now on (and no longer into the last one)."""
        from screens.widgets import DateField

        if self._watched_binding is not None:
            old, name, uid = self._watched_binding
            old.unbind_uid(name, uid)
            self._watched_binding = None
        self._watched = field
        self._watched_text = str(getattr(field, "text", "") or "") if field else ""
        if field is not None:
            name = "digits" if isinstance(field, DateField) else "text"
            uid = field.fbind(name, self._on_watched_text)
            self._watched_binding = (field, name, uid)

    def _on_watched_text(self, *_args: Any) -> None:
        if not self._multitap_edit:
            self._echo_typing()

    def _echo_typing(self) -> None:
        """Say what was just typed into the field in focus (a letter, a deletion)."""
        from screens.widgets import DateField

        field = self._watched
        if field is None:
            return
        text = str(getattr(field, "text", "") or "")
        old = self._watched_text
        if text == old:
            return
        self._watched_text = text
        if not self.speech_on:
            return
        lang = self.lang
        if getattr(field, "password", False):
            self.speaker.beep(lang)
            return
        if text.startswith(old) and len(text) == len(old) + 1:
            self.say(speech.spoken_char(text[-1], lang))
            if isinstance(field, DateField) and (words := field.in_words(lang)):
                self.say(words, queue=True)  # the date complete: read back in words
            elif isinstance(field, DateField) and _month_just_typed(field, old):
                # 03 or 12: the patient hears at once which month the digits were taken as
                # (the order of day and month is the language's), as the screen shows it.
                self.say(field.month_in_words(lang), queue=True)
        elif old.startswith(text) and len(old) == len(text) + 1:
            self.say(_(DELETED, lang).format(char=speech.spoken_char(old[-1], lang)))
        elif len(text) == len(old):  # a letter replaced (a selection typed over)
            self.say(speech.spoken_char(text[-1], lang) if text else "")
        elif isinstance(field, DateField):  # filled in at once: the date, not a number
            self.say(field.in_words(lang) or " ".join(text))
        else:
            self.say(text)

    # --- events -----------------------------------------------------------------------------
    def _on_touch(self, *_args: Any) -> None:
        self._last_activity = Clock.get_time()
        self._hinted = False

    def on_key_down(
        self, _window: Any, key: int, _scancode: int, text: str | None, modifiers: list[str]
    ) -> bool:
        """Handle navigation keys before a field or the window does."""
        self._last_activity = Clock.get_time()
        self._hinted = False
        self.app.idle.touch()
        handled = self._on_key(key, text, modifiers)
        # SDL follows a printable key with its text: it must not type into a field too.
        self._swallow_text = text if handled and text and text.isprintable() else None
        return handled

    def on_textinput(self, _window: Any, text: str) -> bool:
        swallow, self._swallow_text = self._swallow_text, None
        return swallow is not None and text == swallow

    def _on_key(self, key: int, text: str | None, modifiers: list[str]) -> bool:
        if self.app.still_there_visible:
            # Any key only keeps the session: the patient may not see what it would do.
            self.app.keep_session_alive()
            self.say(_(KEPT, self.lang))
            return True
        keypad = key in KEYPAD_CODES or text in ("*", "#")
        if keypad and not self.speech_on:
            self.turn_speech_on()
            return True
        if key in KP_DIGITS:
            return self._keypad_digit(KP_DIGITS[key])
        if key == KP_MULTIPLY or text == "*":
            self._star()
            return True
        if key in (KP_DIVIDE, F2) or text == "#":
            self.repeat()
            return True
        if key in (KP_PLUS, PAGE_UP):
            self.volume(1)
            return True
        if key in (KP_MINUS, PAGE_DOWN):
            self.volume(-1)
            return True
        if key == F1:
            self.help()
            return True
        typing = self._typing_target()
        if key == TAB:
            self.move(-1 if "shift" in modifiers else 1)
            return True
        if key in (UP, DOWN):
            self.up_down(-1 if key == UP else 1)
            return True
        if key in (LEFT, RIGHT) and typing is None:
            self.move(-1 if key == LEFT else 1)
            return True
        if key in (ENTER, KP_ENTER):
            self.multitap.commit()
            self.select()
            return True
        if key == SPACE and typing is None:
            self.select()
            return True
        if key == ESCAPE:
            self.back()
            return True
        if typing is None and text and text.isdigit():
            pad = self._numpad()
            if pad is not None:
                pad.press(text)
                self._echo_pad()
                return True
        if typing is None and key == BACKSPACE:
            pad = self._numpad()
            if pad is not None:
                pad.press("del")
                self._echo_pad()
                return True
        return False

    def _echo_pad(self) -> None:
        """Say a digit typed on a digit pad; a PIN's digits only beep."""
        pad = self._numpad() if self.speech_on else None
        value = str(pad.value) if pad is not None else ""
        old, self._pad_value = self._pad_value, value
        if pad is None or value == old:
            return
        lang = self.lang
        if pad.masked:
            self.speaker.beep(lang)
        elif value.startswith(old) and len(value) == len(old) + 1:
            self.say(value[-1])
        elif old.startswith(value) and len(old) == len(value) + 1:
            self.say(_(DELETED, lang).format(char=old[-1]))

    def _tick(self, _dt: float) -> None:
        self._echo_pad()  # digits tapped on the screen's pad (keys echo at once)
        now = Clock.get_time()
        app = self.app
        if app.still_there_visible:
            if not self._still_there_said:
                self._still_there_said = True
                self.say(_(speech.STILL_THERE, self.lang).format(seconds=app.idle_seconds_left))
        else:
            self._still_there_said = False
        if self.speech_on:
            errors = self._error_texts()
            new = [e for e in errors if e not in self._spoken_errors]
            self._spoken_errors = set(errors)
            if new:
                self.say(sentences(new))
        elif (
            not self._hinted
            and app.manager.current == "welcome"
            and app.session.is_empty()
            and now - self._last_activity >= HINT_AFTER_SECONDS
        ):
            self._hinted = True
            for code in [self.lang, *[c for c in app.languages if c != self.lang]]:
                self.speaker.say(_(speech.START_HINT, code), code, queue=True)

    def _draw_ring(self, _dt: float) -> None:
        self._follow_row()
        widget = self.focused
        if self._focus_row is not None and widget is not None:
            row = recycle_row(widget)
            if row is None or row[0] is not self._focus_row[0] or row[1] != self._focus_row[1]:
                widget = None  # the row in focus is scrolled away; its old widget shows another
        if self._reveal_frames > 0:
            self._reveal_frames -= 1
            if widget is not None and is_reachable(widget) and not fully_in_view(widget):
                self._scroll_to(widget)
                self._reveal_frames = 0  # once: a layout that keeps moving is not chased
        if widget is None or not is_shown(widget):
            self._ring_outer.rectangle = (0, 0, 0, 0)
            self._ring_inner.rectangle = (0, 0, 0, 0)
            return
        x, y, w, h = window_rect(widget)
        gap = dp(3)
        self._ring_outer.rectangle = (x - gap, y - gap, w + 2 * gap, h + 2 * gap)
        self._ring_inner.rectangle = (x - gap, y - gap, w + 2 * gap, h + 2 * gap)
