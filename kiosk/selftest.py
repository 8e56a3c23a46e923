"""Scripted check-in through the real screens of a demo kiosk: ``kiosk --demo --self-test``.

An installed kiosk can prove it works end to end without a test suite: the script taps and
types through the Window like a finger (welcome -> check-in -> confirm -> contact -> receipt)
as the demo patient Okafor, prints ``self-test: reached <screen>`` and leaves with exit code
0 on the receipt, 3 otherwise. tests/deploy runs it on a freshly installed wheel. The widget
ids it uses are listed in STEPS' helpers below, in one place, so a screen redesign changes
this file only. Kivy is imported inside functions: kiosk/ imports without Kivy.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

log = logging.getLogger(__name__)

#: The demo patient checked in (docs/kiosk-demo.md): in the window at any time of day.
LAST_NAME = "Okafor"
DATE_OF_BIRTH = date(1984, 3, 12)
RECEIPT_SCREEN = "receipt"
TIMEOUT_SECONDS = 60.0
FAILED = 3

#: A step yields conditions; the driver runs frames until each holds.
Wait = Callable[[], bool]


def _tap(widget: Any) -> None:
    """Press and release a finger at the widget's centre, through the Window's input path."""
    # kivy.tests.common has such a touch but imports pytest, which an installed kiosk lacks.
    from kivy.base import EventLoop
    from kivy.input.motionevent import MotionEvent

    class Finger(MotionEvent):
        def depack(self, args: dict[str, float]) -> None:
            self.sx, self.sy = args["x"], args["y"]
            super().depack(args)

    window = EventLoop.window
    x, y = widget.to_window(*widget.center)
    position = {"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)}
    finger = Finger("self-test", 1, position, is_touch=True, type_id="touch")
    finger.profile = ["pos"]
    EventLoop.post_dispatch_input("begin", finger)
    EventLoop.post_dispatch_input("end", finger)


def _on(app: Any, name: str) -> Iterator[Wait]:
    """Wait for a screen, then for a few frames so its widgets are laid out."""
    yield lambda: app.manager.current == name and app.manager.current_screen is not None
    yield _frames(3)
    # The app drops a touch that comes right after a screen change; a finger is slower.
    yield _seconds(float(getattr(app, "settle_seconds", 0)) + 0.05)


def _key(app: Any, name: str) -> None:
    """Tap one key of the kiosk's own on-screen keyboard ("enter", "a", "1"...)."""
    button = app.keyboard.key_for(name)
    if button is None:
        raise RuntimeError(f"no key {name!r} on the keyboard's {app.keyboard.mode} page")
    _tap(button)


def _date_digits(field: Any, born: date) -> str:
    """Return the 8 digits of a date in the order the field's language writes dates."""
    parts = {"d": f"{born.day:02d}", "M": f"{born.month:02d}", "y": f"{born.year:04d}"}
    return "".join(parts[p] for p in field.order())


def _typed(field: Any, text: str) -> Wait:
    """Wait until a field holds `text`."""
    return lambda: bool(field.text == text)


def _seconds(seconds: float) -> Wait:
    until = time.monotonic() + seconds
    return lambda: time.monotonic() >= until


def _frames(count: int) -> Wait:
    left = [count]

    def done() -> bool:
        left[0] -= 1
        return left[0] < 0

    return done


def check_in_steps(app: Any) -> Iterator[Wait]:
    """Tap through a check-in as the demo patient; end on the receipt screen."""
    yield from _on(app, "welcome")
    yield _frames(5)  # let the other screens build (one per frame)
    _tap(app.manager.current_screen.ids.check_in)
    yield from _on(app, "checkin")
    checkin = app.manager.current_screen
    yield lambda: bool(checkin.ids.last_name.focus)  # focused when the screen opens
    for letter in LAST_NAME.lower():  # Shift comes on by itself for a name's first letter
        _key(app, letter)
        yield _frames(1)
    _key(app, "enter")  # on to the date of birth, with the digit pad
    yield lambda: bool(checkin.ids.dob.focus) and app.keyboard.mode == "digits"
    yield _frames(5)  # the digit pad is laid out in the frames after the page changes
    digits = _date_digits(checkin.ids.dob, DATE_OF_BIRTH)
    for count, digit in enumerate(digits, start=1):
        _key(app, digit)
        yield _frames(2)
        yield _typed(checkin.ids.dob, digits[:count])
    _key(app, "enter")  # the last field: Enter looks the appointment up
    yield from _on(app, "confirm")
    _tap(app.manager.current_screen.ids.yes)
    yield from _on(app, "contact")
    _tap(app.manager.current_screen.ids.skip)
    yield from _on(app, RECEIPT_SCREEN)


def _where(steps: Any) -> str:
    """Name the script line a generator (or the one it delegates to) is paused at."""
    while getattr(steps, "gi_yieldfrom", None) is not None:
        steps = steps.gi_yieldfrom
    frame = getattr(steps, "gi_frame", None)
    return f"{frame.f_code.co_name} line {frame.f_lineno}" if frame else "the end"


class SelfTest:
    """Runs `check_in_steps` on the app's Clock and stops the app with the outcome."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exit_code = FAILED
        self._steps = check_in_steps(app)
        self._waiting: Wait = lambda: True
        self._deadline = time.monotonic() + TIMEOUT_SECONDS
        self._event: Any = None

    def start(self) -> None:
        """Begin after the first frame."""
        from kivy.clock import Clock

        self._event = Clock.schedule_interval(self._tick, 0.05)

    def _tick(self, _dt: float) -> None:
        try:
            while self._waiting():
                self._waiting = next(self._steps)
        except StopIteration:
            self._finish(ok=True)
        except Exception:  # a missing widget or option: report it, never hang
            log.exception("self-test step failed")
            self._finish(ok=False)
        else:
            if time.monotonic() > self._deadline:
                log.error("self-test timed out waiting at %s", _where(self._steps))
                self._finish(ok=False)

    def _finish(self, *, ok: bool) -> None:
        self._event.cancel()
        reached = self.app.manager.current
        self.exit_code = 0 if ok and reached == RECEIPT_SCREEN else FAILED
        print(f"self-test: reached {reached}", file=sys.stderr, flush=True)
        self.app.exit_kiosk()
