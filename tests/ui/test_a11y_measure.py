"""Measured from the running app's widget tree: targets, text contrast, on every screen.

Every screen (the staff PIN pad and the staff screen behind it included), in every mode
(normal, A+ which is larger text with high contrast, high contrast alone), at 800x480,
1280x800 and 1920x1080: no control under 48 dp, every text at 4.5:1 or more against what
is drawn behind it (7:1 in high contrast), the on-screen keyboard and the "Still there?"
dialog included. A PNG of each screen is saved per size and mode to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kivy.graphics import (
    BorderImage,
    Color,
    Ellipse,
    Rectangle,
    RoundedRectangle,
    StencilPop,
    StencilPush,
    StencilUse,
)
from kivy.metrics import dp
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput

from kiosk.app import SCREENS
from screens.access import is_control, is_shown
from screens.keyboard import KeyButton

pytestmark = pytest.mark.ui

SIZES = [(800, 480), (1280, 800), (1920, 1080)]
MODES = {
    "normal": (False, False),
    "a_plus": (True, True),  # the A+ key: larger text and high contrast together
    "high_contrast": (False, True),
}
#: Screens saved as PNGs (in normal and A+) to look at.
SHOWN = ("welcome", "checkin", "rate", "receipt", "admin")
#: Screens with a field that takes the keyboard when shown: measured with it up.
TYPING = {"checkin": "last_name", "ask": "question", "walkin": "first_name"}


def luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def over(fg: tuple[float, ...], bg: tuple[float, ...]) -> tuple[float, ...]:
    """Blend a translucent colour over an opaque one."""
    alpha = fg[3] if len(fg) > 3 else 1.0
    return tuple(fg[i] * alpha + bg[i] * (1 - alpha) for i in range(3)) + (1.0,)


def _ancestors(widget: Any) -> list[Any]:
    out = []
    node = widget.parent
    while node is not None and node is not node.parent:
        out.append(node)
        node = node.parent
    return out


def _shape_contains(shape: Any, x: float, y: float) -> bool:
    px, py = shape.pos
    w, h = shape.size
    return px <= x <= px + w and py <= y <= py + h


def background(widget: Any, page: tuple[float, ...]) -> tuple[float, ...]:
    """Return the colour drawn right behind a widget's centre (widget tree canvases)."""
    cx, cy = widget.to_window(*widget.center)
    nodes = [widget, *_ancestors(widget)]
    layers: list[tuple[float, ...]] = []
    for node in nodes:
        if isinstance(node, Button) and not node.background_normal:
            colour = tuple(node.background_color)
            if colour[3] > 0:
                layers.append(colour)
                if colour[3] >= 0.99:
                    break
                continue
        x, y = node.to_widget(cx, cy) if node.parent is not None else (cx, cy)
        groups = [node.canvas.before] if node is widget else [node.canvas.before, node.canvas]
        found = None
        for group in groups:
            colour: tuple[float, ...] | None = None  # shapes with no Color: stencils, masks
            stencil = False
            for instruction in group.children:
                if isinstance(instruction, StencilPush):
                    stencil = True
                elif isinstance(instruction, StencilUse | StencilPop):
                    stencil = False
                elif isinstance(instruction, Color):
                    colour = tuple(instruction.rgba)
                elif (
                    colour is not None
                    and not stencil
                    and isinstance(
                        instruction, Rectangle | RoundedRectangle | BorderImage | Ellipse
                    )
                ):
                    if instruction.texture is not None and getattr(node, "texture", None) is (
                        instruction.texture
                    ):
                        continue  # a label's own text
                    if colour[3] > 0 and _shape_contains(instruction, x, y):
                        found = colour
        if found is not None:
            layers.append(found)
            if found[3] >= 0.99:
                break
    result = tuple(page)
    for layer in reversed(layers):
        result = over(layer, result)
    return result


def measure(app: Any, root: Any, label: str, failures: list[str]) -> int:
    """Check every shown control and text under root; return how many texts were checked."""
    minimum_ratio = 7.0 if app.high_contrast else 4.5
    target = dp(48) - 0.5
    page = tuple(app.bg_color)
    checked = 0
    for widget in root.walk(restrict=True):
        if not is_shown(widget):
            continue
        if (is_control(widget) or isinstance(widget, KeyButton)) and (
            widget.width < target or widget.height < target
        ):
            failures.append(
                f"{label}: {type(widget).__name__} {getattr(widget, 'text', '')!r} "
                f"{widget.width:.0f}x{widget.height:.0f} px < 48 dp"
            )
        texts: list[tuple[str, tuple[float, ...], tuple[float, ...]]] = []
        if isinstance(widget, TextInput):
            bg = over(tuple(widget.background_color), page)
            if widget.text:
                texts.append((widget.text, tuple(widget.foreground_color), bg))
            elif widget.hint_text:
                texts.append((f"hint {widget.hint_text}", tuple(widget.hint_text_color), bg))
        elif isinstance(widget, Label) and widget.text.strip():
            bg = background(widget, page)
            texts.append((widget.text, tuple(widget.color), bg))
        for text, fg, bg in texts:
            checked += 1
            ratio = contrast(over(fg, bg), bg)
            if ratio < minimum_ratio - 0.005:
                failures.append(
                    f"{label}: {text[:40]!r} contrast {ratio:.2f} < {minimum_ratio} "
                    f"(text {tuple(round(c, 2) for c in fg)} on {tuple(round(c, 2) for c in bg)})"
                )
    return checked


@pytest.fixture
def restore(ui: Any) -> Iterator[Any]:
    window = ui.window
    saved = window.size
    yield ui
    ui.app.end_session()
    ui.app.set_accessibility(False)
    window.size = saved
    ui.pump(3)


def prepare(ui: Any, name: str) -> Any:
    app = ui.app
    screen = app.screen(name)
    if name == "receipt":
        from types import SimpleNamespace

        receipt = SimpleNamespace(
            queue_number="A7",
            estimated_wait_minutes=15,
            follow_up_url="https://c.test/f/x",
            emergency=True,
            already_checked_in=False,
        )
        screen.fill("check_in", receipt)  # every line of a receipt shown, the banner too
    if name == "admin":
        app.admin_unlocked = True  # as a right PIN does (the staff screen is closed without)
    app.show(name)
    ui.pump(3)
    assert app.manager.current == name
    if name in TYPING:
        screen.ids[TYPING[name]].focus = True
        ui.pump(4)
    return screen


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_targets_and_contrast_on_every_screen_in_every_mode(restore: Any, size: Any) -> None:
    ui = restore
    app = ui.app
    ui.window.size = size
    ui.pump(4)
    failures: list[str] = []
    checked = 0
    for mode, (large, high) in MODES.items():
        for name in SCREENS:
            app.end_session()
            app.large_text, app.high_contrast = large, high
            ui.pump(2)
            screen = prepare(ui, name)
            label = f"{size[0]}x{size[1]} {mode} {name}"
            checked += measure(app, screen, label, failures)
            checked += measure(app, app.top_bar, f"{label} top bar", failures)
            if app.keyboard.visible:
                checked += measure(app, app.keyboard, f"{label} keyboard", failures)
            if mode != "high_contrast" and name in SHOWN:
                ui.screenshot(f"a11y_{size[0]}x{size[1]}_{mode}_{name}")
        # The "Still there?" dialog, over a screen in use.
        app.end_session()
        app.large_text, app.high_contrast = large, high
        prepare(ui, "rate")
        app.idle.touch()
        app.idle.last_touch -= app.idle.timeout_seconds + 1
        ui.pump_until(lambda: app.still_there_visible)
        checked += measure(app, app._still_there, f"{size} {mode} still there", failures)
        ui.screenshot(f"a11y_{size[0]}x{size[1]}_{mode}_still_there")
        app.keep_session_alive()
        ui.pump(2)
    assert checked > 300
    assert not failures, "\n".join(sorted(set(failures)))
