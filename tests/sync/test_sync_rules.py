"""The shared rules (sync.rules), pinned once: bands at their edges, phone numbers and
server addresses in tables, day bounds across a clock change, unknown keys refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sync import rules
from sync.rules import FaceBand, NpsBand, UnknownRuleKey


@pytest.mark.parametrize(
    ("face", "band"),
    [
        (1, FaceBand.UNHAPPY),
        (2, FaceBand.UNHAPPY),
        (3, FaceBand.NEUTRAL),
        (4, FaceBand.HAPPY),
        (5, FaceBand.HAPPY),
    ],
)
def test_face_bands(face: int, band: FaceBand) -> None:
    assert rules.face_band(face) is band
    assert (face in rules.UNHAPPY_FACES) == (band is FaceBand.UNHAPPY)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, NpsBand.DETRACTOR),
        (6, NpsBand.DETRACTOR),
        (7, NpsBand.PASSIVE),
        (8, NpsBand.PASSIVE),
        (9, NpsBand.PROMOTER),
        (10, NpsBand.PROMOTER),
    ],
)
def test_nps_bands_at_their_edges(score: int, band: NpsBand) -> None:
    assert rules.nps_band(score) is band


@pytest.mark.parametrize("value", [0, 6, -1, True, 3.0, "3", None])
def test_a_face_outside_one_to_five_is_an_error(value: object) -> None:
    assert not rules.is_face(value)
    with pytest.raises(UnknownRuleKey, match="face"):
        rules.face_band(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, 11, False, 9.0, "9"])
def test_a_recommend_score_outside_zero_to_ten_is_an_error(value: object) -> None:
    assert not rules.is_recommend_score(value)
    with pytest.raises(UnknownRuleKey, match="recommend"):
        rules.nps_band(value)  # type: ignore[arg-type]


def test_scale_scores_are_whole_numbers_one_to_five() -> None:
    assert [v for v in range(-1, 8) if rules.is_scale_score(v)] == [1, 2, 3, 4, 5]
    assert not rules.is_scale_score(True)


def test_net_promoter_score() -> None:
    assert rules.net_promoter_score(0, 0, 0) is None
    assert rules.net_promoter_score(2, 1, 5) == pytest.approx(20.0)
    assert rules.net_promoter_score(0, 2, 2) == -100.0
    assert rules.net_promoter_score(3, 0, 3) == 100.0


def test_dimensions_are_the_five_scales_in_order() -> None:
    assert rules.RATING_DIMENSIONS == (
        "ease_of_contact",
        "waiting_time",
        "politeness",
        "kept_informed",
        "overall",
    )
    assert rules.check_dimension("politeness") == "politeness"


@pytest.mark.parametrize("name", ["polite", "would_recommend", "face", "", "Overall"])
def test_an_unknown_dimension_is_an_error(name: str) -> None:
    with pytest.raises(UnknownRuleKey, match="unknown rating dimension"):
        rules.check_dimension(name)


def test_a_dimension_table_with_a_missing_key_is_an_error() -> None:
    table = {name: name.upper() for name in rules.RATING_DIMENSIONS if name != "overall"}
    with pytest.raises(UnknownRuleKey, match=r"labels: missing rating dimensions \['overall'\]"):
        rules.dimension_table(table, "labels")


def test_a_dimension_table_with_an_unknown_key_is_an_error() -> None:
    table = {name: name for name in rules.RATING_DIMENSIONS} | {"speed": "Speed"}
    with pytest.raises(UnknownRuleKey, match=r"unknown keys \['speed'\]"):
        rules.dimension_table(table, "labels")


def test_a_dimension_table_comes_back_in_the_dimensions_order() -> None:
    table = {name: i for i, name in enumerate(reversed(rules.RATING_DIMENSIONS))}
    assert list(rules.dimension_table(table, "t")) == list(rules.RATING_DIMENSIONS)


@pytest.mark.parametrize(
    "table", [{1: "a", 2: "b", 3: "c", 4: "d"}, {n: "x" for n in range(0, 6)}, {}]
)
def test_a_face_table_needs_exactly_the_five_faces(table: dict[int, str]) -> None:
    with pytest.raises(UnknownRuleKey, match="faces 1-5"):
        rules.face_table(table, "face labels")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("555 0101", True),
        ("+1 (555) 010-1234", True),
        ("123456", True),  # six digits: the shortest
        ("12345", False),  # five
        ("+123456789012345", True),  # fifteen: E.164's longest
        ("+1234567890123456", False),  # sixteen
        ("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6", False),  # 31 characters but 16 digits
        ("(555) 010 1234 " + " " * 17 + "1", False),  # over 32 characters
        ("1+23456789", False),  # + only at the start
        ("555.010.1234", False),  # dots: the kiosk turns them into spaces first
        ("555 0101 ext 2", False),
        ("٥٥٥٠١٠١", False),  # other scripts' digits: the kiosk turns them into ASCII first
        ("", False),
        ("----()", False),
        ("<script>", False),
        ("5550101\n", False),
    ],
)
def test_phone_numbers(text: str, valid: bool) -> None:
    assert rules.is_phone(text) is valid


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("https://clinic.example.org", "https://clinic.example.org"),
        ("https://clinic.example.org/", "https://clinic.example.org"),
        ("  http://127.0.0.1:8000/  ", "http://127.0.0.1:8000"),
        ("https://clinic.example.org/kiosk/", "https://clinic.example.org/kiosk"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("ftp://clinic.example.org", None),
        ("clinic.example.org", None),
        ("https://", None),
        ("http:///path", None),
        ("https://clinic example.org", None),
        ("https://clinic.example.org/?next=1", None),
        ("https://clinic.example.org/#top", None),
        ("http://[::1", None),
        ("", None),
    ],
)
def test_server_base_urls(text: str, base: str | None) -> None:
    assert rules.server_base_url(text) == base


def test_day_bounds_cover_a_whole_local_day_even_when_clocks_change() -> None:
    tz = ZoneInfo("Europe/Berlin")
    start, end = rules.day_bounds(date(2026, 3, 29), tz)  # clocks go forward: 23 hours
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)
    start, end = rules.day_bounds(date(2026, 10, 25), tz)  # clocks go back: 25 hours
    assert end - start == timedelta(hours=25)
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_local_day_is_the_clinic_zones_date() -> None:
    tz = ZoneInfo("America/Los_Angeles")
    late_evening = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 23:30 the day before there
    assert rules.local_day(late_evening, tz) == date(2026, 11, 30)
    start, end = rules.day_bounds(rules.local_day(late_evening, tz), tz)
    assert start <= late_evening < end
    with pytest.raises(ValueError, match="naive"):
        rules.local_day(datetime(2026, 12, 1, 7, 30), tz)


def test_utcnow_is_aware_utc() -> None:
    assert rules.utcnow().tzinfo is UTC
