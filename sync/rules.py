"""Rules the kiosk, the server and the dashboard share, each written here and nowhere else.

- Ratings: the face (1-5), the dimensions of the optional 1-5 scales, the 0-10 "would
  recommend" question; which faces count as unhappy; the NPS bands and score.
- Phone numbers and email addresses: what a contact number or address may look like.
- Server addresses: what a clinic server base URL may look like.
- Time: "now" in UTC, and the UTC bounds of a clinic-local calendar day.

Standard library only, so the wire protocol, the kiosk core (and through `kiosk.facade`
the screens) and the server may all import it. A table keyed by rating dimension (labels,
questions, columns) goes through `dimension_table`: a missing or unknown key is an error
when the module loads, and `check_dimension` refuses an unknown name, never a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

_T = TypeVar("_T")


class UnknownRuleKey(LookupError):
    """A name or value that the shared rules do not know (a dimension, a face, a score)."""


# ---------------------------------------------------------------------------------------
# Ratings
# ---------------------------------------------------------------------------------------
#: The one-tap face: 1 = very unhappy ... 5 = very happy.
FACE_MIN, FACE_MAX = 1, 5
#: The optional scales after the face, each 1-5, in the order they are asked and shown.
RATING_DIMENSIONS: tuple[str, ...] = (
    "ease_of_contact",
    "waiting_time",
    "politeness",
    "kept_informed",
    "overall",
)
SCORE_MIN, SCORE_MAX = 1, 5
#: The 0-10 "how likely are you to recommend us" question (the NPS question).
RECOMMEND_DIMENSION = "would_recommend"
RECOMMEND_MIN, RECOMMEND_MAX = 0, 10

#: Faces counted as unhappy (1 very unhappy, 2 unhappy): the dashboard's "unhappy" filter,
#: share and alert.
UNHAPPY_FACE_MAX = 2
UNHAPPY_FACES = frozenset(range(FACE_MIN, UNHAPPY_FACE_MAX + 1))
#: NPS bands of a 0-10 answer: 9-10 promoters, 0-6 detractors, 7-8 passives.
PROMOTER_MIN = 9
DETRACTOR_MAX = 6


class FaceBand(StrEnum):
    UNHAPPY = "unhappy"  # 1-2
    NEUTRAL = "neutral"  # 3
    HAPPY = "happy"  # 4-5


class NpsBand(StrEnum):
    DETRACTOR = "detractor"  # 0-6
    PASSIVE = "passive"  # 7-8
    PROMOTER = "promoter"  # 9-10


def check_dimension(name: str) -> str:
    """Return `name` if it is one of the 1-5 rating dimensions, else raise UnknownRuleKey."""
    if name not in RATING_DIMENSIONS:
        raise UnknownRuleKey(
            f"unknown rating dimension {name!r}; the dimensions are {', '.join(RATING_DIMENSIONS)}"
        )
    return name


def dimension_table(table: Mapping[str, _T], what: str) -> dict[str, _T]:
    """Return a per-dimension table in the dimensions' order; every key present, none other.

    `what` names the table in the error ("kiosk questions"), so a dimension added here
    and forgotten in one table stops that module from loading instead of showing a blank.
    """
    missing = [name for name in RATING_DIMENSIONS if name not in table]
    unknown = sorted(name for name in table if name not in RATING_DIMENSIONS)
    if missing or unknown:
        raise UnknownRuleKey(f"{what}: missing rating dimensions {missing}, unknown keys {unknown}")
    return {name: table[name] for name in RATING_DIMENSIONS}


def face_table(table: Mapping[int, _T], what: str) -> dict[int, _T]:
    """Return a per-face table (1-5, in order), refusing a missing or unknown face."""
    faces = range(FACE_MIN, FACE_MAX + 1)
    if sorted(table) != list(faces):
        raise UnknownRuleKey(f"{what}: needs exactly the faces 1-5, has {sorted(table)}")
    return {face: table[face] for face in faces}


def _whole(value: object, low: int, high: int) -> bool:
    # A bool is an int to Python, but never a score.
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_face(value: object) -> bool:
    """Return whether a value is a face score (a whole number 1-5, not a bool)."""
    return _whole(value, FACE_MIN, FACE_MAX)


def is_scale_score(value: object) -> bool:
    """Return whether a value is an answer to one of the 1-5 dimensions."""
    return _whole(value, SCORE_MIN, SCORE_MAX)


def is_recommend_score(value: object) -> bool:
    """Return whether a value is an answer to the 0-10 recommend question."""
    return _whole(value, RECOMMEND_MIN, RECOMMEND_MAX)


def face_band(face: int) -> FaceBand:
    """Return the band of a face score; raise UnknownRuleKey outside 1-5."""
    if not is_face(face):
        raise UnknownRuleKey(f"not a face score (1-5): {face!r}")
    if face <= UNHAPPY_FACE_MAX:
        return FaceBand.UNHAPPY
    return FaceBand.NEUTRAL if face == 3 else FaceBand.HAPPY


def nps_band(score: int) -> NpsBand:
    """Return the NPS band of a 0-10 answer; raise UnknownRuleKey outside 0-10."""
    if not is_recommend_score(score):
        raise UnknownRuleKey(f"not a recommend score (0-10): {score!r}")
    if score >= PROMOTER_MIN:
        return NpsBand.PROMOTER
    return NpsBand.DETRACTOR if score <= DETRACTOR_MAX else NpsBand.PASSIVE


def net_promoter_score(promoters: int, detractors: int, answers: int) -> float | None:
    """Return the NPS (-100..100) from band counts, or None without answers."""
    if answers <= 0:
        return None
    return 100.0 * (promoters - detractors) / answers


# ---------------------------------------------------------------------------------------
# Phone numbers and email addresses
# ---------------------------------------------------------------------------------------
#: Longest phone number text, spaces and punctuation included.
MAX_PHONE_CHARS = 32
#: Digits a phone number holds: E.164 allows at most 15; 6 is the shortest local number.
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 6, 15
#: An optional leading +, then digits, spaces, parentheses and hyphens.
PHONE_PATTERN = r"^\+?[0-9 ()-]+$"
_PHONE_RE = re.compile(PHONE_PATTERN)


def is_phone(text: str) -> bool:
    """Return whether text is a phone number as stored and sent (already tidied).

    Callers tidy first where they can (the kiosk turns other scripts' digits into ASCII
    and dots into spaces); this is the rule the tidied text must meet on every end.
    """
    digits = sum(ch.isdigit() for ch in text)
    return (
        len(text) <= MAX_PHONE_CHARS
        and _PHONE_RE.fullmatch(text) is not None
        and MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS
    )


#: An email address: something@something.something, no spaces, no control characters.
EMAIL_PATTERN = r"^[^@\s\x00-\x1F\x7F]+@[^@\s\x00-\x1F\x7F]+\.[^@\s\x00-\x1F\x7F]+$"


# ---------------------------------------------------------------------------------------
# Server addresses
# ---------------------------------------------------------------------------------------
def server_base_url(text: str) -> str | None:
    """Return a clinic server base URL without its trailing slash, or None if it is none.

    http or https with a host; no spaces inside (spaces around it are dropped), no query
    and no fragment, since endpoint paths are appended to it.
    """
    text = text.strip()
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed [ in the host, or a port that is no number
        return None
    if (
        parts.scheme not in ("http", "https")
        or not hostname
        or any(ch.isspace() for ch in text)
        or parts.query
        or parts.fragment
    ):
        return None
    return text.rstrip("/")


# ---------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------
def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC (the default clock of both ends)."""
    return datetime.now(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """Return the clinic-local calendar day of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return moment.astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC start (inclusive) and end (exclusive) of a clinic-local day.

    23 or 25 hours apart on the days clocks change.
    """
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
