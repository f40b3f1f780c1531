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
#: Text size in the chart's own units. Charts are drawn WIDTH units wide and shown 480-520 px
#: wide (half the page on a screen, a scroll box's minimum on a phone), so 12 units stay at
#: 11 px or more where they are read; a full-width chart is shown larger.
FONT_SIZE = 12
FONT = f'font-family="inherit" font-size="{FONT_SIZE}"'
WIDTH = 520
#: Average width of a character in FONT_SIZE units (a CJK character takes a whole em), used
#: to keep tick labels apart.
CHAR_WIDTH = 0.62 * FONT_SIZE
#: Round steps for an axis of whole days: weeks, months, quarters, years.
DAY_STEPS = (1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650)


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def nice_ticks(top: float, *, most: int = 6, whole: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``top``: a step of 1, 2, 2.5 or 5 × a power of ten,
    at most ``most`` ticks (0/25/50/75/100 %, 0/5,000/10,000...). ``whole``: the axis shows
    whole numbers, so the step is at least 1 (never 0, 0, 1, 1 for 0/0.25/0.5/0.75)."""
    if top <= 0 or not math.isfinite(top):
        top = 1.0
    power = 10 ** math.floor(math.log10(top / (most - 1)))
    for multiple in (1, 2, 2.5, 5, 10, 20, 25, 50):
        step = multiple * power
        if whole and (step < 1 or step != int(step)):
            continue
        count = math.ceil(top / step - 1e-9)
        if count + 1 <= most:
            return [step * k for k in range(count + 1)]
    return [0.0, top]  # pragma: no cover - the multiples above always fit


def day_ticks(last: float, *, most: int = 7) -> list[int]:
    """Whole-day ticks from 0 past ``last`` on a round step (0/90/180... for a year and a half)."""
    step = next((s for s in DAY_STEPS if math.ceil(last / s) + 1 <= most), DAY_STEPS[-1])
    return [step * k for k in range(math.ceil(last / step) + 1)]


def text_width(text: str) -> float:
    """The width of ``text`` at FONT_SIZE, estimated (a CJK character is about one em)."""
    return sum(FONT_SIZE if ord(ch) > 0x2E80 else CHAR_WIDTH for ch in str(text))


def thinned(positions: Sequence[float], labels: Sequence[str], *, gap: float = 10.0) -> list[int]:
    """Which labels to draw so that none overlaps another: every n-th (centred on its point),
    the smallest n that fits the widest label, and the last one (right-aligned at the end,
    so it needs half a label more room; the label before it gives way when it is short of it)."""
    n = len(labels)
    if n <= 1:
        return list(range(n))
    widest = max(text_width(label) for label in labels) + gap
    spacing = abs(positions[-1] - positions[0]) / (n - 1) or widest
    every = max(1, math.ceil(widest / spacing))
    keep = [i for i in range(0, n, every) if i != n - 1]
    # the first label is left-aligned at its point (clear of the y axis's labels) and the
    # last right-aligned: each needs half a label more room from its neighbour
    if len(keep) > 1 and abs(positions[keep[1]] - positions[0]) < 1.5 * widest:
        del keep[1]
    while keep and abs(positions[-1] - positions[keep[-1]]) < 1.5 * widest:
        keep.pop()
    return keep + [n - 1]


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
    x_days: bool = False,
    whole: bool = False,
    bands: Sequence[tuple[int, int, str]] = (),
    width: int = WIDTH,
    height: int = 230,
) -> str:
    """One line per series over shared x labels (None = a gap); ``step`` draws a step function
    (survival curves). ``bands`` shade the x positions first..last (both included) behind
    the lines, named at the top where the name fits (promotion windows). ``x_days``: the labels are whole days, placed by value and labelled on
    a round step (0/90/180...). ``whole``: the y labels are whole numbers (ticks a whole step
    apart). The y axis has round ticks; x labels are thinned so that none overlaps. A legend
    is drawn when there is more than one series."""
    left, right, top, bottom = 58, 14, 12, 32
    legend = len(series) > 1
    per_row = 3
    if legend:
        top += 18 * math.ceil(len(series) / per_row)
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, ys in series for v in ys if v is not None and math.isfinite(v)]
    ticks = nice_ticks(y_max if y_max is not None else (max(values) if values else 1.0), most=5, whole=whole)
    top_value = ticks[-1]
    if x_days:
        days = [float(label) for label in x_labels]
        extent = days[-1] - days[0] if days else 0.0
        span = max(extent, 1.0)
        x = lambda i: left + plot_w * (days[i] - days[0]) / span  # noqa: E731
    else:
        n = max(1, len(x_labels) - 1)
        x = lambda i: left + plot_w * (i / n if len(x_labels) > 1 else 0.5)  # noqa: E731
    y = lambda v: top + plot_h * (1 - v / top_value)  # noqa: E731
    body = []
    for tick in ticks:  # gridlines and y labels
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e7eb"/>')
        body.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#4b5563" {FONT}>{esc(y_format(tick))}</text>')
    if bands and not x_days:
        half = plot_w / max(1, len(x_labels) - 1) / 2 if len(x_labels) > 1 else plot_w / 2
        for first, last, name in bands:
            x0, x1 = max(left, x(first) - half), min(width - right, x(last) + half)
            body.append(f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{plot_h}" fill="#fde68a" fill-opacity="0.45"/>')
            if text_width(name) + 4 <= x1 - x0:
                body.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{top + 12}" text-anchor="middle" fill="#92400e" {FONT}>{esc(name)}</text>')
    baseline = height - bottom + 20
    if x_days:
        for day in day_ticks(extent):
            if day > extent:
                break
            px = left + plot_w * day / span
            body.append(f'<text x="{px:.1f}" y="{baseline}" text-anchor="middle" fill="#4b5563" {FONT}>{day:,}</text>')
    else:
        positions = [x(i) for i in range(len(x_labels))]
        last = len(x_labels) - 1
        for i in thinned(positions, x_labels):
            anchor = "end" if i == last and last > 0 else "start" if i == 0 and last > 0 else "middle"
            body.append(f'<text x="{positions[i]:.1f}" y="{baseline}" text-anchor="{anchor}" fill="#4b5563" {FONT}>{esc(x_labels[i])}</text>')
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
            lx, ly = left + (s % per_row) * (plot_w / per_row), 14 + 18 * (s // per_row)
            room = plot_w / per_row - 18
            shown = _fit(str(name), room)
            body.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
            body.append(f'<text x="{lx + 14:.1f}" y="{ly}" fill="#374151" {FONT}>{esc(shown)}</text>')
    return _svg(width, height, title, body)


def _fit(text: str, room: float) -> str:
    """``text``, or as much of it as fits ``room`` units with an ellipsis."""
    if text_width(text) <= room:
        return text
    while text and text_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_labels: Sequence[str] | None = None,
    width: int = WIDTH,
    bar_height: int = 22,
) -> str:
    """Horizontal bars, one per label, longest scale first as given (segments, funnel steps)."""
    texts = list(value_labels) if value_labels is not None else [f"{v:,.0f}" for v in values if v is not None and math.isfinite(v)]
    # room on the right for the longest value label beside a full-length bar
    left, right, gap = 150, max(96, 16 + round(6.6 * max((len(t) for t in texts), default=0))), 8
    height = max(1, len(labels)) * (bar_height + gap) + gap
    top_value = max([v for v in values if v is not None and math.isfinite(v)] or [1.0]) or 1.0
    plot_w = width - left - right
    body = []
    for i, (label, v) in enumerate(zip(labels, values)):
        y0 = gap + i * (bar_height + gap)
        w = 0 if v is None or not math.isfinite(v) else max(1.0, plot_w * v / top_value)
        shown = _fit(str(label), left - 12)
        body.append(f'<text x="{left - 8}" y="{y0 + bar_height / 2 + 4:.1f}" text-anchor="end" fill="#374151" {FONT}>{esc(shown)}</text>')
        body.append(f'<rect x="{left}" y="{y0}" width="{w:.1f}" height="{bar_height}" rx="3" fill="{PALETTE[0]}"/>')
        text = value_labels[i] if value_labels is not None else f"{v:,.0f}"
        body.append(f'<text x="{left + w + 6:.1f}" y="{y0 + bar_height / 2 + 4:.1f}" fill="#374151" {FONT}>{esc(text)}</text>')
    return _svg(width, height, title, body)


def waterfall_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_labels: Sequence[str],
    width: int = WIDTH,
    bar_height: int = 22,
) -> str:
    """Horizontal waterfall: the first and last values are totals (bars from 0), the ones
    between steps from the running total (green up, red down) — a revenue bridge."""
    left, right, gap = 150, 96, 8
    height = max(1, len(labels)) * (bar_height + gap) + gap
    running, spans = 0.0, []
    for i, v in enumerate(values):
        if i == 0 or i == len(values) - 1:
            spans.append((0.0, v, PALETTE[0]))
            running = v
        else:
            spans.append((running, running + v, "#16a34a" if v >= 0 else PALETTE[3]))
            running += v
    low = min([0.0] + [min(a, b) for a, b, _ in spans])
    high = max([0.0] + [max(a, b) for a, b, _ in spans]) or 1.0
    plot_w = width - left - right
    x_of = lambda v: left + plot_w * (v - low) / ((high - low) or 1.0)  # noqa: E731
    body = []
    for i, (label, (a, b, colour)) in enumerate(zip(labels, spans)):
        y0 = gap + i * (bar_height + gap)
        x0, x1 = sorted((x_of(a), x_of(b)))
        body.append(f'<text x="{left - 8}" y="{y0 + bar_height / 2 + 4:.1f}" text-anchor="end" fill="#374151" {FONT}>{esc(_fit(str(label), left - 12))}</text>')
        body.append(f'<rect x="{x0:.1f}" y="{y0}" width="{max(1.0, x1 - x0):.1f}" height="{bar_height}" rx="2" fill="{colour}"/>')
        body.append(f'<text x="{max(x0, x1) + 6:.1f}" y="{y0 + bar_height / 2 + 4:.1f}" fill="#374151" {FONT}>{esc(value_labels[i])}</text>')
    if low < 0:  # the zero line, when a bar goes below it
        body.append(f'<line x1="{x_of(0):.1f}" x2="{x_of(0):.1f}" y1="0" y2="{height}" stroke="#9ca3af"/>')
    return _svg(width, height, title, body)
