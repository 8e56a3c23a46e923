"""Every translated text has a glyph for each of its characters in the font the kiosk draws it
with (the font's character map, read with fontTools): no boxes in any language."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTCollection, TTFont

from kiosk import fonts, i18n
from kiosk.app import WIDE_FONT, font_for, input_font_for
from kiosk.textshape import shape
from screens.keyboard import LAYOUTS, key_rows, layouts_for

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "assets" / "locale"
LANGUAGES = sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / "kiosk.po").is_file())


@cache
def cmap(path: str) -> frozenset[int]:
    """Return the code points a font file (or the first face of a collection) maps."""
    font = TTCollection(path).fonts[0] if path.endswith(".ttc") else TTFont(path, lazy=True)
    return frozenset(font.getBestCmap())


def font_path(name: str) -> str:
    """Return the file of a font name as Kivy resolves it ("Roboto" is Kivy's own)."""
    if name == "Roboto":
        return str(fonts._kivy_font("Roboto-Regular.ttf"))
    assert Path(name).is_file(), f"font not installed: {name}"
    return name


def missing_glyphs(text: str, path: str, *, rtl: bool) -> list[str]:
    """Return the characters of a text (as drawn: Arabic in its joined forms) a font lacks."""
    drawn = shape(text) if rtl else text
    have = cmap(path)
    return sorted(
        {
            ch
            for ch in drawn
            if not ch.isspace()
            and unicodedata.category(ch) not in ("Cf", "Cc", "Mn")  # joiners, bidi marks
            and ord(ch) not in have
        }
    )


def translations(lang: str) -> list[str]:
    with (LOCALE / lang / "LC_MESSAGES" / "kiosk.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    texts: list[str] = []
    for message in catalog:
        if message.id:
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            texts.extend(form for form in forms if form)
    return texts


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_translated_text_has_its_glyphs(lang: str) -> None:
    path = font_path(font_for(lang))
    texts = translations(lang)
    assert len(texts) > 150
    problems = {
        text: gaps for text in texts if (gaps := missing_glyphs(text, path, rtl=i18n.is_rtl(lang)))
    }
    assert not problems, f"{lang} in {Path(path).name}: {problems}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_digits_names_and_dates_draw_in_every_font(lang: str) -> None:
    from datetime import date, time

    from babel.dates import format_date, format_time
    from babel.numbers import format_decimal

    path = font_path(font_for(lang))
    samples = [
        "0123456789 A012 Dr. Rivera-Castellanos O'Brien-Walsh Zoë Muñoz",
        format_date(date(1984, 3, 12), "long", locale=lang),
        format_time(time(16, 45), "short", locale=lang),
        format_decimal(1234.5, locale=lang),
    ]
    for sample in samples:
        assert not missing_glyphs(sample, path, rtl=i18n.is_rtl(lang)), sample


@pytest.mark.parametrize("code", i18n.INTERPRETER_LANGUAGES)
def test_every_language_name_draws_in_its_own_font(code: str) -> None:
    name = i18n.native_name(code)
    path = font_path(font_for(code))
    assert not missing_glyphs(name, path, rtl=i18n.is_rtl(code)), (code, name)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_keyboard_keys_draw_in_the_typing_font(lang: str) -> None:
    from screens.keyboard import KioskKeyboard

    label_for = KioskKeyboard.label_for
    gaps: dict[str, list[str]] = {}
    field = i18n._("Your last name", lang)  # what the digit pad's previous key names
    offered = layouts_for(lang)
    for index, layout in enumerate(offered):
        for mode in ("letters", "accents", "symbols", "digits"):
            rows = key_rows(layout, mode, "text", has_previous=True, switch=len(offered) > 1)
            for key in filter(None, (key for row in rows for key in row)):
                # As keyboard.kv draws them: words in the language's font, the rest in DejaVu
                # (an Arabic letter alone in its isolated form, as the text provider shapes it).
                words = key in ("space", "enter", "previous")
                path = font_path(font_for(lang) if words else WIDE_FONT)
                for shift in (False, True):
                    label = label_for(None, key, shift, "Next", lang, field, index)  # type: ignore[arg-type]
                    if missing := missing_glyphs(label, path, rtl=True):
                        gaps[label] = missing
    assert not gaps, f"{lang} keys: {gaps}"
    assert lang in LAYOUTS or "A-Z" in KioskKeyboard.label_for(None, "space", False, "", lang)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["ru", "ar"])
def test_a_script_of_its_own_has_every_letter_on_its_keys(lang: str) -> None:
    """Russian's 33 letters and Arabic's 28 with the hamza forms, ة and ى: none left out."""
    alphabet = {
        "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي" + "ءأإآؤئةى",
    }[lang]
    own, latin = layouts_for(lang)
    keys = {
        key for mode in ("letters", "accents") for row in key_rows(own, mode, "text") for key in row
    }
    assert not [letter for letter in alphabet if letter not in keys]
    assert latin.latin and "q" in latin.rows[0]  # and the Latin letters one key away


@pytest.mark.parametrize("text", ["张伟", "Nguyễn Thị Minh Khai", "محمد عبد الله", "Пётр Иванов"])
def test_names_typed_in_their_own_script_draw(text: str) -> None:
    lang = {"张": "zh", "N": "vi", "م": "ar", "П": "ru"}[text[0]]
    path = font_path(input_font_for(lang))
    # A typed field is not shaped (the caret must stay on the letters typed): plain letters.
    assert not missing_glyphs(text, path, rtl=False)
