"""Charts as inline SVG, written by hand: no library, nothing fetched, a few KB each.

Every point is a `<circle>` with a `<title>` (the browser's own tooltip, no JavaScript needed)
and a `data-tip` the page's script shows on hover. Every chart is a `<figure>` whose SVG has
`role="img"` and an `aria-label`, and whose caption says in words what the chart shows; the
numbers themselves are in the tables next to it. Text goes through `esc`, so a model name or a
task id from an untrusted report is text, never markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._text import esc, num

WIDTH, HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 150, 16, 40  # the right margin holds the legend
# Colour-blind safe (Okabe-Ito), in the order series are given.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MAX_POINTS = 120  # per series: a CDF of 5,000 chunk gaps is drawn from 120 quantiles


@dataclass
class Series:
    name: str
    points: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, hover text


@dataclass(frozen=True)
class Bar:
    label: str
    parts: list[tuple[str, float]]  # (part name, value), stacked left to right


def cdf_points(values: Sequence[float], unit: str) -> list[tuple[float, float, str]]:
    """The empirical CDF at up to MAX_POINTS quantiles, each with its hover text."""
    data = sorted(v for v in values if math.isfinite(v))
    if not data:
        return []
    n = len(data)
    picks = range(n) if n <= MAX_POINTS else sorted({round(i * (n - 1) / (MAX_POINTS - 1))
                                                     for i in range(MAX_POINTS)})
    return [(data[i], (i + 1) / n, f"{num(data[i])} {unit}: {(i + 1) / n:.0%} of {n} at or below")
            for i in picks]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int((high - start) / step) + 2) if start + i * step <= high + step / 2]


def _frame(title: str, summary: str, body: list[str], x_label: str, y_label: str) -> str:
    label = f"{title}. {summary}"
    return (f'<figure class="chart"><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{esc(title)}</title>" + "".join(body)
            + f'<text class="axis-label" x="{_LEFT + (WIDTH - _LEFT - _RIGHT) / 2:.0f}" '
              f'y="{HEIGHT - 4}" text-anchor="middle">{esc(x_label)}</text>'
            + f'<text class="axis-label" x="12" y="{_TOP + (HEIGHT - _TOP - _BOTTOM) / 2:.0f}" '
              f'text-anchor="middle" transform="rotate(-90 12 {_TOP + (HEIGHT - _TOP - _BOTTOM) / 2:.0f})">'
              f"{esc(y_label)}</text></svg>"
            f"<figcaption><strong>{esc(title)}</strong>: {esc(summary)}</figcaption></figure>")


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = _TOP + 8 + i * 18
        colour = PALETTE[i % len(PALETTE)]
        short = name if len(name) <= 22 else name[:21] + "…"
        out.append(f'<rect x="{WIDTH - _RIGHT + 12}" y="{y - 8}" width="12" height="10" fill="{colour}"/>'
                   f'<text class="legend" x="{WIDTH - _RIGHT + 28}" y="{y + 1}">{esc(short)}'
                   f"<title>{esc(name)}</title></text>")
    return out


def line_chart(title: str, series: Sequence[Series], *, x_label: str, y_label: str, summary: str,
               categories: Sequence[str] | None = None, y_from_zero: bool = True) -> str:
    """Lines through each series' points. With `categories`, x is an index into them (nights,
    levels); otherwise x is a number (milliseconds, concurrency)."""
    # a report may hold NaN or infinity (JSON as Python reads it): such a point is not drawn
    series = [Series(s.name, [p for p in s.points if math.isfinite(p[0]) and math.isfinite(p[1])])
              for s in series]
    drawn = [s for s in series if s.points]
    if not drawn:
        return f'<p class="empty">{esc(title)}: nothing to draw (no values).</p>'
    xs = [p[0] for s in drawn for p in s.points]
    ys = [p[1] for s in drawn for p in s.points]
    x0, x1 = (0.0, max(len(categories) - 1, 1)) if categories else (min(xs), max(xs))
    y0, y1 = (min(0.0, min(ys)) if y_from_zero else min(ys)), max(ys)
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 <= y0:
        y1 = y0 + (abs(y0) or 1)
    y1 += (y1 - y0) * 0.05  # headroom: the highest point is not cut by the frame
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    pad = 0.5 if categories else 0.0

    def sx(x: float) -> float:
        return _LEFT + (x - x0 + pad) / (x1 - x0 + 2 * pad) * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - (y - y0) / (y1 - y0) * plot_h

    body = [f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>']
    for tick in _ticks(y0, y1):
        if y0 <= tick <= y1:
            body.append(f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{sy(tick):.1f}" '
                        f'y2="{sy(tick):.1f}"/><text class="tick" x="{_LEFT - 6}" y="{sy(tick) + 4:.1f}" '
                        f'text-anchor="end">{esc(num(tick))}</text>')
    if categories:
        every = max(1, math.ceil(len(categories) / (plot_w // 90)))  # a label is ~80 px wide
        for i, cat in enumerate(categories):
            if i % every == 0:
                body.append(f'<text class="tick" x="{sx(i):.1f}" y="{_TOP + plot_h + 16}" '
                            f'text-anchor="middle">{esc(cat)}</text>')
    else:
        for tick in _ticks(x0, x1):
            if x0 <= tick <= x1:
                body.append(f'<text class="tick" x="{sx(tick):.1f}" y="{_TOP + plot_h + 16}" '
                            f'text-anchor="middle">{esc(num(tick))}</text>')
    for i, s in enumerate(series):
        if not s.points:
            continue
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in s.points)
        body.append(f'<g class="series" data-series="{esc(s.name)}">'
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        radius = 2.5 if len(s.points) > 30 else 4
        body += [f'<circle class="pt" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{radius}" fill="{colour}" '
                 f'data-tip="{esc(s.name + ": " + tip)}"><title>{esc(s.name + ": " + tip)}</title></circle>'
                 for x, y, tip in s.points]
        body.append("</g>")
    body += _legend([s.name for s in series])
    return _frame(title, summary, body, x_label, y_label)


def bar_chart(title: str, bars: Sequence[Bar], *, unit: str, summary: str) -> str:
    """Horizontal stacked bars, one per label (a task), parts in the palette's order."""
    bars = [Bar(b.label, [(n, v) for n, v in b.parts if math.isfinite(v)]) for b in bars]
    if not bars or not any(v > 0 for b in bars for _, v in b.parts):
        return f'<p class="empty">{esc(title)}: nothing to draw (no values).</p>'
    names = list(dict.fromkeys(name for b in bars for name, _ in b.parts))
    height = _TOP + _BOTTOM + 20 * len(bars)
    top = max(sum(v for _, v in b.parts) for b in bars) or 1
    plot_w = WIDTH - _LEFT - _RIGHT - 70
    left = _LEFT + 70
    body = []
    for row, b in enumerate(bars):
        y = _TOP + row * 20
        label = b.label if len(b.label) <= 22 else b.label[:21] + "…"
        body.append(f'<text class="tick" x="{left - 6}" y="{y + 12}" text-anchor="end">{esc(label)}'
                    f"<title>{esc(b.label)}</title></text>")
        x = float(left)
        for name, value in b.parts:
            if value <= 0:
                continue
            w = value / top * plot_w
            colour = PALETTE[names.index(name) % len(PALETTE)]
            tip = f"{b.label}: {name} {num(value)} {unit}"
            body.append(f'<rect class="pt" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="14" '
                        f'fill="{colour}" data-tip="{esc(tip)}"><title>{esc(tip)}</title></rect>')
            x += w
    for tick in _ticks(0, top):
        if tick <= top:
            tx = left + tick / top * plot_w
            body.append(f'<text class="tick" x="{tx:.1f}" y="{height - _BOTTOM + 14}" '
                        f'text-anchor="middle">{esc(num(tick))}</text>')
    body += _legend(names)
    svg = _frame(title, summary, body, unit, "")
    return svg.replace(f'viewBox="0 0 {WIDTH} {HEIGHT}"', f'viewBox="0 0 {WIDTH} {height}"', 1).replace(
        f'y="{HEIGHT - 4}"', f'y="{height - 4}"', 1)
