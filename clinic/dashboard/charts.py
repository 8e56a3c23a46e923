"""Inline SVG charts rendered on the server: no JavaScript, no chart library, print-ready."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from sync.rules import NpsBand, net_promoter_score, nps_band

#: Colour-blind-safe palette (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")

_W, _H = 640, 220
#: Above this many days, lines are drawn without a marker (and tooltip) per point.
MAX_POINT_MARKERS = 62
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 14, 34


@dataclass(frozen=True)
class Series:
    """One line on a chart; None marks a day without data (the line breaks there)."""

    name: str
    values: Sequence[float | None]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_min: float,
    y_max: float,
    y_ticks: Sequence[float],
    bars: Series | None = None,
    bars_max: float = 1.0,
    unit: str = "",
) -> Markup:
    """Return an SVG line chart (optionally over shaded bars) as safe markup."""
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    n = max(len(labels), 1)
    step = plot_w / n

    def x(i: int) -> float:
        return _LEFT + step * (i + 0.5)

    def y(v: float) -> float:
        span = (y_max - y_min) or 1.0
        return _TOP + plot_h - (v - y_min) / span * plot_h

    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in y_ticks:
        ty = y(tick)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" class="tick">'
            f"{escape(_fmt(tick))}{escape(unit)}</text>"
        )
    if bars is not None:
        for i, value in enumerate(bars.values):
            if value is None or value <= 0:
                continue
            bh = min(value / (bars_max or 1.0), 1.0) * plot_h
            parts.append(
                f'<rect class="bar" x="{x(i) - step * 0.35:.1f}" y="{_TOP + plot_h - bh:.1f}" '
                f'width="{step * 0.7:.1f}" height="{bh:.1f}">'
                f"<title>{escape(labels[i])}: {escape(bars.name)} {value:.0%}</title></rect>"
            )
    label_every = max(1, (n + 9) // 10)
    for i, label in enumerate(labels):
        if i % label_every == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{_H - 12}" text-anchor="middle" class="tick">'
                f"{escape(label)}</text>"
            )
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((x(i), y(value)))
        for run in runs:
            if len(run) == 1 and n > MAX_POINT_MARKERS:
                px, py = run[0]
                parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2" fill="{colour}"/>')
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" '
                    f'points="{points}"/>'
                )
        if n > MAX_POINT_MARKERS:
            continue  # a year of daily dots is noise, and thousands of SVG nodes
        for i, value in enumerate(s.values):
            if value is None:
                continue
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(labels[i])}: {escape(s.name)} {escape(_fmt(value))}</title>"
                "</circle>"
            )
    parts.append("</svg>")
    legend = [
        f'<span class="legend-item"><i style="background:{PALETTE[k % len(PALETTE)]}"></i>'
        f"{escape(s.name)}</span>"
        for k, s in enumerate(series)
    ]
    if bars is not None:
        legend.append(
            f'<span class="legend-item"><i class="bar-key"></i>{escape(bars.name)}</span>'
        )
    return Markup(
        '<figure class="chart-figure">'
        f"<figcaption>{escape(title)}</figcaption>"
        + "".join(parts)
        + f'<div class="legend">{"".join(legend)}</div>'
        + _data_table(title, labels, series, bars)
        + "</figure>"
    )


def _data_table(
    title: str, labels: Sequence[str], series: Sequence[Series], bars: Series | None
) -> str:
    """Return the chart's numbers as a table in a closed <details>: its text alternative.

    The SVG's label names the chart; a screen-reader user (or anyone who wants the exact
    figures) reads the values here, one row per day, one column per line.
    """
    columns = list(series) + ([bars] if bars is not None else [])
    head = "".join(f'<th scope="col">{escape(c.name)}</th>' for c in columns)
    rows = []
    for i, label in enumerate(labels):
        cells = []
        for c in columns:
            value = c.values[i] if i < len(c.values) else None
            if value is None:
                text = "no data"
            elif c is bars:
                text = f"{value:.0%}"
            else:
                text = _fmt(value)
            cells.append(f"<td>{escape(text)}</td>")
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{"".join(cells)}</tr>')
    return (
        '<details class="chart-data"><summary>Numbers behind this chart</summary>'
        # Focusable so that keyboard users can scroll the region (WCAG 2.1.1).
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{escape(title)}">'
        f'<table><caption class="visually-hidden">{escape(title)}'
        f'</caption><thead><tr><th scope="col">Day</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def nps(scores: Sequence[int]) -> float | None:
    """Return the Net Promoter Score (-100..100) of 0-10 answers, or None without answers."""
    bands = [nps_band(score) for score in scores]
    return net_promoter_score(
        bands.count(NpsBand.PROMOTER), bands.count(NpsBand.DETRACTOR), len(bands)
    )
