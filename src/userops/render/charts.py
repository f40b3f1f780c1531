"""Inline SVG charts from small, display-ready data: no JavaScript, no network, print-safe.

Every function returns one ``<svg>`` element as a string, sized by its ``viewBox`` (it scales
to the page width) with a ``<title>`` for screen readers. Every piece of text that came from
the data (segment, event, channel names...) goes through :func:`esc`, so a name such as
``<script>`` is drawn as text and never runs.
"""

from __future__ import annotations

import math
from html import escape
from typing import Callable, Sequence

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d")
FONT = "font-family=\"inherit\" font-size=\"11\""


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 × a power of ten)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet"><title>{esc(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    y_max: float | None = None,
    step: bool = False,
    width: int = 680,
    height: int = 240,
) -> str:
    """One line per series over shared x labels (None = a gap); ``step`` draws a step function
    (survival curves). A legend is drawn when there is more than one series."""
    left, right, top, bottom = 64, 16, 14, 40
    legend = len(series) > 1
    if legend:
        top += 18 * math.ceil(len(series) / 4)
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, ys in series for v in ys if v is not None and math.isfinite(v)]
    top_value = y_max if y_max is not None else _nice_max(max(values) if values else 1.0)
    n = max(1, len(x_labels) - 1)
    x = lambda i: left + plot_w * (i / n if len(x_labels) > 1 else 0.5)  # noqa: E731
    y = lambda v: top + plot_h * (1 - v / top_value)  # noqa: E731
    body = []
    for k in range(5):  # gridlines and y labels
        tick = top_value * k / 4
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e7eb"/>')
        body.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#6b7280" {FONT}>{esc(y_format(tick))}</text>')
    every = max(1, math.ceil(len(x_labels) / 8))
    last = len(x_labels) - 1
    for i, label in enumerate(x_labels):
        # every n-th label, none crowding the last one, which is always shown (right-aligned)
        if i == last or (i % every == 0 and last - i >= every / 2):
            anchor = "end" if i == last and last > 0 else "middle"
            body.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" fill="#6b7280" {FONT}>{esc(label)}</text>')
    for s, (name, ys) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = []
        run: list[tuple[float, float]] = []
        for i, v in enumerate(ys):
            if v is None or not math.isfinite(v):
                if run:
                    runs.append(run)
                run = []
                continue
            if step and run:
                run.append((x(i), run[-1][1]))
            run.append((x(i), y(v)))
        if run:
            runs.append(run)
        for points in runs:
            if len(points) == 1:
                px, py = points[0]
                body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>')
            else:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
                body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        if legend:
            lx, ly = left + (s % 4) * (plot_w / 4), 14 + 18 * (s // 4)
            body.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
            body.append(f'<text x="{lx + 14:.1f}" y="{ly}" fill="#374151" {FONT}>{esc(name)}</text>')
    return _svg(width, height, title, body)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_labels: Sequence[str] | None = None,
    width: int = 680,
    bar_height: int = 22,
) -> str:
    """Horizontal bars, one per label, longest scale first as given (segments, funnel steps)."""
    left, right, gap = 170, 90, 8
    height = max(1, len(labels)) * (bar_height + gap) + gap
    top_value = max([v for v in values if v is not None and math.isfinite(v)] or [1.0]) or 1.0
    plot_w = width - left - right
    body = []
    for i, (label, v) in enumerate(zip(labels, values)):
        y0 = gap + i * (bar_height + gap)
        w = 0 if v is None or not math.isfinite(v) else max(1.0, plot_w * v / top_value)
        shown = label if len(str(label)) <= 24 else str(label)[:23] + "…"
        body.append(f'<text x="{left - 8}" y="{y0 + bar_height / 2 + 4:.1f}" text-anchor="end" fill="#374151" {FONT}>{esc(shown)}</text>')
        body.append(f'<rect x="{left}" y="{y0}" width="{w:.1f}" height="{bar_height}" rx="3" fill="{PALETTE[0]}"/>')
        text = value_labels[i] if value_labels is not None else f"{v:,.0f}"
        body.append(f'<text x="{left + w + 6:.1f}" y="{y0 + bar_height / 2 + 4:.1f}" fill="#374151" {FONT}>{esc(text)}</text>')
    return _svg(width, height, title, body)
