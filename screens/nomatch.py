"""No appointment found: try again, register as a walk-in, or see the front desk."""

from __future__ import annotations

from screens.base import KioskScreen, load_kv


class NoMatchScreen(KioskScreen):
    """Offer the ways forward when the lookup found nothing."""

    def walk_in(self) -> None:
        """Register without an appointment, keeping what was already entered."""
        self.app.show("walkin")


load_kv(__file__)
