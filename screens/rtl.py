"""Right-to-left on the kiosk, once for every widget: shaped Arabic, mirrored rows, text aligned.

Kivy lays glyphs left to right and rows of widgets left to right, and has no bidi. Rather
than edit every kv rule, this module changes the two shared pieces every screen is made of:

* the core text provider of ``Label`` (and so of every button): Arabic text is shaped into
  joined letter forms before it is measured, and each wrapped line is put into display order
  (kiosk.textshape) before it is drawn; in a right-to-left language, "left" alignment means
  the start of the line, the right side;
* ``BoxLayout``: in a right-to-left language a horizontal box places its children from the
  right (Back on the right, Next on the left), unless the box says ``mirror_rtl = False``
  (digit pads keep the order of a phone's keypad).

`set_rtl` switches both and asks every box and label under the window to lay out again.
"""

from __future__ import annotations

from typing import Any

import kivy.uix.label as label_module
from kivy.core.text import Label as CoreLabel
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.textshape import has_rtl, shape, visual_line

_state = {"rtl": False}
#: Widgets whose rows keep left-to-right order in every language: a keypad's digits and
#: the keyboard's letters (Arabic ones too) sit where they do on a phone.
KEEP_LTR = frozenset({"NumPad", "KioskKeyboard"})
_SWAP = {"left": "right", "right": "left"}


def is_rtl() -> bool:
    """Tell whether the screens are laid out right to left now."""
    return _state["rtl"]


class ShapedCoreLabel(CoreLabel):
    """The platform's text provider with Arabic shaping, bidi order and mirrored alignment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        text: Any = self._text  # type: ignore[has-type]  # set without _set_text
        if isinstance(text, str) and has_rtl(text):
            self._text = shape(text)

    def _set_text(self, text: Any) -> None:
        if isinstance(text, str) and has_rtl(text):
            text = shape(text)
        super()._set_text(text)

    text = property(CoreLabel._get_text, _set_text, doc="Get/Set the text (shaped)")
    label = property(CoreLabel._get_text, _set_text, doc="Get/Set the text (shaped)")

    def render_lines(
        self, lines: Any, options: dict[str, Any], render_text: Any, y: int, size: Any
    ) -> Any:
        if _state["rtl"] and options.get("halign") in _SWAP:
            options = {**options, "halign": _SWAP[options["halign"]]}
        return super().render_lines(lines, options, render_text, y, size)

    def _render_text(self, text: str, x: int, y: int) -> None:
        # A line of Latin letters and digits wrapped off an Arabic paragraph takes the
        # paragraph's direction ("A123." shows as ".A123"); a label without Arabic ("A+",
        # a clinic's Latin name) is left as it is.
        whole: Any = self._text
        if has_rtl(text) or (_state["rtl"] and isinstance(whole, str) and has_rtl(whole)):
            text = visual_line(text, _state["rtl"])
        super()._render_text(text, x, y)


_original_do_layout = BoxLayout.do_layout


def _mirrored_do_layout(self: BoxLayout, *largs: Any) -> None:
    children = self.children
    if not (_state["rtl"] and self.orientation == "horizontal" and children and _mirrors(self)):
        _original_do_layout(self, *largs)
        return
    # BoxLayout.do_layout with each x mirrored: every child is placed once, at its mirrored
    # place. Placing it left to right first and then moving it moved every child twice per
    # pass, so a box laid out again with nothing changed still moved its children (and laid
    # out every box inside them again).
    left, right = self.x, self.right
    places = self._iterate_layout(
        [(c.size, c.size_hint, c.pos_hint, c.size_hint_min, c.size_hint_max) for c in children]
    )
    for i, x, y, w, h in places:
        child = children[i]
        hint_w, hint_h = child.size_hint
        if hint_w is None:
            if hint_h is not None:
                child.height = h
        elif hint_h is None:
            child.width = w
        else:
            child.size = (w, h)
        child.pos = left + right - (x + child.width), y


def _mirrors(box: Widget) -> bool:
    node: Any = box
    while node is not None:
        if not getattr(node, "mirror_rtl", True) or type(node).__name__ in KEEP_LTR:
            return False
        parent = node.parent
        node = parent if parent is not node else None
    return True


# Kivy's layout trigger keeps the method by its name (WeakMethod): keep BoxLayout's name.
_mirrored_do_layout.__name__ = "do_layout"


def install() -> None:
    """Put the shaping text provider and the mirroring layout in place (before any Label)."""
    label_module.CoreLabel = ShapedCoreLabel
    BoxLayout.do_layout = _mirrored_do_layout


def set_rtl(rtl: bool, root: Widget | None = None) -> None:
    """Switch the direction and lay out and redraw everything under `root` again."""
    changed = _state["rtl"] != rtl
    _state["rtl"] = rtl
    if not changed or root is None:
        return
    refresh(root)


def refresh(root: Widget) -> None:
    """Lay out every box and redraw every label under a widget (after a direction change)."""
    for widget in root.walk(restrict=True):
        if isinstance(widget, BoxLayout):
            widget._trigger_layout()
        if isinstance(widget, Label):
            widget._trigger_texture()
