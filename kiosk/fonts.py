"""Which font draws each language on the kiosk (Kivy draws a label with one font only).

Fonts come from Debian's Noto packages (fonts-noto-core, fonts-noto-cjk) where one Noto file
holds every character a language's screens show, Latin included (names, queue numbers and
the clinic's name appear inside translated text). Noto Sans Arabic has no Latin letters, so
Arabic uses DejaVu Sans, which Kivy ships and which has Arabic (with the presentation forms
that shaping produces), Latin and both kinds of digits. No Kivy import here: this is data.
"""

from __future__ import annotations

import os
from pathlib import Path

NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto")


def _kivy_font(name: str) -> Path:
    # The path Kivy installs its own fonts at, found without importing Kivy.
    import importlib.util

    spec = importlib.util.find_spec("kivy")
    base = Path(spec.origin).parent if spec and spec.origin else Path(".")
    return base / "data" / "fonts" / name


#: Script of each language's own writing.
SCRIPTS: dict[str, str] = {
    "en": "Latn", "es": "Latn", "vi": "Latn", "tl": "Latn", "fr": "Latn", "ht": "Latn",
    "pt": "Latn", "pl": "Latn", "so": "Latn", "de": "Latn",
    "ru": "Cyrl", "uk": "Cyrl",
    "zh": "Hans", "ja": "Jpan", "ko": "Kore",
    "ar": "Arab", "fa": "Arab", "ur": "Arab",
    "hi": "Deva",
}  # fmt: skip


def _candidates(script: str) -> list[Path]:
    """Return the font files that can draw a script (and Latin), best first."""
    if script == "Latn":
        return [_kivy_font("Roboto-Regular.ttf"), NOTO / "NotoSans-Regular.ttf"]
    if script == "Cyrl":
        return [NOTO / "NotoSans-Regular.ttf", _kivy_font("Roboto-Regular.ttf")]
    if script in ("Hans", "Jpan", "Kore"):
        return [NOTO_CJK / "NotoSansCJK-Regular.ttc"]
    if script == "Arab":
        return [_kivy_font("DejaVuSans.ttf")]
    if script == "Deva":
        return [NOTO / "NotoSansDevanagari-Regular.ttf"]
    return [_kivy_font("DejaVuSans.ttf")]


def script_of(lang: str) -> str:
    """Return the script a language is written in (Latin when unknown)."""
    return SCRIPTS.get(lang.split("_")[0], "Latn")


def font_file(lang: str) -> str | None:
    """Return the font that draws a language's screens, or None if none is installed."""
    for path in _candidates(script_of(lang)):
        if os.path.isfile(path):
            return str(path)
    return None


def input_font_file(lang: str) -> str | None:
    """Return the font for what patients type: their language's, wide enough for names."""
    script = script_of(lang)
    if script in ("Hans", "Jpan", "Kore", "Deva"):
        return font_file(lang)
    return str(_kivy_font("DejaVuSans.ttf"))
