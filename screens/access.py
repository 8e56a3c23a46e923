"""Keys instead of touch, speech instead of sight: one focus manager for every screen.

It walks the widget tree of the screen on show (and of an open dialog) for the controls a
patient can use (buttons, cards, faces, fields), orders them as they read (top to bottom,
then in the reading direction), draws a focus ring round the one in focus on the Window,
and turns keys into moves, selections and typing. No screen needs its own key handling.

Keys (docs/accessibility.md):
- 12-key keypad (keypad digits, `*`, `#`, Enter): 2/4 previous, 8/6 next, 5 or Enter
  select, `*` back, `#` repeat, 0 help, 1/3 volume down/up. In a name field the digits
  type letters by multi-tap (as on a phone), `*` deletes; in a digit field they type digits.
- Keyboard: Tab / Shift+Tab and the arrows move, Enter (or Space on a button) selects,
  Escape goes back; F1 help, F2 repeat, Page Up/Down volume.
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


def is_control(widget: Widget) -> bool:
    """Tell whether a widget is something a patient operates (not a label)."""
    from screens.keyboard import KeyButton
    from screens.widgets import DateField

    if isinstance(widget, KeyButton):
        return False  # the on-screen keyboard: keys type through multi-tap or a real keyboard
    return isinstance(widget, ButtonBehavior | TextInput | DateField)


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
        """
        root = self._root()
        found = [w for w in root.walk(restrict=True) if is_control(w) and is_shown(w)]
        if not isinstance(root, ModalView) and self.app.top_bar.parent is not None:
            found += [
                w for w in self.app.top_bar.walk(restrict=True) if is_control(w) and is_shown(w)
            ]
        return found

    def move(self, step: int) -> None:
        """Put the focus on the next (1) or previous (-1) control and say it."""
        controls = self.controls()
        if not controls:
            return
        self.multitap.commit()
        if self.focused in controls:
            index = (controls.index(self.focused) + step) % len(controls)
        else:
            index = 0 if step > 0 else len(controls) - 1
        self.set_focus(controls[index])

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
        for node in _ancestors(widget):
            if type(node).__name__ in ("ScrollView", "RecycleView"):
                with contextlib.suppress(Exception):  # a widget outside the view's content
                    node.scroll_to(widget, padding=dp(8), animate=False)
                return

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
        widget = self.focused
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
            "2": lambda: self.move(-1),
            "4": lambda: self.move(-1),
            "8": lambda: self.move(1),
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
        if key in (UP, DOWN) or (key in (LEFT, RIGHT) and typing is None):
            self.move(-1 if key in (UP, LEFT) else 1)
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
        widget = self.focused
        if widget is None or not is_shown(widget):
            self._ring_outer.rectangle = (0, 0, 0, 0)
            self._ring_inner.rectangle = (0, 0, 0, 0)
            return
        x, y, w, h = window_rect(widget)
        gap = dp(3)
        self._ring_outer.rectangle = (x - gap, y - gap, w + 2 * gap, h + 2 * gap)
        self._ring_inner.rectangle = (x - gap, y - gap, w + 2 * gap, h + 2 * gap)
