"""CSV export helpers that keep spreadsheet formulas out of exported patient text."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

#: A cell starting with one of these is run as a formula by Excel/LibreOffice/Sheets
#: (OWASP "CSV injection").
_FORMULA_CHARS = frozenset("=+-@")
#: Dashes and minus signs that NFKC does not fold to "-" but spreadsheets may treat as one.
_MINUS_LOOKALIKES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2796\ufe58")
#: Leading characters a spreadsheet may skip before reading "=" (tab, CR, LF and others).
_SKIPPABLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def _is_formula_start(ch: str) -> bool:
    # NFKC folds full-width (U+FF1D =, U+FF0B +, U+FF0D -, U+FF20 @), small and
    # superscript forms onto the ASCII characters.
    folded = unicodedata.normalize("NFKC", ch)
    return (folded[:1] in _FORMULA_CHARS) or ch in _MINUS_LOOKALIKES


def needs_neutralising(text: str) -> bool:
    """Return whether a spreadsheet could read this text as a formula."""
    if not text:
        return False
    if unicodedata.category(text[0]) in ("Cc", "Cf"):
        return True  # a cell starting with tab, CR, LF, NUL, a zero-width or bidi mark
    for ch in text:
        if unicodedata.category(ch) in _SKIPPABLE_CATEGORIES:
            continue  # leading spaces and invisible characters are looked through
        return _is_formula_start(ch)
    return False


def safe_cell(value: Any) -> str:
    """Return a value as CSV text that no spreadsheet runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if needs_neutralising(text):
        # The apostrophe makes every spreadsheet show the cell as text.
        return "'" + text
    return text


def csv_rows(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield CSV text chunks (header first) with every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(v) for v in row])
        yield buffer.getvalue()
