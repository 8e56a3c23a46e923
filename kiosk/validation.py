"""Patient input validation: clean what can be cleaned, refuse the rest with a msgid.

Every refusal raises `InvalidInput(msgid, field_name)`; the msgid is short, polite English
that the UI translates with gettext. Decisions (see docs/kiosk-core.md):
- Zero-width and bidi-control characters are STRIPPED, not refused: on-screen and phone
  keyboards for right-to-left scripts insert them invisibly, and a patient cannot see
  what to delete. In free text the zero-width (non-)joiners stay, because emoji sequences
  and Persian/Indic writing need them.
- Other control characters are refused (newline and tab are allowed in free text).
- Names: letters of any script (with their combining marks), spaces, hyphens,
  apostrophes and periods; no digits, no emoji, no other symbols.
- Free text (question, reason, comment) may contain emoji and newlines.
- SQL-looking text is just text: every query is parametrized.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from kiosk.facade import N_, InvalidInput
from kiosk.i18n import INTERPRETER_LANGUAGES
from sync.protocol import (
    MAX_COMMENT_CHARS,
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    MAX_QUESTION_CHARS,
    MAX_REASON_CHARS,
)
from sync.rules import EMAIL_PATTERN, MAX_PHONE_CHARS, is_phone

__all__ = [
    "check_interpreter_language",
    "MSG_REQUIRED",
    "MSG_TOO_LONG",
    "MSG_CONTROL",
    "MSG_NAME_CHARS",
    "MSG_DATE_INVALID",
    "MSG_DATE_FUTURE",
    "MSG_DATE_TOO_OLD",
    "MSG_PHONE",
    "MSG_PHONE_LAST4",
    "MSG_EMAIL",
    "MSG_FACE",
    "MSG_SCORE",
    "MSG_LANGUAGE",
    "MSG_CONTACT_REQUIRED",
    "strip_invisible",
    "clean_name",
    "clean_text",
    "clean_optional_text",
    "clean_phone",
    "clean_email",
    "clean_phone_last4",
    "parse_date_of_birth",
    "check_date_of_birth",
    "MAX_NAME_CHARS",
    "MAX_REASON_CHARS",
    "MAX_QUESTION_CHARS",
    "MAX_COMMENT_CHARS",
]

MSG_REQUIRED = N_("Please fill in this field.")
MSG_TOO_LONG = N_("This is too long. Please shorten it.")
MSG_CONTROL = N_("Please remove the special characters.")
MSG_NAME_CHARS = N_("Please use letters only.")
MSG_DATE_INVALID = N_("This date does not exist. Please check it.")
MSG_DATE_FUTURE = N_("The date of birth cannot be in the future.")
MSG_DATE_TOO_OLD = N_("Please check the year of birth.")
MSG_PHONE = N_("Please enter a valid phone number.")
MSG_PHONE_LAST4 = N_("Please enter the last 4 digits of your phone number.")
MSG_EMAIL = N_("Please enter a valid email address.")
MSG_FACE = N_("Please choose a face.")
MSG_SCORE = N_("Please choose one of the answers.")
MSG_LANGUAGE = N_("This language is not available.")
MSG_CONTACT_REQUIRED = N_("Please enter a phone number or an email address.")

EARLIEST_BIRTH_YEAR = 1900

# Bidi controls: LRM, RLM, ALM, LRE..RLO, LRI..PDI. Zero-width: ZWSP, word joiner, BOM,
# invisible operators, soft hyphen. ZWNJ/ZWJ (U+200C/U+200D) are handled per field.
_BIDI = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ZERO_WIDTH = "\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
_JOINERS = "\u200c\u200d"
_STRIP_ALWAYS = str.maketrans("", "", _BIDI + _ZERO_WIDTH)
_STRIP_JOINERS = str.maketrans("", "", _JOINERS)

_NAME_PUNCTUATION = frozenset(" -'.\u2010\u2011\u2019\u02bc")
_EMAIL_RE = re.compile(EMAIL_PATTERN)
_SPACES = re.compile(r"\s+")


def strip_invisible(value: str, *, keep_joiners: bool) -> str:
    """Remove bidi controls and zero-width characters (optionally keeping ZWJ/ZWNJ)."""
    cleaned = value.translate(_STRIP_ALWAYS)
    if not keep_joiners:
        cleaned = cleaned.translate(_STRIP_JOINERS)
    # Any other invisible "format" character (tag characters, deprecated bidi marks...).
    return "".join(
        ch
        for ch in cleaned
        if unicodedata.category(ch) != "Cf" or (keep_joiners and ch in _JOINERS)
    )


def _has_control(value: str, *, allow_newlines: bool) -> bool:
    allowed = "\n\t" if allow_newlines else ""
    for ch in value:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") and ch not in allowed:
            return True
        if ch in "\u2028\u2029" and not allow_newlines:
            return True
    return False


def _require(value: str | None, field_name: str) -> str:
    if value is None or not isinstance(value, str):
        raise InvalidInput(MSG_REQUIRED, field_name)
    return value


def clean_name(value: str | None, field_name: str = "name") -> str:
    """Return a tidy name (single spaces, NFC) or raise InvalidInput."""
    raw = _require(value, field_name)
    if len(raw) > MAX_NAME_CHARS * 4:  # refuse huge input before any work on it
        raise InvalidInput(MSG_TOO_LONG, field_name)
    text = unicodedata.normalize("NFC", strip_invisible(raw, keep_joiners=False))
    text = _SPACES.sub(" ", text).strip()  # tabs and line breaks are just spaces in a name
    if _has_control(text, allow_newlines=False):
        raise InvalidInput(MSG_CONTROL, field_name)
    if not text:
        raise InvalidInput(MSG_REQUIRED, field_name)
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput(MSG_TOO_LONG, field_name)
    has_letter = False
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "L":
            has_letter = True
        elif category[0] == "M" or ch in _NAME_PUNCTUATION:
            continue
        else:
            raise InvalidInput(MSG_NAME_CHARS, field_name)
    if not has_letter:
        raise InvalidInput(MSG_NAME_CHARS, field_name)
    return text


def clean_text(value: str | None, *, max_chars: int, field_name: str = "text") -> str:
    """Return free text (emoji and newlines allowed), trimmed, or raise InvalidInput."""
    raw = _require(value, field_name)
    if len(raw) > max_chars * 4:
        raise InvalidInput(MSG_TOO_LONG, field_name)
    text = unicodedata.normalize("NFC", strip_invisible(raw, keep_joiners=True))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _has_control(text, allow_newlines=True):
        raise InvalidInput(MSG_CONTROL, field_name)
    text = text.strip()
    if not text:
        raise InvalidInput(MSG_REQUIRED, field_name)
    if len(text) > max_chars:
        raise InvalidInput(MSG_TOO_LONG, field_name)
    return text


def _blank(value: str | None) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    return not strip_invisible(value, keep_joiners=False).strip()


def clean_optional_text(
    value: str | None, *, max_chars: int, field_name: str = "text"
) -> str | None:
    """Return None for a blank optional text, else clean_text."""
    return None if _blank(value) else clean_text(value, max_chars=max_chars, field_name=field_name)


def clean_optional_name(value: str | None, field_name: str = "name") -> str | None:
    """Return None for a blank optional name, else clean_name."""
    return None if _blank(value) else clean_name(value, field_name)


def _ascii_digits(value: str) -> str:
    """Turn any script's decimal digits (e.g. Arabic-Indic) into ASCII digits."""
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in value
    )


def clean_phone(value: str | None, field_name: str = "phone") -> str | None:
    """Return a phone number tidied to meet sync.rules.is_phone, None if blank, or raise."""
    if _blank(value):
        return None
    raw = _require(value, field_name)
    if len(raw) > MAX_PHONE_CHARS * 4:
        raise InvalidInput(MSG_TOO_LONG, field_name)
    text = _ascii_digits(strip_invisible(raw, keep_joiners=False))
    text = _SPACES.sub(" ", text.replace(".", " ")).strip()
    if not is_phone(text):
        raise InvalidInput(MSG_PHONE, field_name)
    return text


def clean_phone_last4(value: str | None, field_name: str = "phone_last4") -> str | None:
    """Return exactly four ASCII digits, None if blank, or raise InvalidInput."""
    if _blank(value):
        return None
    text = _ascii_digits(strip_invisible(_require(value, field_name), keep_joiners=False))
    text = text.strip().replace(" ", "")
    if len(text) != 4 or not text.isascii() or not text.isdigit():
        raise InvalidInput(MSG_PHONE_LAST4, field_name)
    return text


def clean_email(value: str | None, field_name: str = "email") -> str | None:
    """Return an email address in the protocol's format, None if blank, or raise."""
    if _blank(value):
        return None
    raw = _require(value, field_name)
    if len(raw) > MAX_EMAIL_CHARS * 4:
        raise InvalidInput(MSG_TOO_LONG, field_name)
    text = unicodedata.normalize("NFC", strip_invisible(raw, keep_joiners=False)).strip()
    if len(text) > MAX_EMAIL_CHARS:
        raise InvalidInput(MSG_TOO_LONG, field_name)
    if _has_control(text, allow_newlines=False) or not _EMAIL_RE.match(text):
        raise InvalidInput(MSG_EMAIL, field_name)
    return text


def check_date_of_birth(value: date, *, today: date, field_name: str = "date_of_birth") -> date:
    """Return a plausible date of birth (not future, not before 1900) or raise."""
    if not isinstance(value, date):
        raise InvalidInput(MSG_DATE_INVALID, field_name)
    if isinstance(value, datetime):  # a datetime is a date too, but hashes differently
        value = value.date()
    if value > today:
        raise InvalidInput(MSG_DATE_FUTURE, field_name)
    if value.year < EARLIEST_BIRTH_YEAR:
        raise InvalidInput(MSG_DATE_TOO_OLD, field_name)
    return value


def parse_date_of_birth(
    year: int | str,
    month: int | str,
    day: int | str,
    *,
    today: date | None = None,
    field_name: str = "date_of_birth",
) -> date:
    """Build a date of birth from picker parts; raise InvalidInput for impossible dates."""
    try:
        parts = [int(str(part).strip()) for part in (year, month, day)]
    except (TypeError, ValueError):
        raise InvalidInput(MSG_DATE_INVALID, field_name) from None
    try:
        value = date(parts[0], parts[1], parts[2])
    except ValueError:
        raise InvalidInput(MSG_DATE_INVALID, field_name) from None
    return check_date_of_birth(value, today=today or date.today(), field_name=field_name)


def check_interpreter_language(value: str | None) -> str | None:
    """Return a language an interpreter can be asked for (None: none asked for)."""
    if value is None or value == "":
        return None
    if value not in INTERPRETER_LANGUAGES:
        raise InvalidInput(MSG_LANGUAGE, "interpreter_language")
    return value
