"""The letters of the kiosk's on-screen keyboard, per language and script: data, no Kivy.

Each language has one or two layouts: its own script's first, then, for a language not
written in Latin letters, the Latin one (names are matched against records that US practice
systems mostly keep in Latin letters, and an e-mail address is always Latin). A switch key
on the bottom row goes from one to the other. Russian gets ЙЦУКЕН, Arabic the standard
Arabic (101) arrangement; Chinese has none of its own (an input method is more than a
layout) and types on the Latin keys. screens/keyboard.py draws the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Special keys (anything else types itself).
SHIFT, BACKSPACE, ENTER, SPACE = "shift", "backspace", "enter", "space"
#: Back to the field before this one (on the digit pad, where a slot is free).
PREVIOUS = "previous"
TO_LETTERS, TO_ACCENTS, TO_SYMBOLS = "letters", "accents", "symbols"
#: To the other script's letters (the language's own <-> Latin).
SWITCH = "switch"


@dataclass(frozen=True)
class KeyboardLayout:
    """The letters of one script for one language: three rows plus the accents page."""

    rows: tuple[str, str, str] = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    accents: str = "áéíóúüñçàèìòùâêîôûäëïöÿãõåæøß"
    #: Characters after the letters of rows 2 and 3 (names such as O'Brien or Smith-Jones);
    #: "" for none.
    row_extras: tuple[str, str] = ("'", "-")
    symbols: tuple[str, str, str] = ("1234567890", '@#&/:;()"', ".,?!'-+_")
    name: str = field(default="latin")
    #: The script's letters have capitals (Shift keys and auto-capitals); Arabic has none.
    cased: bool = True
    #: What the switch key shows to go to this layout, and the accents key to its accents.
    sample: str = "abc"
    accents_sample: str = "áéñ"
    #: The letters are Latin ones (the space bar of a language with a script of its own
    #: says "Latin letters A-Z" on them).
    latin: bool = True


LATIN = KeyboardLayout(name="en")

#: Language code -> layout of its own script. English and Spanish share QWERTY; Spanish
#: adds ñ in row 2.
LAYOUTS: dict[str, KeyboardLayout] = {
    "en": LATIN,
    "es": KeyboardLayout(
        rows=("qwertyuiop", "asdfghjklñ", "zxcvbnm"),
        accents="áéíóúüñçàèìòùâêîôûäëïöãõ",
        name="es",
    ),
    # Vietnamese: QWERTY with đ, the vowels with their marks on the accents page (the
    # commonest 30 of them; a hardware keyboard types the rest).
    "vi": KeyboardLayout(
        rows=("qwertyuiop", "asdfghjklđ", "zxcvbnm"),
        accents="ăâêôơưđáàảãạéèẻẽẹóòỏõọíìỉĩịúùủ",
        name="vi",
    ),
    # Russian ЙЦУКЕН as on a Russian phone: all 33 letters on the three rows (ъ at the end of
    # the first, ё at the end of the third, where a phone hides them behind a long press the
    # kiosk does not have), so there is no accents page; the hyphen of double surnames.
    "ru": KeyboardLayout(
        rows=("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбюё"),
        accents="",
        row_extras=("", "-"),
        name="ru",
        sample="абв",
        accents_sample="",
        latin=False,
    ),
    # Arabic: the standard Arabic (101) keyboard's rows, ذ (its top-left key) at the end of
    # the third; the hamza forms a PC types with Shift (أ إ آ) on the accents page, as the
    # Latin layouts put their accented letters there. No case: no Shift keys.
    "ar": KeyboardLayout(
        rows=("ضصثقفغعهخحجد", "شسيبلاتنمكط", "ئءؤرىةوزظذ"),
        accents="أإآ",
        row_extras=("", "-"),
        name="ar",
        cased=False,
        sample="أبت",
        accents_sample="أإآ",
        latin=False,
    ),
}


def layouts_for(lang: str) -> tuple[KeyboardLayout, ...]:
    """Return the layouts offered in a language, its own script's first.

    A language with letters of its own gets the Latin layout second; a language without a
    layout of its own (Chinese) types on the Latin keys alone.
    """
    own = LAYOUTS.get(lang)
    if own is None:
        return (LATIN,)
    return (own,) if own.latin else (own, LATIN)


def layout_for(lang: str, index: int = 0) -> KeyboardLayout:
    """Return one layout of a language: its own (index 0) or the Latin one (index 1)."""
    offered = layouts_for(lang)
    return offered[int(index) % len(offered)]


def key_rows(
    layout: KeyboardLayout,
    mode: str,
    input_type: str,
    has_previous: bool = False,
    switch: bool = False,
) -> list[list[str]]:
    """Return the keys of one page, row by row (specials by name).

    `has_previous`: the field typed in has a field before it on its screen; the digit pad
    then offers the way back to it in its free bottom-left slot. `switch`: the language has
    a second layout; the letter pages get the key that goes to it.
    """
    if mode == "digits":
        extra = "+" if input_type == "tel" else ""
        return [
            ["1", "2", "3", BACKSPACE],
            ["4", "5", "6", extra],
            ["7", "8", "9", SPACE if input_type == "tel" else ""],
            [PREVIOUS if has_previous else "", "0", "", ENTER],
        ]
    if mode == TO_ACCENTS and layout.accents:
        letters = layout.accents
        rows = [list(letters[i : i + 10]) for i in range(0, len(letters), 10)][:3]
        rows[0].append(BACKSPACE)
        if layout.cased:
            rows[-1] = [SHIFT, *rows[-1]]
        return [*rows, [TO_LETTERS, "@", SPACE, ".", ENTER]]
    if mode == TO_SYMBOLS:
        r1, r2, r3 = layout.symbols
        return [[*r1, BACKSPACE], list(r2), list(r3), [TO_LETTERS, "@", SPACE, ".", ENTER]]
    r1, r2, r3 = layout.rows
    e2, e3 = (list(extra) for extra in layout.row_extras)
    shift = [SHIFT] if layout.cased else []
    bottom = [TO_SYMBOLS]
    if switch:
        bottom.append(SWITCH)
    if layout.accents:
        bottom.append(TO_ACCENTS)
    return [
        [*r1, BACKSPACE],
        [*r2, *e2],
        [*shift, *r3, *e3, *shift],
        [*bottom, "@", SPACE, ".", ENTER],
    ]


def page_of(layout: KeyboardLayout, char: str, input_type: str = "text") -> str | None:
    """Return the page of a layout ("letters", "accents", "symbols") that types `char`."""
    for mode in (TO_LETTERS, TO_ACCENTS, TO_SYMBOLS):
        if any(char in row for row in key_rows(layout, mode, input_type, switch=True)):
            return mode
    return None
