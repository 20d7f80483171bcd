"""Server-side SVG charts for the overview page: readable without JavaScript, nothing loaded
from elsewhere. Each chart is a plain <svg> with a <title> per bar (the browser's tooltip) and
its numbers also in the page's table and CSV. Every label is escaped."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = (
    "#417690",
    "#e0a030",
    "#5b9f5b",
    "#c0504d",
    "#8064a2",
    "#4bacc6",
    "#9b7653",
    "#a0a0a0",
)
WIDTH = 720
HEIGHT = 230
LEFT, RIGHT, TOP, BOTTOM = 84, 64, 12, 40


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (an axis top)."""
    if value <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    return next(step * base for step in (1, 2, 5, 10) if step * base >= value)


def _axis(top: float, fmt: Callable[[float], str], x: int, anchor: str) -> list[str]:
    inner = HEIGHT - TOP - BOTTOM
    out = []
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - inner * i / 4
        if anchor == "end":
            out.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                'stroke="#ddd" stroke-width="1"/>'
            )
        out.append(
            f'<text x="{x}" y="{y + 4:.1f}" text-anchor="{anchor}" font-size="15" '
            f'fill="#555">{escape(fmt(value))}</text>'
        )
    return out


def _frame(label: str, parts: list[str]) -> SafeString:
    body = "".join(parts)
    return mark_safe(  # every text in it went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(label)}" class="overview-chart">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def stacked_bars(
    *,
    label: str,
    buckets: Sequence[dt.date | dt.datetime],
    series: Sequence[tuple[str, Sequence[float]]],
    fmt: Callable[[float], str],
    bucket_label: Callable[[dt.date | dt.datetime], str],
    tick_every: int = 7,
) -> SafeString:
    """One bar per bucket, the series stacked in order (first at the bottom)."""
    n = len(buckets)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    top = _nice_max(max(totals, default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(n, 1)
    bar = max(slot * 0.75, 1)
    parts = _axis(top, fmt, LEFT - 6, "end")
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        base = HEIGHT - BOTTOM
        for s, (name, values) in enumerate(series):
            value = values[i]
            if value <= 0:
                continue
            h = inner_h * value / top
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(bucket_label(bucket))} · '
                f"{escape(name)}: {escape(fmt(value))}</title></rect>"
            )
        if i % tick_every == 0 or (i == n - 1 and i % tick_every > tick_every // 2):
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle" '
                f'font-size="15" fill="#555">{escape(bucket_label(bucket))}</text>'
            )
    return _frame(label, parts)


def bars_and_rate(
    *,
    label: str,
    buckets: Sequence[dt.datetime],
    counts: Sequence[int],
    rates: Sequence[float | None],
    bucket_label: Callable[[dt.datetime], str],
    tick_every: int = 12,
) -> SafeString:
    """Calls per bucket as bars (left axis) and the error rate as a line (right axis, 0-100 %)."""
    n = len(buckets)
    top = _nice_max(max(counts, default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(n, 1)
    bar = max(slot * 0.7, 1)
    parts = _axis(top, lambda v: f"{v:,.0f}" if v == int(v) else f"{v:,.2f}", LEFT - 6, "end")
    parts += _axis(100, lambda v: f"{v:.0f} %", WIDTH - RIGHT + 6, "start")
    points = []
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        h = inner_h * counts[i] / top
        rate = rates[i]
        tip = f"{bucket_label(bucket)}: {counts[i]:,} calls" + (
            f", {rate * 100:.1f} % errors" if rate is not None else ""
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(tip)}</title></rect>'
        )
        if rate is not None:
            points.append(f"{x + bar / 2:.1f},{HEIGHT - BOTTOM - inner_h * rate:.1f}")
        if i % tick_every == 0 or (i == n - 1 and i % tick_every > tick_every // 2):
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle" '
                f'font-size="15" fill="#555">{escape(bucket_label(bucket))}</text>'
            )
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[3]}" '
            'stroke-width="2" class="error-rate"/>'
        )
    return _frame(label, parts)


def legend(names: Sequence[str]) -> SafeString:
    items = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(name)}</li>"
        for i, name in enumerate(names)
    )
    return mark_safe(f'<ul class="overview-legend">{items}</ul>')  # escaped above
