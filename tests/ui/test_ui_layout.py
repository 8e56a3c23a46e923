"""Every screen is readable at 800x480 in every language, with and without larger text.

Each screen is filled with its longest content (errors, the emergency banner, a receipt
with queue number, wait and QR code, an FAQ answer) and then measured: no text may be cut
(its rendered texture larger than its widget), stick out of its parent, leave the window or
hide under a sibling. A PNG of each combination goes to artifacts/screenshots/layout_*.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.app import SCREENS

#: The longest message each screen can show (msgids; they are shown translated).
LONGEST_ERROR: dict[str, dict[str, str]] = {
    "checkin": {
        "last_name": "Please type your last name.",
        "dob": "Please type your date of birth: 8 digits.",
    },
    "verify_phone": {
        "digits": "These digits do not match the phone number we have. Please try again, "
        "or see the front desk."
    },
    "confirm": {"": "Sorry, this could not be saved. Please see the front desk."},
    "contact": {"phone": "Please enter a valid phone number."},
    "walkin": {
        "first_name": "Please type your first name.",
        "dob": "Please check the year of birth.",
    },
    "ask": {"question": "Please type your question."},
    "rate": {"": "Sorry, this could not be saved. Please see the front desk."},
    "rate_details": {
        "contact_phone": "Please enter your phone number so that we can call you back."
    },
}


def fill(app: Any, name: str) -> Any:
    """Show a screen with the most text it can hold."""
    screen = app.screen("receipt" if name == "receipt_question" else name)
    if name == "admin_pin":
        screen.lockout_seconds = 60
    if name == "confirm":
        app.session.match = SimpleNamespace(
            first_initial="W",
            clinician="Dr. Maximiliano Rivera-Castellanos",
            starts_at=datetime(2026, 1, 5, 16, 45, tzinfo=UTC),
            appointment_ref="x",
        )
    if name == "frontdesk":
        screen.reason_msgid = "The check-in time for your appointment has passed."
    if name == "ask":
        for field in ("question", "contact_name", "contact_phone", "contact_email"):
            setattr(screen, field, "")
    if name == "admin":
        app.admin_unlocked = True
    url = "https://clinic.example.test/f/" + "x" * 22
    if name == "receipt":
        screen.fill(
            "already",
            SimpleNamespace(
                queue_number="A123",
                estimated_wait_minutes=45,
                follow_up_url=url,
            ),
        )
    if name == "receipt_question":
        screen.fill("question", SimpleNamespace(emergency=True, follow_up_url=url))
        name = "receipt"
    app.show(name)
    if name in LONGEST_ERROR:  # after on_activate, which clears them
        screen.errors = LONGEST_ERROR[name]
    if name == "admin_pin":
        screen.error_msgid = "Too many wrong tries. Please wait {seconds} seconds."
    if name == "ask":
        screen.emergency = True  # after on_activate
    if name == "admin":
        screen.message_msgid = "Please enter a number of seconds between 20 and 600."
        screen.revoked, screen.failed, screen.pending = True, 12, 4321
        screen.last_success = "28/11/26, 14:05"
        screen.last_failure = "question: conflict (HTTP 409): record id already stored"
    if name == "questions":
        entries = screen.entries
        longest = max(entries, key=lambda e: len(e.answer))
        screen.show_answer(longest.id)
    return screen


def rect(widget: Any) -> tuple[float, float, float, float]:
    """Return a widget's box in window coordinates: left, bottom, right, top."""
    x0, y0 = widget.to_window(widget.x, widget.y)
    return x0, y0, x0 + widget.width, y0 + widget.height


def inside(inner: tuple[float, ...], outer: tuple[float, ...], slack: float = 1.5) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def overlaps(a: tuple[float, ...], b: tuple[float, ...], slack: float = 1.5) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def contrast(fg: Any, bg: Any) -> float:
    """Return the WCAG contrast ratio of two RGB(A) colours."""

    def luminance(colour: Any) -> float:
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in colour[:3]]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def scrolled(widget: Any) -> bool:
    """Tell whether a widget sits inside a scrolling view or a form area that shifts (it
    may extend past the view; the form area brings a field into view when it is typed in)."""
    from kivy.uix.scrollview import ScrollView

    from screens.widgets import FormArea

    parent = widget.parent
    while parent is not None and parent is not parent.parent:  # the Window is its own parent
        if isinstance(parent, ScrollView | FormArea):
            return True
        parent = parent.parent
    return False


def layout_problems(root: Any, window_box: tuple[float, ...]) -> list[str]:
    """List texts cut or pushed out of place under `root`."""
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.layout import Layout
    from kivy.uix.textinput import TextInput

    problems = []
    for widget in root.walk(restrict=True):
        if widget.opacity == 0 or widget.width <= 1 or widget.height <= 1:
            continue
        name = getattr(widget, "text", "") or widget.__class__.__name__
        label = f"{widget.__class__.__name__} {name[:40]!r}"
        box = rect(widget)
        if not scrolled(widget):
            if not inside(box, window_box):
                problems.append(f"{label} leaves the window: {box}")
            parent = widget.parent
            if isinstance(parent, Layout) and not inside(box, rect(parent)):
                problems.append(
                    f"{label} sticks out of its {parent.__class__.__name__}: "
                    f"{box} in {rect(parent)}"
                )
            if isinstance(parent, Layout):
                for sibling in parent.children:
                    shown = sibling.opacity > 0 and sibling.height > 1
                    if sibling is not widget and shown and overlaps(box, rect(sibling)):
                        problems.append(f"{label} overlaps a {sibling.__class__.__name__}")
        if isinstance(widget, Label) and widget.text and not widget.shorten:
            tw, th = widget.texture_size
            if tw > widget.width + 1.5 or th > widget.height + 1.5:
                problems.append(
                    f"{label} cut: text {tw:.0f}x{th:.0f} in {widget.width:.0f}x{widget.height:.0f}"
                )
        if isinstance(widget, Button) and widget.text and not widget.disabled:
            ratio = contrast(widget.color, widget.background_color)
            if ratio < 4.5:
                problems.append(f"{label} text contrast {ratio:.1f}:1 (under 4.5:1)")
        if isinstance(widget, TextInput) and widget.hint_text and not widget.text:
            # A hint longer than a one-line field is cut without a word.
            lines = widget._lines if widget.text else [widget.hint_text]
            width = widget._get_text_width(lines[0], widget.tab_width, widget._label_cached)
            room = widget.width - widget.padding[0] - widget.padding[2]
            if not widget.multiline and width > room + 1.5:
                problems.append(f"{label} hint cut: {width:.0f} > {room:.0f}")
    return problems


@pytest.fixture
def ui_reset(ui: Any) -> Iterator[Any]:
    yield ui
    ui.app.session.match = None
    ui.app.set_accessibility(False)
    ui.app.set_language("en")


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_screen_is_readable_at_800x480(ui_reset: Any, lang: str, large: bool) -> None:
    ui = ui_reset
    assert (ui.window.width, ui.window.height) == (800, 480)
    ui.app.set_language(lang)
    ui.app.set_accessibility(large)
    window_box = (0.0, 0.0, float(ui.window.width), float(ui.window.height))
    found: dict[str, list[str]] = {}
    for name in [*SCREENS, "receipt_question"]:
        screen = fill(ui.app, name)
        ui.pump(3)
        problems = layout_problems(screen, window_box) + layout_problems(ui.app.top_bar, window_box)
        if problems:
            found[name] = problems
        size = "large" if large else "normal"
        shown = name if name == "receipt_question" else screen.name
        ui.screenshot(f"layout_{shown}_{lang}_{size}")
        ui.app.show("welcome")
        ui.app.end_session()
        ui.app.set_language(lang)
        ui.app.set_accessibility(large)
    # The "Still there?" countdown over a screen.
    ui.app.idle_seconds_left = 10
    from screens.widgets import StillThereView

    view = StillThereView()
    view.open(animation=False)
    ui.pump(3)
    problems = layout_problems(view, window_box)
    ui.screenshot(f"layout_still_there_{lang}_{'large' if large else 'normal'}")
    view.dismiss(animation=False)
    ui.pump(1)
    if problems:
        found["still_there"] = problems
    assert not found, "\n".join(f"{k}: {p}" for k, v in found.items() for p in v)


# The keyboard never covering the field typed in: tests/ui/test_ui_redesign.py, at both sizes.
