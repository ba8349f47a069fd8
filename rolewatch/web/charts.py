"""Charts drawn on the server as inline SVG: no script, nothing fetched, readable without CSS.

Only numbers and escaped labels go into the markup; colours come from classes in the stylesheet
(the Content-Security-Policy allows no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from storage.trends import CloseTimes, DailyCounts

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


def activity_chart(counts: DailyCounts) -> Markup:
    """New (and reopened) postings above the axis and closed ones below it, one pair of bars per day."""
    title = "Postings opened (above) and closed (below) per day"
    peak = max([*counts.opened, *counts.closed, 1])
    plot_h = HEIGHT - TOP - BOTTOM
    middle = TOP + plot_h / 2
    slot = (WIDTH - LEFT - RIGHT) / max(len(counts.days), 1)
    bars = []
    for index, day in enumerate(counts.days):
        x = LEFT + index * slot + slot * 0.1
        up = counts.opened[index] / peak * plot_h / 2
        down = counts.closed[index] / peak * plot_h / 2
        label = escape(f"{day.isoformat()}: {counts.opened[index]} opened, {counts.closed[index]} closed")
        width = f'width="{slot * 0.8:.1f}"'
        bars.append(
            f"<g><title>{label}</title>"
            f'<rect class="bar-opened" x="{x:.1f}" y="{middle - up:.1f}" {width} height="{up:.1f}"/>'
            f'<rect class="bar-closed" x="{x:.1f}" y="{middle:.1f}" {width} height="{down:.1f}"/></g>'
        )
    axis = (
        f'<line class="axis" x1="{LEFT}" y1="{middle:.1f}" x2="{WIDTH - RIGHT}" y2="{middle:.1f}"/>'
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{peak}</text>'
        f'<text class="tick" x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end">{peak}</text>'
    )
    return _svg(title, axis + "".join(bars) + _day_labels(counts, slot))


def open_chart(counts: DailyCounts) -> Markup:
    """Open postings at the end of each day, as a line."""
    title = "Open postings at the end of each day"
    values = counts.open_at_end
    low, high = min([*values, 0]), max([*values, 1])
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    scale = plot_h / (high - low or 1)
    points = " ".join(
        f"{LEFT + index * slot + slot / 2:.1f},{TOP + plot_h - (value - low) * scale:.1f}"
        for index, value in enumerate(values)
    )
    body = (
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>'
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{high}</text>'
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">{low}</text>'
        f'<polyline class="line-open" points="{points}"/>'
    )
    return _svg(title, body + _day_labels(counts, slot))


def close_time_chart(times: CloseTimes) -> Markup:
    """How long closed postings had been open, as a histogram over day ranges."""
    title = "Days from first seen to closed"
    labels = bucket_labels(times.buckets)
    peak = max([*times.counts, 1])
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / len(labels)
    bars = []
    for index, (label, count) in enumerate(zip(labels, times.counts, strict=True)):
        x = LEFT + index * slot + slot * 0.15
        height = count / peak * plot_h
        bars.append(
            f"<g><title>{escape(label)} days: {count}</title>"
            f'<rect class="bar-close-time" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{height:.1f}"/>'
            f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(label)}</text></g>"
        )
    axis = (
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>'
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{peak}</text>'
    )
    return _svg(title, axis + "".join(bars))


def bucket_labels(buckets: Sequence[int]) -> list[str]:
    """`0–1`, `1–3`, …, `90+`."""
    ends = [*buckets[1:], None]
    return [
        f"{low}–{high}" if high is not None else f"{low}+" for low, high in zip(buckets, ends, strict=True)
    ]


def _day_labels(counts: DailyCounts, slot: float) -> str:
    """The first, middle and last day under the axis; more would crowd a phone's width."""
    days = counts.days
    if not days:
        return ""
    picks = sorted({0, len(days) // 2, len(days) - 1})
    return "".join(
        f'<text class="tick" x="{LEFT + index * slot + slot / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{days[index].strftime('%d %b')}</text>"
        for index in picks
    )


def _svg(title: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )
