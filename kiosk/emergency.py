"""Spot words that suggest an emergency in a typed question (any configured language).

The phrase lists live in assets/emergency_words.json (one list per language). Text and
phrases are folded the same way (accents removed, case-folded, curly apostrophes made
straight, runs of spaces collapsed) and matched on word boundaries, so "DOLOR DE PÉCHO"
matches "dolor de pecho" but "bleedingly" does not match "bleeding". Every language's
list is checked whatever the screen language: patients often type in their own.
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


def fold(text: str) -> str:
    """Fold text for matching: no accents, case-folded, straight apostrophes, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
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
    parts = [
        re.escape(phrase).replace(r"\ ", r"\s+")
        for phrase in sorted(phrases, key=len, reverse=True)
    ]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def is_emergency_text(text: str, *, path: Path | None = None) -> bool:
    """Return True when the text contains a phrase that suggests an emergency."""
    if not text:
        return False
    return _compiled(path).search(fold(text)) is not None
