"""Idle reset and the per-patient session, without Kivy so they test on their own.

The app feeds `IdleTimer.touch()` on every touch or key and calls `tick()` a few times a
second; `tick` says whether the kiosk is in use, showing the "Still there?" countdown, or due
to go back to the welcome screen. `PatientSession` holds what the current patient's flow
needs between screens; the app replaces it with a fresh one at every reset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class IdlePhase(StrEnum):
    IN_USE = "in_use"  # someone touched the screen recently
    COUNTDOWN = "countdown"  # idle long enough: show "Still there?" with the seconds left
    EXPIRED = "expired"  # countdown ran out: clear everything, back to welcome
    RESTING = "resting"  # already at rest on the welcome screen: nothing to clear


@dataclass
class IdleTimer:
    """Decide from the time of the last touch whether to warn or to reset."""

    timeout_seconds: float
    countdown_seconds: float
    now: Callable[[], float] = time.monotonic
    last_touch: float = field(default=0.0)
    armed: bool = False  # only a session in progress can expire

    def __post_init__(self) -> None:
        self.last_touch = self.now()

    def touch(self) -> None:
        """Record activity: cancels a countdown and (re)arms the timer."""
        self.last_touch = self.now()
        self.armed = True

    def disarm(self) -> None:
        """Stop watching (the kiosk is back at the welcome screen with nothing entered)."""
        self.armed = False
        self.last_touch = self.now()

    def seconds_left(self) -> float:
        """Return the seconds left in the countdown (the full countdown while in use)."""
        idle_for = self.now() - self.last_touch
        if idle_for < self.timeout_seconds:
            return float(self.countdown_seconds)
        return max(0.0, self.timeout_seconds + self.countdown_seconds - idle_for)

    def tick(self) -> IdlePhase:
        """Return the phase for the current time."""
        if not self.armed:
            return IdlePhase.RESTING
        idle_for = self.now() - self.last_touch
        if idle_for < self.timeout_seconds:
            return IdlePhase.IN_USE
        if idle_for < self.timeout_seconds + self.countdown_seconds:
            return IdlePhase.COUNTDOWN
        self.armed = False
        return IdlePhase.EXPIRED


@dataclass
class PatientSession:
    """What one patient's flow carries between screens; replaced wholesale at reset."""

    last_name: str = ""  # what the patient typed, kept while the lookup may need phone digits
    date_of_birth: Any = None  # datetime.date chosen on the check-in screen
    match: Any = None  # facade.AppointmentMatch of the check-in in progress
    receipt: Any = None  # facade.CheckInReceipt / QuestionReceipt / RatingReceipt shown last
    rating_id: str | None = None  # the face rating the optional details belong to
    receipt_kind: str = ""  # "check_in" | "already" | "question" | "rating"
    interpreter_language: str = ""  # the language an interpreter should speak, if asked for
    interpreter_sent: Any = None  # (visit id, language) already sent for a saved visit

    def is_empty(self) -> bool:
        """Tell whether nothing of a patient is held."""
        return self == PatientSession()
