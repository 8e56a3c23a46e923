"""Welcome: the three things a patient can do, in their language, each with an icon."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from screens import language  # noqa: F401 - WelcomeLanguages (the row of own names)
from screens.base import KioskScreen, load_kv


class Icon(Widget):
    """A simple line icon drawn with Kivy graphics: check-in, question or rating."""

    kind = StringProperty("checkin")
    inverse = BooleanProperty(False)  # light lines on the accent colour


class ChoiceCard(ButtonBehavior, BoxLayout):
    """A large card with an icon and a label; `main` for the most common choice."""

    text = StringProperty("")
    font_size = NumericProperty(28)
    icon = StringProperty("checkin")
    main = BooleanProperty(False)


class WelcomeScreen(KioskScreen):
    """Check in, ask a question, rate my visit."""


load_kv(__file__)
