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


# What a patient types is drawn with the letters' joined forms too, but with only the lam-alef
# ligatures that Arabic writing requires: a word ligature (الله as one glyph) would swallow
# letters the caret has to step over while they are typed one by one.
_typed_reshaper = arabic_reshaper.ArabicReshaper(
    configuration={
        "delete_harakat": False,
        "support_ligatures": True,
        "ARABIC LIGATURE ALLAH": False,
    }
)


@lru_cache(maxsize=1024)
def typed_line(line: str) -> tuple[str, tuple[int, ...]]:
    """Return one line of a text field as drawn, and where each caret place is drawn.

    The line is shaped and put into display order in its own direction (its first strong
    letter's, as phones do in a field: an Arabic name reads from the right, a Latin one from
    the left). The second item maps each caret place of the typed text (0 to len(line),
    in the order the letters were typed) to a place in the drawn text (0 to its length): the
    caret follows the last letter typed, at the left of an Arabic one and the right of a
    Latin one.
    """
    if not has_rtl(line):
        return line, tuple(range(len(line) + 1))
    shaped = str(_typed_reshaper.reshape(line))
    # Shaping keeps one character per letter except the lam-alef ligatures (two letters, one
    # glyph): the caret place between lam and alef is drawn after the ligature.
    to_shaped = [len(str(_typed_reshaper.reshape(line[:k]))) for k in range(len(line) + 1)]
    drawn, places, base_rtl = _reorder(shaped)
    carets = tuple(_caret(s, places, len(drawn), base_rtl) for s in to_shaped)
    return drawn, carets


def _reorder(text: str) -> tuple[str, dict[int, tuple[int, int]], bool]:
    """Run the bidi algorithm, keeping track of where each character is drawn.

    Returns the text in display order, {index in `text`: (index drawn, embedding level)}
    (characters the algorithm drops, such as bidi controls, are missing) and whether the
    paragraph reads right to left.
    """
    from bidi import algorithm as uba

    storage = uba.get_empty_storage()
    base_level = uba.get_base_level(text)
    storage["base_level"] = base_level
    storage["base_dir"] = ("L", "R")[base_level]
    uba.get_embedding_levels(text, storage)
    for index, char in enumerate(storage["chars"]):
        char["index"] = index
    uba.explicit_embed_and_overrides(storage)
    uba.resolve_weak_types(storage)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    uba.reorder_resolved_levels(storage, False)
    uba.apply_mirroring(storage, False)
    chars = storage["chars"]
    drawn = "".join(char["ch"] for char in chars)
    places = {char["index"]: (shown, char["level"]) for shown, char in enumerate(chars)}
    return drawn, places, bool(base_level % 2)


def _caret(s: int, places: dict[int, tuple[int, int]], length: int, base_rtl: bool) -> int:
    """Return where the caret after the first `s` characters is drawn."""
    before = next((i for i in range(s - 1, -1, -1) if i in places), None)
    if before is not None:  # right after that character: its left edge if it reads RTL
        shown, level = places[before]
        return shown if level % 2 else shown + 1
    after = next((i for i in sorted(places) if i >= s), None)
    if after is not None:  # at the start: before the first character
        shown, level = places[after]
        return shown + 1 if level % 2 else shown
    return length if base_rtl else 0
