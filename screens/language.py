"""Choosing a language and asking for an interpreter: shared by the welcome screen, the top
bar and every flow.

Each language's own name is drawn in its own font (`app.font_of`), so "العربية" and "简体中文"
show real glyphs on a screen that is in English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk import i18n
from screens.discard import discard
from screens.widgets import KButton


class OwnNameButton(KButton):
    """A language in its own name and script; switches the screens or picks an interpreter."""

    lang = StringProperty("")
    own_name = StringProperty("")
    #: Shown in the accent colour while it is the screens' language.
    highlight = BooleanProperty(True)

    def on_lang(self, _instance: object, lang: str) -> None:
        self.own_name = i18n.native_name(lang)
        self._own_font()

    def on_font_name(self, _instance: object, _value: str) -> None:
        # KButton's rule gives every button the screens' font; a language's own name keeps
        # the font of its own script whatever the screens show. Set it once this change
        # has reached every observer, or the label would keep the value being dispatched.
        Clock.schedule_once(lambda _dt: self._own_font(), -1)

    def _own_font(self) -> None:
        app = App.get_running_app()
        if app is None or not self.lang:
            return
        wanted = app.font_of(self.lang)
        if self.font_name != wanted:  # type: ignore[has-type]
            self.font_name = wanted


class WelcomeLanguages(BoxLayout):
    """The welcome screen's row: every offered language in its own name, then the
    interpreter button."""

    languages = ListProperty([])

    def on_languages(self, _instance: object, codes: list[str]) -> None:
        for child in [c for c in self.children if isinstance(c, OwnNameButton)]:
            self.remove_widget(child)
            discard(child)
        for index, code in enumerate(codes):
            button = OwnNameButton(lang=code, fit=True, size_hint_y=1)
            button.bind(on_release=self.choose)
            self.add_widget(button, index=len(self.children) - index)

    def choose(self, button: OwnNameButton) -> None:
        """Switch the screens to the language tapped."""
        App.get_running_app().set_language(button.lang)


class InterpreterButton(KButton):
    """ "I need an interpreter": opens the picker of interpreter languages."""

    def on_release(self) -> None:
        LanguagePicker(mode="interpreter").open(animation=False)


class LanguageMenuButton(KButton):
    """The top bar's language switch when there are too many languages for a row of codes."""

    def on_release(self) -> None:
        LanguagePicker(mode="screen").open(animation=False)


class LanguagePicker(ModalView):
    """A grid of languages in their own names; `mode` is "screen" or "interpreter"."""

    mode = StringProperty("screen")
    languages = ListProperty([])
    #: The interpreter language asked for (the view then says so), "" while choosing.
    requested = StringProperty("")
    failed = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        app = App.get_running_app()
        if self.mode == "interpreter":
            # The patient's screen language first, then the clinic's, then the rest.
            first = [app.lang, *app.languages]
            rest = [code for code in i18n.INTERPRETER_LANGUAGES if code not in first]
            self.languages = [c for c in dict.fromkeys([*first, *rest]) if c != "en"] + (
                ["en"] if app.lang != "en" else []
            )
        else:
            self.languages = list(app.languages)
        grid = self.ids.grid
        for code in self.languages:
            button = OwnNameButton(lang=code, highlight=self.mode == "screen")
            button.bind(on_release=self.choose)
            grid.add_widget(button)

    def on_dismiss(self) -> None:
        # A new picker each time: this one's rules must not outlive it (screens.discard),
        # least of all through the language switch that follows a choice.
        discard(self)

    def choose(self, button: OwnNameButton) -> None:
        """Switch the screens' language, or ask for an interpreter of that language."""
        app = App.get_running_app()
        if self.mode == "screen":
            self.dismiss(animation=False)
            app.set_language(button.lang)
            return
        self.failed = not app.request_interpreter(button.lang)
        self.requested = button.lang


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
