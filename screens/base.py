"""The base class of every kiosk screen: activation hooks and one way to forget a patient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen
from kivy.uix.textinput import TextInput

import screens.widgets  # noqa: F401  (registers the shared widget rules first)
from kiosk.i18n import _

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

    @property
    def app(self) -> Any:
        return App.get_running_app()

    @property
    def kiosk(self) -> Any:
        return self.app.kiosk

    def tr(self, msgid: str) -> str:
        """Translate into the language on screen."""
        return _(msgid, self.app.lang)

    # --- Screen events -> hooks ----------------------------------------------------------
    def on_pre_enter(self, *args: Any) -> None:
        self.on_activate()

    def on_leave(self, *args: Any) -> None:
        # A focused field keeps the docked keyboard up over the next screen.
        for field in self.text_inputs():
            field.focus = False
        self.on_deactivate()

    def on_activate(self) -> None:
        """Prepare the screen each time it is shown."""

    def on_deactivate(self) -> None:
        """Tidy up each time the screen is left."""

    # --- forgetting ----------------------------------------------------------------------
    def text_inputs(self) -> list[TextInput]:
        return [w for w in self.walk(restrict=True) if isinstance(w, TextInput)]

    def reset(self) -> None:
        """Forget everything a patient entered or was shown on this screen."""
        for name in self.patient_fields:
            prop = self.property(name)
            setattr(self, name, prop.defaultvalue)
        for field in self.text_inputs():
            field.focus = False
            field.text = ""
            field.reset_undo()
        for widget in self.walk(restrict=True):
            if widget is not self and hasattr(widget, "reset") and callable(widget.reset):
                widget.reset()

    def focus_next(self, field: TextInput) -> None:
        """Move the typing to another field (Enter on the keyboard), on the next frame.

        The field that was validated lets go of the keyboard first; the next one takes it.
        """
        Clock.schedule_once(lambda _dt: setattr(field, "focus", True), 0)

    def go(self, name: str) -> None:
        """Show another screen."""
        self.app.show(name)

    def explain(self, error: Exception) -> str:
        """Return the msgid to show for a kiosk error (a generic one for anything else)."""
        from kiosk.facade import N_, KioskError

        if isinstance(error, KioskError):
            return error.message
        return N_("Sorry, something went wrong. Please see the front desk.")
