"""CSV formula-injection guard and the server-rendered SVG charts."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from clinic.dashboard.charts import Series, line_chart, nps
from clinic.dashboard.csvsafe import csv_rows, safe_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("  =1+1", "'  =1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),  # full-width at
        ("\u200b=1", "'\u200b=1"),  # zero-width space
        ("\u22121", "'\u22121"),  # minus sign
        ("  plain", "  plain"),
        ("fine = good", "fine = good"),
        (-5, "-5"),
        (None, ""),
        (True, "yes"),
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02T03:04:00+00:00"),
    ],
)
def test_safe_cell(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


def test_csv_rows_round_trip_with_quotes_and_newlines() -> None:
    text = "".join(csv_rows(["a", "b"], [["x,y", 'say "hi"\nthere'], ["=cmd", 3]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["a", "b"], ["x,y", 'say "hi"\nthere'], ["'=cmd", "3"]]


def test_line_chart_is_valid_svg_with_escaped_labels() -> None:
    markup = line_chart(
        title="<b>t</b>",
        labels=["01 Mar", "02 Mar", "03 Mar"],
        series=[Series("avg <x>", [1.0, None, 4.5])],
        bars=Series("unhappy", [0.5, None, 0.0]),
        y_min=1,
        y_max=5,
        y_ticks=[1, 5],
    )
    root = ET.fromstring(str(markup))  # well-formed XML (the figure wraps the SVG)
    svg = root.find("{http://www.w3.org/2000/svg}svg")
    assert svg is not None
    assert "<b>" not in str(markup)
    circles = svg.findall("{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 2  # the day without data has no point
    rects = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 1  # zero and missing shares draw no bar
    # a higher value is drawn higher (smaller y)
    assert float(circles[1].get("cy", "0")) < float(circles[0].get("cy", "0"))


def test_nps() -> None:
    assert nps([]) is None
    assert nps([10, 9, 8, 7, 0]) == pytest.approx(20.0)
    assert nps([0, 6]) == -100.0


def test_long_ranges_draw_lines_without_a_marker_per_day() -> None:
    values: list[float | None] = [float(i % 5 + 1) for i in range(365)]
    values[99] = values[100] = values[102] = None  # day 101 stands alone
    markup = str(
        line_chart(
            title="year",
            labels=[str(i) for i in range(365)],
            series=[Series("avg", values)],
            y_min=1,
            y_max=5,
            y_ticks=[1, 5],
        )
    )
    svg = ET.fromstring(markup).find("{http://www.w3.org/2000/svg}svg")
    assert svg is not None
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2
    assert len(svg.findall("{http://www.w3.org/2000/svg}circle")) == 1  # the lone day
