"""Welcome: the three things a patient can do, in their language."""

from __future__ import annotations

from screens.base import KioskScreen, load_kv


class WelcomeScreen(KioskScreen):
    """Check in, ask a question, rate my visit."""


load_kv(__file__)
