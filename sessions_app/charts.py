"""Server-rendered SVG charts for the dashboard: no JavaScript, so they render anywhere and
tests can read their numbers from the markup (``data-*`` attributes)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828"]
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 28


def _nice_max(value: float) -> float:
    """The axis top: the smallest 1, 2, 2.5 or 5 × 10^n at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value)


def _frame(title: str, y_max: float, unit: str, days: Sequence[dt.date], body: SafeString) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                TOP + plot_h * (1 - f),
                TOP + plot_h * (1 - f),
                LEFT - 4,
                TOP + plot_h * (1 - f) + 3,
                f"{y_max * f:g}{unit}",
            )
            for f in (0, 0.5, 1)
        ),
    )
    labels = ""
    if days:
        picks = {0, len(days) - 1, (len(days) - 1) // 2}
        labels = format_html_join(
            "",
            '<text x="{}" y="{}" font-size="10" text-anchor="{}" fill="#666">{}</text>',
            (
                (
                    _n(_x(i, len(days))),
                    HEIGHT - 8,
                    "end" if i == len(days) - 1 and i else "middle",
                    days[i].strftime("%b %d"),
                )
                for i in sorted(picks)
            ),
        )
    return format_html(
        '<figure class="chart"><figcaption><b>{}</b></figcaption>'
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}">{}{}{}</svg></figure>',
        title,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        title,
        grid,
        labels,
        body,
    )


def _n(value: float) -> str:
    """A coordinate as SVG text (``format_html`` escapes its arguments to strings first)."""
    return f"{value:.1f}"


def _x(index: int, count: int) -> float:
    plot_w = WIDTH - LEFT - RIGHT
    return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)


def _y(value: float, y_max: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h * (1 - value / y_max)


def line_chart(
    title: str,
    days: Sequence[dt.date],
    series: dict[str, Sequence[float | None]],
    unit: str = "",
) -> str:
    """Lines over days; a ``None`` value (no data that day) leaves a gap."""
    values = [v for points in series.values() for v in points if v is not None]
    if not values:
        return format_html(
            '<figure class="chart empty"><figcaption><b>{}</b></figcaption><p>No data yet.</p>'
            "</figure>",
            title,
        )
    y_max = _nice_max(max(values))
    parts = []
    for color, (name, points) in zip(COLORS, series.items(), strict=False):
        coords = [
            (_x(i, len(days)), _y(v, y_max), v, days[i])
            for i, v in enumerate(points)
            if v is not None
        ]
        polyline = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
        dots = format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3" fill="{}" data-day="{}" data-value="{}">'
            "<title>{}: {} {}{}</title></circle>",
            (
                (_n(x), _n(y), color, day.isoformat(), f"{v:g}", name, day, f"{v:g}", unit)
                for x, y, v, day in coords
            ),
        )
        parts.append(
            format_html(
                '<g class="series" data-series="{}"><polyline points="{}" fill="none" '
                'stroke="{}" stroke-width="2"/>{}</g>',
                name,
                polyline,
                color,
                dots,
            )
        )
    legend = format_html_join(
        "",
        '<tspan fill="{}" dx="10">■ {}</tspan>',
        ((color, name) for color, name in zip(COLORS, series, strict=False)),
    )
    body = format_html(
        '{}<text x="{}" y="12" font-size="11">{}</text>',
        SafeString("".join(parts)),
        LEFT,
        legend,
    )
    return _frame(title, y_max, unit, days, body)


def bar_chart(title: str, days: Sequence[dt.date], values: Sequence[float], unit: str = "") -> str:
    """One bar per day."""
    if not any(values):
        return format_html(
            '<figure class="chart empty"><figcaption><b>{}</b></figcaption><p>No data yet.</p>'
            "</figure>",
            title,
        )
    y_max = _nice_max(max(values))
    plot_w = WIDTH - LEFT - RIGHT
    bar_w = max(2.0, plot_w / max(len(days), 1) * 0.7)
    bars = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}" '
        'data-day="{}" data-value="{}"><title>{}: {}</title></rect>',
        (
            (
                _n(_x(i, len(days)) - bar_w / 2),
                _n(_y(v, y_max)),
                _n(bar_w),
                _n(_y(0, y_max) - _y(v, y_max)),
                COLORS[0],
                days[i].isoformat(),
                f"{v:g}",
                days[i],
                f"{v:g}",
            )
            for i, v in enumerate(values)
        ),
    )
    return _frame(title, y_max, unit, days, bars)


def latency_breakdown(turns: Sequence[dict], labels: dict[str, str]) -> str:
    """A session's per-turn latencies as grouped horizontal bars (one group per turn)."""
    rows = [t for t in turns if any(t.get(k) is not None for k in labels)]
    if not rows:
        return "No latency measured in this session."
    top = max((t.get(k) or 0) for t in rows for k in labels)
    x_max = _nice_max(top)
    bar_h, gap, left, width = 10, 8, 60, WIDTH
    group_h = bar_h * len(labels) + gap
    height = TOP + group_h * len(rows) + 20
    parts = []
    for row_index, turn in enumerate(rows):
        y0 = TOP + row_index * group_h
        parts.append(
            format_html(
                '<text x="4" y="{}" font-size="11">turn {}</text>', y0 + bar_h + 2, turn["index"]
            )
        )
        for k, (key, name) in enumerate(labels.items()):
            value = turn.get(key)
            if value is None:
                continue
            w = (width - left - RIGHT - 60) * value / x_max
            parts.append(
                format_html(
                    '<rect class="latency" x="{}" y="{}" width="{}" height="{}" fill="{}" '
                    'data-turn="{}" data-kind="{}" data-value="{}"><title>{}: {} ms</title>'
                    '</rect><text x="{}" y="{}" font-size="9" fill="#444">{} ms</text>',
                    left,
                    y0 + k * bar_h,
                    _n(w),
                    bar_h - 1,
                    COLORS[k % len(COLORS)],
                    turn["index"],
                    key,
                    f"{value:g}",
                    name,
                    f"{value:g}",
                    _n(left + w + 3),
                    y0 + k * bar_h + bar_h - 2,
                    f"{value:.0f}",
                )
            )
    legend = format_html_join(
        "",
        '<tspan fill="{}" dx="10">■ {}</tspan>',
        ((COLORS[i % len(COLORS)], name) for i, name in enumerate(labels.values())),
    )
    return format_html(
        '<figure class="chart latency-breakdown"><svg xmlns="http://www.w3.org/2000/svg" '
        'width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="Latency per turn">'
        '{}<text x="{}" y="{}" font-size="11">{}</text></svg></figure>',
        width,
        height,
        width,
        height,
        SafeString("".join(parts)),
        left,
        height - 4,
        legend,
    )
