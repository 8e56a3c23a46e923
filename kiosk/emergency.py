"""Spot words that suggest an emergency in a typed question (any configured language).

The phrase lists live in assets/emergency_words.json (one list per language). Text and
phrases are folded the same way (accents and Arabic hamza removed, case-folded, curly
apostrophes made straight, đ read as d, ة as ه and ى as ي, runs of spaces collapsed) and
matched on word boundaries (anywhere in Chinese), so "DOLOR DE PÉCHO" matches "dolor de
pecho" but "bleedingly" does not match "bleeding". Every language's list is checked
whatever the screen language: patients often type in their own.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

DEFAULT_WORDS: Traversable = files("assets").joinpath("emergency_words.json")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
#: Letters patients often swap or leave out: Vietnamese đ typed as d, Arabic taa marbuta as
#: haa and alef maqsura as yaa, the Arabic tatweel (a stretching stroke, not a letter).
_SPELLINGS = str.maketrans(
    {"đ": "d", "Đ": "d", "\u0629": "\u0647", "\u0649": "\u064a", "\u0640": None}
)
#: Arabic writes the article and some prepositions and conjunctions as part of the word
#: (الانتحار, بالصدر, والنزيف): a phrase may start after them.
_ARABIC = re.compile("[\u0600-\u06ff]")
_ARABIC_PREFIX = "(?:[\u0648\u0641\u0628\u0643\u0644])?(?:\u0627\u0644)?"
#: Scripts written without spaces between words: their phrases match anywhere in the text.
_NO_SPACES = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def fold(text: str) -> str:
    """Fold text for matching: no accents, case-folded, straight apostrophes, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).translate(_SPELLINGS))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", kept.casefold().translate(_APOSTROPHES)).strip()


def load_phrases(path: Path | None = None) -> dict[str, list[str]]:
    """Return the phrase lists per language from the JSON file."""
    source: Path | Traversable = path or DEFAULT_WORDS
    with source.open(encoding="utf-8") as handle:
        raw = json.load(handle)
    return {
        language: [str(phrase) for phrase in phrases]
        for language, phrases in raw.items()
        if not language.startswith("_") and isinstance(phrases, list)
    }


@lru_cache(maxsize=8)
def _compiled(path: Path | None) -> re.Pattern[str]:
    phrases = {fold(p) for words in load_phrases(path).values() for p in words if fold(p)}
    # Longest first so alternation prefers the most specific phrase; spaces match any run.
    # Whole words only, except in scripts without spaces (Chinese), where a word boundary
    # would never come.
    parts = []
    for phrase in sorted(phrases, key=len, reverse=True):
        body = re.escape(phrase).replace(r"\ ", r"\s+")
        if _NO_SPACES.search(phrase):
            parts.append(body)
        elif _ARABIC.match(phrase):
            parts.append(r"(?<!\w)" + _ARABIC_PREFIX + body + r"(?!\w)")
        else:
            parts.append(r"(?<!\w)" + body + r"(?!\w)")
    return re.compile("|".join(parts))


def is_emergency_text(text: str, *, path: Path | None = None) -> bool:
    """Return True when the text contains a phrase that suggests an emergency."""
    if not text:
        return False
    return _compiled(path).search(fold(text)) is not None
