"""Patient effort per flow: scripted runs through the real screens, priced with the KLM.

Every patient flow (check in, walk in, ask a question, rate the visit) is run in the real
kiosk window at 800x480 and at 1280x800 by touches on the real widgets: taps on buttons,
keys of the kiosk keyboard and digit pads. The run counts

- taps: every touch that is not a key of the keyboard or of a digit pad,
- keystrokes: keys of the kiosk keyboard (letters, digits, Shift, Enter) and pad digits,
- drags: scrolling gestures (the scripts need none: no list has to be scrolled),

and prices them with the keystroke-level model (Card, Moran & Newell, "The keystroke-level
model for user performance time with interactive systems", CACM 23(7), 1980):

- K = 0.50 s per key: their "typing random letters" figure, a patient hunting each key of a
  layout seen for the first time (0.28 s average typist; 1.20 s "unfamiliar with keyboard",
  printed as the slow variant);
- P = 1.10 s per tap: their pointing operator; on a touch screen the finger's travel to the
  target is the pointing and the touch itself is the click, so no separate button press
  (and no H: the finger never leaves for another device);
- drag = 2 x P = 2.20 s: grab the list, move it (a scroll gesture is a pointing movement
  with the finger down, then the eye has to find the item again);
- M = 1.35 s per mental preparation, placed by the paper's rules: before each new screen's
  first action and before each chunk typed (name, date of birth, reason...).

Usage: xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/patient.py
The last line printed is one JSON object (the 800x480 figures; both sizes are printed above).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kivy_env import configure_kivy  # noqa: E402  (bench/, the script's folder)

_home = tempfile.mkdtemp(prefix="kivyhome-")
configure_kivy(_home, maxfps=0)

from kivy.base import EventLoop, runTouchApp  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.graphics.opengl import glFinish  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

if os.environ.get("SDL_VIDEODRIVER") == "offscreen":
    Window.bind(on_flip=lambda *a: glFinish())

#: Keystroke-level model operator times in seconds (Card, Moran & Newell 1980).
K, K_SLOW, P, M = 0.50, 1.20, 1.10, 1.35
DRAG = 2 * P
SIZES = [(800, 480), (1280, 800)]

#: The flow before this design, counted by hand on the previous main branch at 1280x800
#: taps besides the name's letters, drags, and the letters of "Okafor".
BEFORE_CHECKIN = {"taps": 12, "keystrokes": 6, "drags": 7, "mental": 9}


@dataclass
class Counts:
    taps: int = 0
    keystrokes: int = 0
    drags: int = 0
    mental: int = 0

    def seconds(self, key_time: float = K) -> float:
        return round(
            self.keystrokes * key_time + self.taps * P + self.drags * DRAG + self.mental * M, 1
        )

    def as_json(self) -> dict[str, float]:
        return {
            "taps": self.taps,
            "keystrokes": self.keystrokes,
            "drags": self.drags,
            "model_seconds": self.seconds(),
        }


class Patient:
    """Touches the real window and counts what a patient does."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts = Counts()

    def pump(self, frames: int = 2) -> None:
        for _ in range(frames):
            EventLoop.idle()

    def wait(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the flow got stuck")
            EventLoop.idle()

    def _touch(self, widget: Any) -> None:
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.pump(2)

    def think(self) -> None:
        """One mental preparation (M): read a screen, decide, recall what to type."""
        self.counts.mental += 1

    def tap(self, widget: Any) -> None:
        self.counts.taps += 1
        self._touch(widget)

    def key(self, widget: Any) -> None:
        self.counts.keystrokes += 1
        self._touch(widget)

    def type(self, text: str) -> None:
        """Type on the kiosk keyboard, key by key (page and Shift keys included)."""
        from screens.keyboard import key_rows, layout_for

        board = self.app.keyboard
        for ch in text:
            name = "space" if ch == " " else ch.lower()
            if board.mode != "digits":
                for page in ("letters", "accents", "symbols"):
                    rows = key_rows(layout_for(board.lang), page, "text")
                    if any(name in row for row in rows):
                        break
                if page != board.mode:
                    if board.mode != "letters":
                        self.key(board.key_for("letters"))
                    if page != "letters":
                        self.key(board.key_for(page))
                wants_capital = ch != ch.lower()
                if name != "space" and wants_capital != board.shift and ch.upper() != ch.lower():
                    self.key(board.key_for("shift"))
            self.key(board.key_for(name))

    def enter(self) -> None:
        self.key(self.app.keyboard.key_for("enter"))

    def screen(self, name: str) -> Any:
        self.wait(lambda: self.app.manager.current == name)
        return self.app.manager.current_screen


def date_digits(field: Any, dob: date) -> str:
    parts = {"d": f"{dob.day:02d}", "M": f"{dob.month:02d}", "y": f"{dob.year:04d}"}
    return "".join(parts[p] for p in field.order())


# --- the flows --------------------------------------------------------------------------
def checkin(p: Patient) -> None:
    """Okafor, 12 March 1984: the happy path; the receipt goes away by itself."""
    p.think()
    p.tap(p.screen("welcome").ids.check_in)
    screen = p.screen("checkin")
    p.wait(lambda: screen.ids.last_name.focus)  # the name field has the keyboard already
    p.think()
    p.type("Okafor")
    p.enter()
    p.think()
    p.type(date_digits(screen.ids.dob, date(1984, 3, 12)))
    p.enter()
    p.think()
    p.tap(p.screen("confirm").ids.yes)
    p.think()
    p.tap(p.screen("contact").ids.skip)
    p.think()  # read "please take a seat, we will call A001"
    p.screen("receipt")


def walkin(p: Patient) -> None:
    """Weber, 1 April 1970, no appointment: registers with a reason, no phone."""
    p.think()
    p.tap(p.screen("welcome").ids.check_in)
    screen = p.screen("checkin")
    p.wait(lambda: screen.ids.last_name.focus)
    p.think()
    p.type("Weber")
    p.enter()
    p.think()
    p.type(date_digits(screen.ids.dob, date(1970, 4, 1)))
    p.enter()
    p.think()
    p.tap(p.screen("nomatch").ids.walk_in)
    walk = p.screen("walkin")
    p.think()
    p.tap(walk.ids.first_name)
    p.type("Jonas")
    p.enter()  # last name (carried over)
    p.enter()  # date of birth (carried over)
    p.enter()  # phone: optional, skipped
    p.enter()  # reason
    p.think()
    p.type("Sore throat")
    p.enter()  # the last field: Register
    p.think()
    p.screen("receipt")


def question(p: Patient) -> None:
    """Ask the staff a short question without contact details."""
    p.think()
    p.tap(p.screen("welcome").ids.ask)
    p.think()
    p.tap(p.screen("questions").ids.ask_staff)
    ask = p.screen("ask")
    p.tap(ask.ids.question)
    p.think()
    p.type("Where is the pharmacy")
    p.think()
    p.tap(ask.ids.send)
    p.think()
    p.screen("receipt")


def rating(p: Patient) -> None:
    """A face, one scale answered, then Send."""
    p.think()
    p.tap(p.screen("welcome").ids.rate)
    p.think()
    p.tap(p.screen("rate").face(4))
    details = p.screen("rate_details")
    p.think()
    p.tap(list(reversed(details.ids.overall.ids.buttons.children))[3])
    p.tap(details.ids.send)
    p.think()
    p.screen("receipt")


FLOWS: dict[str, Callable[[Patient], None]] = {
    "checkin": checkin,
    "walkin": walkin,
    "question": question,
    "rating": rating,
}


def run_size(width: int, height: int) -> dict[str, Counts]:
    """Run every flow once in a fresh demo kiosk in a window of one size."""
    from kiosk.app import KioskApp
    from kiosk.config import KioskSettings
    from kiosk.services import Kiosk

    data = Path(tempfile.mkdtemp(prefix="bench-patient-"))
    kiosk = Kiosk.open(KioskSettings(data_dir=data, demo=True))
    app = KioskApp(kiosk, start_sync=False)
    app._run_prepare()
    app.settle_seconds = 0  # the script taps as fast as frames go
    runTouchApp(embedded=True)
    Window.size = (width, height)
    patient = Patient(app)
    patient.wait(lambda: tuple(Window.size) == (width, height))
    patient.pump(5)
    results: dict[str, Counts] = {}
    try:
        for name, flow in FLOWS.items():
            app.end_session()
            patient.pump(3)
            patient.counts = Counts()
            flow(patient)
            results[name] = patient.counts
    finally:
        app.end_session()
        patient.pump(2)
        app.stop()
        patient.pump(1)
        kiosk.close()
        shutil.rmtree(data, ignore_errors=True)
    return results


def main() -> None:
    print(
        f"KLM operators (Card, Moran & Newell 1980): K={K} s (slow {K_SLOW} s), P={P} s, "
        f"drag={DRAG} s, M={M} s"
    )
    before = Counts(**BEFORE_CHECKIN)
    print(
        f"before (hand count, previous design, 1280x800): checkin taps={before.taps} "
        f"keystrokes={before.keystrokes} drags={before.drags} model={before.seconds()} s "
        f"(slow {before.seconds(K_SLOW)} s)"
    )
    by_size = {}
    for width, height in SIZES:
        results = run_size(width, height)
        by_size[(width, height)] = results
        for name, c in results.items():
            print(
                f"{width}x{height} {name}: taps={c.taps} keystrokes={c.keystrokes} "
                f"drags={c.drags} mental={c.mental} model={c.seconds()} s "
                f"(slow {c.seconds(K_SLOW)} s)"
            )
    small = by_size[SIZES[0]]
    print(json.dumps({name: c.as_json() for name, c in small.items()}))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(_home, ignore_errors=True)
