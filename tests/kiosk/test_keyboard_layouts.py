"""The keyboard's layouts per language (data, no Kivy) and how a typed line with Arabic is drawn
(kiosk.textshape.typed_line: shaped, in display order, with the caret's places)."""

from __future__ import annotations

import pytest

from kiosk.keyboard_layouts import (
    LATIN,
    SHIFT,
    SWITCH,
    TO_ACCENTS,
    key_rows,
    layout_for,
    layouts_for,
    page_of,
)
from kiosk.textshape import typed_line


@pytest.mark.parametrize(
    ("lang", "first_keys"),
    [("en", "q"), ("es", "q"), ("vi", "q"), ("zh", "q"), ("ru", "й"), ("ar", "ض")],
)
def test_each_language_starts_on_its_own_letters(lang: str, first_keys: str) -> None:
    offered = layouts_for(lang)
    rows = key_rows(offered[0], "letters", "text", switch=len(offered) > 1)
    assert rows[0][0] == first_keys
    # A script of its own has the Latin letters second and a switch key; Latin ones do not.
    assert (len(offered) == 2) == (lang in ("ru", "ar"))
    assert (SWITCH in rows[-1]) == (lang in ("ru", "ar"))
    assert layout_for(lang, len(offered)) == offered[0]  # the switch key goes round


def test_arabic_has_no_shift_and_russian_has_no_accents_page() -> None:
    arabic = layout_for("ar")
    assert not arabic.cased
    for mode in ("letters", "accents"):
        assert SHIFT not in [key for row in key_rows(arabic, mode, "text") for key in row]
    russian = layout_for("ru")
    assert russian.cased and not russian.accents
    assert TO_ACCENTS not in key_rows(russian, "letters", "text", switch=True)[-1]
    assert page_of(russian, "ё") == "letters"
    assert page_of(arabic, "أ") == "accents"
    assert page_of(LATIN, "ñ") == "accents"


def test_latin_text_is_drawn_as_typed() -> None:
    assert typed_line("Ivanova") == ("Ivanova", tuple(range(8)))


def test_an_arabic_name_is_joined_and_drawn_from_the_right() -> None:
    drawn, carets = typed_line("محمد")
    # Presentation forms (joined), the last letter typed drawn first (leftmost).
    assert drawn == "\ufeaa\ufee4\ufea4\ufee3"
    # The caret starts at the right and moves left with each letter.
    assert carets == (4, 3, 2, 1, 0)


def test_lam_alef_is_one_glyph_and_a_word_ligature_is_not() -> None:
    drawn, carets = typed_line("لا")
    assert drawn == "\ufefb" and carets == (1, 0, 0)
    # الله is typed letter by letter: drawn as its four letters, not as one ligature glyph.
    assert len(typed_line("الله")[0]) == 4


def test_a_latin_name_inside_arabic_keeps_its_order() -> None:
    drawn, carets = typed_line("محمد Smith")
    assert drawn.startswith("Smith ")  # Arabic first, from the right: the Latin name left of it
    assert carets[5] == 5  # after the space: left of it, where "S" goes next
    assert carets[-1] == 5  # after "Smith": at its right end (Latin reads left to right)
