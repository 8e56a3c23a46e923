"""Arabic shaping and bidi ordering for text that Kivy draws glyph by glyph.

Kivy's SDL2 text provider lays glyphs left to right, one after the other, without joining
Arabic letters. ``shape`` turns Arabic letters into their joined presentation forms
(arabic-reshaper) and ``visual_line`` puts one wrapped line into display order by the
Unicode bidi algorithm (python-bidi), so numbers and Latin names inside Arabic text read in
the right order. Lines are wrapped in logical order first, then each one is reordered: the
first words of a paragraph stay on its first line. No Kivy import here.
"""

from __future__ import annotations

import re
from functools import lru_cache

import arabic_reshaper

# The algorithm module also mirrors brackets in right-to-left runs ("(" shown as ")"),
# which the package's faster wrapper leaves out.
from bidi.algorithm import get_display

#: Characters of right-to-left scripts (Hebrew, Arabic and their presentation forms).
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_reshaper = arabic_reshaper.ArabicReshaper(
    configuration={"delete_harakat": False, "support_ligatures": True}
)


def has_rtl(text: str) -> bool:
    """Tell whether a text holds right-to-left letters."""
    return bool(_RTL.search(text))


@lru_cache(maxsize=4096)
def shape(text: str) -> str:
    """Return a text with Arabic letters in their joined forms (logical order kept)."""
    if not has_rtl(text):
        return text
    return str(_reshaper.reshape(text))


@lru_cache(maxsize=4096)
def visual_line(line: str, base_rtl: bool = True) -> str:
    """Return one line of shaped text in display order (left to right on the screen).

    In a right-to-left paragraph a line of Latin letters and digits still takes the
    paragraph's direction: "A123." wrapped off an Arabic sentence shows as ".A123".
    """
    if not base_rtl and not has_rtl(line):
        return line
    return str(get_display(line, base_dir="R" if base_rtl else "L"))


def display(text: str, base_rtl: bool = True) -> str:
    """Return a one-line text shaped and in display order."""
    return visual_line(shape(text), base_rtl)
