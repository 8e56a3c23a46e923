"""The kiosk's own on-screen keyboard: large keys, Shift, accents, a digit pad, Enter = next.

It replaces Kivy's stock VKeyboard (Config `keyboard_mode = system`): it is docked under the
screen in the app's layout, so it takes room instead of covering it, and a form shifts its
content so that the field being typed in sits above it (`screens.widgets.FormArea`).

A field says which keys it needs with TextInput's `input_type`: `tel` and `number` get the
digit pad, anything else the letters. The digit pad's free bottom-left slot takes the
patient back to the field before (on a short screen that field is out of sight while the pad
is up: the form shows only the field typed in). Layouts are data (kiosk.keyboard_layouts): add
a language to `LAYOUTS` (extra letters on the rows, the accented letters on the accents page)
and it is offered at once. A language with a script of its own (Russian, Arabic) starts on
its own letters; the switch key goes to the Latin letters and back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import (
    BooleanProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import FocusBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button

# The layouts are data, in the core (importable without Kivy); re-exported for the screens.
from kiosk.keyboard_layouts import (
    BACKSPACE,
    ENTER,
    LATIN,
    LAYOUTS,
    PREVIOUS,
    SHIFT,
    SPACE,
    SWITCH,
    TO_ACCENTS,
    TO_LETTERS,
    TO_SYMBOLS,
    KeyboardLayout,
    key_rows,
    layout_for,
    layouts_for,
)
from screens.discard import discard_children

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

__all__ = [
    "BACKSPACE",
    "ENTER",
    "LATIN",
    "LAYOUTS",
    "PREVIOUS",
    "SHIFT",
    "SPACE",
    "SWITCH",
    "TO_ACCENTS",
    "TO_LETTERS",
    "TO_SYMBOLS",
    "KeyboardLayout",
    "KeyButton",
    "KioskKeyboard",
    "key_rows",
    "layout_for",
    "layouts_for",
    "TypingScreen",
    "owner_screen",
    "next_field",
    "previous_field",
    "labelled_box",
    "advance",
    "keyboard",
]


class KeyButton(Button):
    """One key; `key` is the character it types or the name of a special key."""

    key = StringProperty("")
    keyboard = ObjectProperty(None, allownone=True)
    role = OptionProperty("char", options=("char", "special", "enter", "previous", "blank"))

    def on_texture_size(self, _instance: Any, size: Any) -> None:
        # The previous key names a field ("Back to: Your last name"): in a long language it
        # takes a smaller font rather than lines outside the key (one step per frame).
        font_size = float(self.font_size)  # type: ignore[has-type]
        if self.role == "previous" and size[1] > self.height - dp(4) and font_size > sp(9):
            self.font_size = max(sp(9), font_size * 0.9)


class KioskKeyboard(BoxLayout):
    """The docked keyboard: shown while a field has the focus, typing into that field."""

    target = ObjectProperty(None, allownone=True)
    mode = OptionProperty("letters", options=("letters", "accents", "symbols", "digits"))
    shift = BooleanProperty(False)
    lang = StringProperty("en")
    #: Which of the language's layouts is shown: 0 its own script's, 1 the Latin one.
    layout_index = NumericProperty(0)
    visible = BooleanProperty(False)
    enter_label = StringProperty("")
    #: The label of the field before the target (the previous key says where it goes).
    previous_label = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rebuild = Clock.create_trigger(lambda _dt: self.build_keys(), -1)
        self._hide = Clock.create_trigger(self._hide_if_unfocused, 0)
        for name in ("mode", "lang", "target", "layout_index"):
            self.fbind(name, self._rebuild)
        self.fbind("lang", self._on_lang)
        self._built_for: tuple[str, str, str, bool, int] | None = None
        self._previous_box: Any = None  # the FieldBox whose label the previous key shows
        #: The layout the patient chose with the switch key (kept from field to field).
        self._chosen_index = 0

    # --- which letters -------------------------------------------------------------------
    def layout(self) -> KeyboardLayout:
        """Return the layout shown now."""
        return layout_for(self.lang, int(self.layout_index))

    def reset_layout(self) -> None:
        """Go back to the language's own letters (a new language, a new patient)."""
        self._chosen_index = 0
        self.layout_index = 0

    def _on_lang(self, *_args: Any) -> None:
        self.reset_layout()
        if self.mode == TO_ACCENTS and not self.layout().accents:
            self.mode = TO_LETTERS

    def _index_for(self, field: Any) -> int:
        """Return the layout a field starts on: the patient's choice; Latin for an e-mail."""
        offered = layouts_for(self.lang)
        if getattr(field, "input_type", "text") == "mail" and LATIN in offered:
            return offered.index(LATIN)
        return self._chosen_index % len(offered)

    # --- which field -----------------------------------------------------------------------
    def attach(self, field: Any) -> None:
        """Type into `field` (it just got the focus)."""
        self.target = field
        input_type = getattr(field, "input_type", "text")
        self.mode = "digits" if input_type in ("tel", "number", "datetime") else "letters"
        self.layout_index = self._index_for(field)
        self.shift = self._auto_shift(field)
        self.enter_label = self._enter_label(field)
        self._follow_previous_label(field)
        self.visible = True
        self.build_keys()

    def detach(self, field: Any) -> None:
        """Stop typing into `field` (it lost the focus); hide if no other field took it."""
        if self.target is field:
            self._hide()

    def _hide_if_unfocused(self, *_args: Any) -> None:
        target = self.target
        if target is not None and getattr(target, "focus", False):
            return
        self.target = None
        self.visible = False

    def _auto_shift(self, field: Any) -> bool:
        """Start a capital where a name or a sentence starts (in a script with capitals)."""
        if not getattr(field, "autocap", False) or not self.layout().cased:
            return False
        text = getattr(field, "text", "")
        return not text or text[-1] in " -'"

    def _enter_label(self, field: Any) -> str:
        screen = owner_screen(field)
        if screen is not None and next_field(screen, field) is None:
            return screen.enter_msgid()
        return "Next"

    def previous(self) -> Any:
        """Return the field before the one typed in (None on a screen's first field)."""
        target = self.target
        screen = owner_screen(target) if target is not None else None
        return previous_field(screen, target) if screen is not None else None

    def _follow_previous_label(self, field: Any) -> None:
        """Show the label of the field before `field` on the previous key, in every language
        (the label's own kv rule translates it: follow it rather than translate again)."""
        screen = owner_screen(field)
        before = previous_field(screen, field) if screen is not None else None
        box = labelled_box(before) if before is not None else None
        if box is not self._previous_box:
            if self._previous_box is not None:
                self._previous_box.funbind("label", self._on_previous_label)
            if box is not None:
                box.fbind("label", self._on_previous_label)
            self._previous_box = box
        self.previous_label = str(box.label) if box is not None else ""

    def _on_previous_label(self, _box: Any, label: str) -> None:
        self.previous_label = label

    # --- keys --------------------------------------------------------------------------------
    def build_keys(self) -> None:
        """(Re)make the key rows for the current page and language."""
        input_type = getattr(self.target, "input_type", "text")
        has_previous = self.previous() is not None
        index = int(self.layout_index)
        wanted = (self.mode, self.lang, input_type, has_previous, index)
        if wanted == self._built_for:
            return
        self._built_for = wanted
        rows_box = self.ids.rows
        # The old keys' rules stay bound to this keyboard and the app until the collector
        # frees them, and may then fail mid-update (screens.discard): unbind them now.
        discard_children(rows_box)
        switch = len(layouts_for(self.lang)) > 1
        for row in key_rows(self.layout(), self.mode, input_type, has_previous, switch):
            box = BoxLayout(spacing=rows_box.spacing)
            for key in row:
                box.add_widget(self._make_key(key))
            rows_box.add_widget(box)

    def _make_key(self, key: str) -> KeyButton:
        role = "char"
        weight = 1.0
        if key == "":
            role = "blank"
        elif key == ENTER:
            role, weight = "enter", 2.0 if self.mode != "digits" else 1.0
        elif key == PREVIOUS:
            role = "previous"
        elif key in (SHIFT, BACKSPACE, TO_LETTERS, TO_ACCENTS, TO_SYMBOLS, SWITCH):
            role, weight = "special", 1.5 if self.mode != "digits" else 1.0
        elif key == SPACE:
            weight = 4.0 if self.mode != "digits" else 1.0
        return KeyButton(key=key, keyboard=self, role=role, size_hint_x=weight)

    def all_keys(self) -> list[KeyButton]:
        """Return every key on the page shown."""
        return [w for w in self.walk(restrict=True) if isinstance(w, KeyButton)]

    def key_for(self, key: str) -> KeyButton | None:
        """Return the key that types `key` (or the special key of that name) on this page."""
        for button in self.all_keys():
            if button.key == key and button.role != "blank":
                return button
        return None

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos) or not self.visible:
            return False
        # A touch on the keyboard must not take the focus away from the field typed in.
        FocusBehavior.ignored_touch.append(touch)
        super().on_touch_down(touch)
        return True

    def press(self, key: str) -> None:
        """Act on one key."""
        target = self.target
        if target is None:
            return
        if key == SHIFT:
            self.shift = not self.shift
        elif key in (TO_LETTERS, TO_ACCENTS, TO_SYMBOLS):
            self.mode = key
        elif key == SWITCH:
            self._chosen_index = (int(self.layout_index) + 1) % len(layouts_for(self.lang))
            self.layout_index = self._chosen_index
            self.mode = TO_LETTERS
            self.shift = self._auto_shift(target)
        elif key == BACKSPACE:
            if getattr(target, "_selection", False):
                target.delete_selection()
            else:
                target.do_backspace()
        elif key == ENTER:
            advance(target)
        elif key == PREVIOUS:
            before = self.previous()
            if before is not None:
                before.focus = True  # the keys change to that field's (attach)
        else:
            char = " " if key == SPACE else key
            if self.shift and self.layout().cased:
                char = char.upper()
            if getattr(target, "_selection", False):  # typing replaces a selection
                target.delete_selection()
            target.insert_text(char)
            self.shift = self._auto_shift(target) if char in " -'" else False
            if self.mode == TO_ACCENTS:  # one accented letter, then back to the letters
                self.mode = TO_LETTERS
        # Of the field typed in now: Enter may have moved on to another one.
        self.enter_label = self._enter_label(self.target) if self.target is not None else ""

    def label_for(
        self,
        key: str,
        shift: bool,
        enter_label: str,
        lang: str,
        previous_label: str = "",
        layout_index: int = 0,
    ) -> str:
        """Return the text printed on a key (of the language's layout number `layout_index`)."""
        from kiosk.i18n import _

        layout = layout_for(lang, layout_index)
        # Latin keys for a language written in another script say so on the space bar.
        foreign = layout.latin and not layout_for(lang).latin or lang not in LAYOUTS
        names = {
            PREVIOUS: _("Back to: {field}", lang).format(field=previous_label),
            SHIFT: "⇧",
            BACKSPACE: "⌫",
            SPACE: _("space · Latin letters A-Z", lang) if foreign else _("space", lang),
            TO_LETTERS: layout.sample,
            TO_ACCENTS: layout.accents_sample,
            TO_SYMBOLS: "123",
            # The script the key goes to, in its own letters ("abc" on the Russian letters).
            SWITCH: layout_for(lang, layout_index + 1).sample,
            ENTER: _(enter_label or "Next", lang),
        }
        if key in names:
            return names[key]
        return key.upper() if shift and layout.cased else key


@runtime_checkable
class TypingScreen(Protocol):
    """What the keyboard needs of a screen (screens.base.KioskScreen has it).

    A protocol rather than the class itself: screens.base imports the widgets, which import
    this module.
    """

    def typing_fields(self) -> list[Any]: ...

    def enter_msgid(self) -> str: ...

    def on_enter_key(self) -> None: ...


def owner_screen(widget: Any) -> TypingScreen | None:
    """Return the kiosk screen a widget is on (None if it is on none)."""
    parent = widget
    while parent is not None:
        if isinstance(parent, TypingScreen):
            return parent
        parent = parent.parent if parent.parent is not parent else None
    return None


def next_field(screen: Any, field: Any) -> Any:
    """Return the field after `field` on its screen (None at the last one)."""
    fields = [f for f in screen.typing_fields() if not f.disabled]
    if field not in fields:
        return None
    index = fields.index(field)
    return fields[index + 1] if index + 1 < len(fields) else None


def previous_field(screen: Any, field: Any) -> Any:
    """Return the field before `field` on its screen (None at the first one)."""
    fields = [f for f in screen.typing_fields() if not f.disabled]
    if field not in fields:
        return None
    index = fields.index(field)
    return fields[index - 1] if index > 0 else None


def labelled_box(field: Any) -> Any:
    """Return the box that labels a field (screens.widgets.FieldBox), if it has one.

    Found by its `labels_field` mark: screens.widgets imports this module, so this one does
    not import it back (tests/contract forbids the cycle, lazy imports included).
    """
    node = field.parent
    while node is not None and node is not node.parent:
        if getattr(node, "labels_field", False):
            return node
        node = node.parent
    return None


def advance(field: Any) -> None:
    """Enter: go to the next field, or after the last one do the screen's main action."""
    screen = owner_screen(field)
    if screen is None:
        field.focus = False
        return
    following = next_field(screen, field)
    if following is not None:
        following.focus = True
        return
    field.focus = False
    screen.on_enter_key()


def keyboard() -> KioskKeyboard | None:
    """Return the app's keyboard (None outside the running kiosk app)."""
    app = App.get_running_app()
    return getattr(app, "keyboard", None)
