"""The base class of every kiosk screen: activation hooks and one way to forget a patient."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty
from kivy.uix.screenmanager import Screen
from kivy.uix.textinput import TextInput

from kiosk.facade import KioskFacade
from kiosk.i18n import _
from screens.widgets import DateField, FormArea  # its kv rules load before this module's

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def load_kv(module_file: str) -> None:
    """Load the kv file that sits next to a screen module (once)."""
    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)


class KioskScreen(Screen):
    """A screen that resets what a patient entered the same way everywhere.

    Subclasses list in `patient_fields` the Kivy properties that hold anything a patient
    entered or was shown; `reset()` puts them back to their defaults and empties every text
    field (and its undo history) in the screen's widget tree.
    """

    patient_fields: tuple[str, ...] = ()
    #: Field name -> msgid of the error shown right under that field.
    errors = DictProperty({})
    #: True from a submit's first tap until the screen is left (or the submit failed).
    busy = BooleanProperty(False)
    #: msgid of the key that ends the typing on this screen (Enter on the last field).
    enter_key_msgid = "Next"
    #: A short screen hides the top bar for this screen (one screen of many questions).
    full_height = False

    @property
    def app(self) -> Any:
        return App.get_running_app()

    @property
    def kiosk(self) -> KioskFacade:
        """Return the kiosk core: every domain call a screen makes goes through this."""
        kiosk: KioskFacade = self.app.kiosk
        return kiosk

    def tr(self, msgid: str) -> str:
        """Translate into the language on screen."""
        return _(msgid, self.app.lang)

    # --- Screen events -> hooks ----------------------------------------------------------
    def on_pre_enter(self, *args: Any) -> None:
        self.busy = False
        self.errors = {}
        self.on_activate()
        # Place the forms before the first frame shows the screen: a form placed while the
        # screen was away (or never) would be drawn, and tapped, where it was for a frame.
        for widget in self.walk(restrict=True):
            if isinstance(widget, FormArea):
                widget.place_before_frame()

    def on_leave(self, *args: Any) -> None:
        # A focused field keeps the keyboard up over the next screen.
        for field in self.typing_fields():
            field.focus = False
        self.busy = False
        self.on_deactivate()

    def on_activate(self) -> None:
        """Prepare the screen each time it is shown."""

    def on_deactivate(self) -> None:
        """Tidy up each time the screen is left."""

    # --- forgetting ----------------------------------------------------------------------
    def text_inputs(self) -> list[TextInput]:
        return [w for w in self.walk(restrict=True) if isinstance(w, TextInput)]

    def typing_fields(self) -> list[Any]:
        """Return the fields typed on the keyboard (text and date), top to bottom."""
        return [w for w in self.walk(restrict=True) if isinstance(w, TextInput | DateField)]

    # --- Enter on the last field, errors, one record per tap ---------------------------------
    def enter_msgid(self) -> str:
        """Return what the keyboard's Enter key says on the last field of this screen."""
        return self.enter_key_msgid

    def on_enter_key(self) -> None:
        """Enter on the last field: the screen's main action (none by default)."""

    def set_error(self, field_name: str, msgid: str) -> None:
        """Show an error under one field ("" under the action bar)."""
        self.errors = {**self.errors, field_name: msgid}

    def clear_error(self, field_name: str) -> None:
        """Take a field's error away (the patient is fixing it)."""
        if field_name in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != field_name}

    def error(self, errors: dict[str, str], field_name: str, lang: str) -> str:
        """Return the translated error of one field (kv binds `errors` and `lang`)."""
        msgid = errors.get(field_name, "")
        return _(msgid, lang) if msgid else ""

    def is_leaving(self) -> bool:
        """Tell whether this screen is no longer the one on show."""
        manager = self.manager
        return manager is None or manager.current != self.name

    def submit_once(self, action: Callable[[], bool | None]) -> None:
        """Run a submit at most once per visit of the screen.

        A double tap, a tap while the commit is still running, or a tap on a screen that is
        already being left does nothing: one tap, one record. `action` returns False when
        it stopped on an error the patient can fix, which allows the next tap.
        """
        if self.busy or self.is_leaving():
            return
        self.busy = True
        try:
            ok = action()
        except Exception:
            self.busy = False
            raise
        if ok is False and not self.is_leaving():
            self.busy = False

    def show_error(self, error: Exception, fields: dict[str, str] | None = None) -> bool:
        """Put a kiosk error next to its field (or under the form); return False."""
        from kiosk.facade import KioskError

        field_name = getattr(error, "field_name", None) if isinstance(error, KioskError) else None
        target = (fields or {}).get(field_name or "", "")
        self.set_error(target, self.explain(error))
        return False

    def reset(self) -> None:
        """Forget everything a patient entered or was shown on this screen."""
        for name in self.patient_fields:
            prop = self.property(name)
            setattr(self, name, prop.defaultvalue)
        self.errors = {}
        self.busy = False
        for field in self.text_inputs():
            field.focus = False
            field.text = ""
            field.reset_undo()
        for widget in self.walk(restrict=True):
            if widget is not self and hasattr(widget, "reset") and callable(widget.reset):
                widget.reset()

    def go(self, name: str) -> None:
        """Show another screen."""
        self.app.show(name)

    def explain(self, error: Exception) -> str:
        """Return the msgid to show for a kiosk error (a generic one for anything else)."""
        from kiosk.facade import N_, KioskError

        if isinstance(error, KioskError):
            return error.message
        return N_("Sorry, something went wrong. Please see the front desk.")
