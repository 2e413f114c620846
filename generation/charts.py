"""Charts drawn on the server as SVG: nothing to load, no script, and the same picture in every
browser. Each chart names itself (`<title>` and `<desc>`, read by screen readers), labels its
axis, and gives every bar or point a `<title>` (its tooltip). Colours come from CSS classes
(static/css/ledger.css), so the page's palette decides them.

Text is drawn at its own size: the SVG is WIDTH units wide and shown at most that wide, so a
phone shrinks it a little but never enlarges it."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 420
ROW = 34  # one bar: its label line and the bar under it
BAR = 11
TOP = 26  # room for the legend
AXIS = 30  # room under the bars for the scale and its label


@dataclass
class Bar:
    label: str
    values: Sequence[float]  # one per series, stacked left to right
    note: str = ""  # added to the tooltip: "Opening", "3 failed of 7"
    href: str = ""


@dataclass
class Series:
    name: str
    css: str  # a class in ledger.css: s-ok, s-bad, s-muted, s-accent


@dataclass
class Point:
    day: date
    value: float
    note: str = field(default="")


def number(value: float) -> str:
    """12 for 12.0, 12.3 for 12.34: what a person reads on a chart."""
    value = round(float(value), 1)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"


def _svg(title: str, desc: str, height: int, body: list[str], css: str) -> SafeString:
    slug = css.replace(" ", "-")
    head = (
        f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-labelledby="{slug}-t {slug}-d" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{slug}-t">{escape(title)}</title><desc id="{slug}-d">{escape(desc)}</desc>'
    )
    return mark_safe(head + "".join(body) + "</svg>")


def _legend(series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts, x = [], 0
    for s in series:
        parts.append(
            f'<rect class="{s.css}" x="{x}" y="6" width="10" height="10" rx="2"/>'
            f'<text class="legend" x="{x + 14}" y="15">{escape(s.name)}</text>'
        )
        x += 22 + 7 * len(s.name)
    return parts


def bar_chart(*, title: str, bars: Sequence[Bar], series: Sequence[Series], unit: str,
              css: str) -> SafeString:  # fmt: skip
    """Horizontal bars, in the order given, each stacked by series, scaled to the largest.
    An empty string when there is nothing to draw: the page shows its own empty state."""
    largest = max((sum(b.values) for b in bars), default=0)
    if largest <= 0:
        return mark_safe("")
    top = TOP if len(series) > 1 else 6
    height = top + ROW * len(bars) + AXIS
    body = _legend(series)
    for i, bar in enumerate(bars):
        y = top + i * ROW
        total = sum(bar.values)
        parts = ", ".join(
            f"{number(v)} {s.name.lower()}" for s, v in zip(series, bar.values, strict=True) if v
        )
        tip = f"{bar.label}: {number(total)} {unit}" + (f" ({parts})" if len(series) > 1 else "")
        tip += f" · {bar.note}" if bar.note else ""
        label = escape(bar.label)
        if bar.href:
            label = f'<a href="{escape(bar.href)}">{label}</a>'
        body.append(f'<g class="bar"><title>{escape(tip)}</title>'
                    f'<text class="label" x="0" y="{y + 12}">{label}</text>'
                    f'<text class="value" x="{WIDTH}" y="{y + 12}" text-anchor="end">'
                    f"{number(total)}</text>")  # fmt: skip
        x = 0.0
        for s, value in zip(series, bar.values, strict=True):
            if value > 0:
                w = max(value / largest * WIDTH, 1.5)
                body.append(f'<rect class="{s.css}" x="{x:.1f}" y="{y + 17}" width="{w:.1f}" '
                            f'height="{BAR}" rx="2"/>')  # fmt: skip
                x += w
        body.append("</g>")
    body += _scale(top + ROW * len(bars), largest, unit)
    desc = f"{len(bars)} bars, the largest {number(largest)} {unit}."
    return _svg(title, desc, height, body, css)


def _scale(y: int, largest: float, unit: str) -> list[str]:
    return [
        f'<line class="axis" x1="0" x2="{WIDTH}" y1="{y + 2}" y2="{y + 2}"/>',
        f'<text class="tick" x="0" y="{y + 15}">0</text>',
        f'<text class="tick" x="{WIDTH}" y="{y + 15}" text-anchor="end">{number(largest)}</text>',
        f'<text class="axis-label" x="{WIDTH / 2}" y="{y + 15}" text-anchor="middle">'
        f"{escape(unit)}</text>",
    ]


def line_chart(*, title: str, points: Sequence[Point], unit: str, css: str) -> SafeString:
    """One value per day, as a line over a shaded area with a dot per day; the first, middle
    and last days labelled under it. An empty string when there is nothing to draw."""
    largest = max((p.value for p in points), default=0)
    if largest <= 0:
        return mark_safe("")
    left, right, top, plot = 44, WIDTH - 8, 10, 150
    height = top + plot + 44
    step = (right - left) / (len(points) - 1) if len(points) > 1 else 0

    def xy(i: int, value: float) -> tuple[float, float]:
        x = left + i * step if len(points) > 1 else (left + right) / 2
        return x, top + plot - value / largest * plot

    coords = [xy(i, p.value) for i, p in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    base = top + plot
    body = [
        f'<line class="grid" x1="{left}" x2="{right}" y1="{top}" y2="{top}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{number(largest)}</text>',
        f'<text class="tick" x="{left - 6}" y="{base + 4}" text-anchor="end">0</text>',
        f'<line class="axis" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>',
        f'<polygon class="area" points="{coords[0][0]:.1f},{base} {line} {coords[-1][0]:.1f},{base}"/>',
        f'<polyline class="line" points="{line}"/>',
    ]  # fmt: skip
    for (x, y), p in zip(coords, points, strict=True):
        tip = f"{p.day.isoformat()}: {number(p.value)} {unit}" + (f" · {p.note}" if p.note else "")
        r = 3 if p.value else 1.5
        body.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="{r}">'
                    f"<title>{escape(tip)}</title></circle>")  # fmt: skip
    labelled = sorted({0, len(points) // 2, len(points) - 1})
    for i in labelled if len(points) > 2 else range(len(points)):
        x, _ = xy(i, 0)
        anchor = (
            "start"
            if i == 0 and len(points) > 1
            else "end"
            if i == len(points) - 1 and len(points) > 1
            else "middle"
        )
        body.append(f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="{anchor}">'
                    f"{points[i].day.strftime('%d %b')}</text>")  # fmt: skip
    body.append(f'<text class="axis-label" x="{(left + right) / 2}" y="{base + 36}" '
                f'text-anchor="middle">{escape(unit)} per day</text>')  # fmt: skip
    desc = (f"{len(points)} days from {points[0].day.isoformat()} to {points[-1].day.isoformat()}, "
            f"the most {number(largest)} {unit} in a day.")  # fmt: skip
    return _svg(title, desc, height, body, css)
