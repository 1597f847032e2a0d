"""The history chart of the nominal page: an SVG drawn on the server (no script, no external
asset), readable without colour (filled points = on a top list) and with a text equivalent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from harmrank.scoring import Month

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP = 64, 16, 28
HARM_BOTTOM = 180  # the harm panel: TOP..HARM_BOTTOM
FREQ_TOP, FREQ_BOTTOM = 200, 256  # the frequency panel


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return float(top)
    return float(10 * magnitude)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def history_svg(months: list[dict[str, Any]]) -> Markup:
    """Harm (line, top panel) and frequency (bars, bottom panel) per month. Months in which the
    nominal is not scored are left as gaps, never drawn as zero."""
    if not months:
        return Markup(
            f'<svg class="history-chart" role="img" viewBox="0 0 {WIDTH} 60" '
            f'xmlns="http://www.w3.org/2000/svg" aria-label="No scored months">'
            '<text x="10" y="35">Not scored in any month read.</text></svg>'
        )
    parsed = [(Month.parse(m["month"]), m) for m in months]
    first, last = parsed[0][0], parsed[-1][0]
    span = max(1, last.index - first.index)
    slot = (WIDTH - LEFT - RIGHT) / (span + 1)

    def x(month: Month) -> float:
        return LEFT + slot * (month.index - first.index) + slot / 2

    harm_max = _nice_max(max(float(Decimal(m["harm"])) for _, m in parsed))
    freq_max = _nice_max(max(int(m["frequency"]) for _, m in parsed))

    def y_harm(value: Any) -> float:
        return HARM_BOTTOM - (float(Decimal(value)) / harm_max) * (HARM_BOTTOM - TOP)

    parts: list[str] = []
    label = (
        f"Harm and frequency by month, {first} to {last}: "
        f"{len(parsed)} scored months, highest harm {max(Decimal(m['harm']) for _, m in parsed)}"
    )
    parts.append(
        f'<svg class="history-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}">'
    )
    parts.append(f"<title>{escape(label)}</title>")
    # axes and gridlines
    for frac in (0, 0.5, 1):
        yy = HARM_BOTTOM - frac * (HARM_BOTTOM - TOP)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(yy)}" y2="{_fmt(yy)}" />'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{_fmt(yy + 4)}" text-anchor="end">'
            f"{escape(f'{harm_max * frac:g}')}</text>"
        )
    parts.append(f'<text class="axis-title" x="{LEFT}" y="{TOP - 10}">Harm</text>')
    parts.append(
        f'<text class="axis-title" x="{LEFT}" y="{FREQ_TOP - 4}">Frequency (max {freq_max:g})</text>'
    )
    parts.append(
        f'<line class="axis-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{FREQ_BOTTOM}" y2="{FREQ_BOTTOM}" />'
    )
    # harm line, broken where a month is missing
    segments: list[list[str]] = []
    previous: Month | None = None
    for month, m in parsed:
        point = f"{_fmt(x(month))},{_fmt(y_harm(m['harm']))}"
        if previous is None or month.index != previous.index + 1:
            segments.append([point])
        else:
            segments[-1].append(point)
        previous = month
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline class="harm-line" points="{" ".join(seg)}" />')
    bar_width = max(2.0, min(24.0, slot * 0.6))
    every = -(-(span + 1) // 12)  # at most about 12 month labels
    for i, (month, m) in enumerate(parsed):
        on_list = bool(m["on_harm_list"] or m["on_frequency_list"])
        tip = (
            f"{month}: harm {m['harm']}, frequency {m['frequency']}, LPA {m['lpa']}, "
            f"harm rank {m['harm_rank'] if m['harm_rank'] is not None else '–'}, "
            f"frequency rank {m['frequency_rank']}"
            + ("; on a top list" if on_list else "")
            + ("; repeat suspect" if m["repeat_suspect"] else "")
        )
        cls = "point on-list" if on_list else "point"
        parts.append(
            f'<circle class="{cls}" data-month="{escape(str(month))}" cx="{_fmt(x(month))}" '
            f'cy="{_fmt(y_harm(m["harm"]))}" r="4"><title>{escape(tip)}</title></circle>'
        )
        height = (int(m["frequency"]) / freq_max) * (FREQ_BOTTOM - FREQ_TOP - 10)
        bar_tip = f"{month}: frequency {m['frequency']}"
        parts.append(
            f'<rect class="freq-bar" x="{_fmt(x(month) - bar_width / 2)}" '
            f'y="{_fmt(FREQ_BOTTOM - height)}" width="{_fmt(bar_width)}" height="{_fmt(height)}">'
            f"<title>{escape(bar_tip)}</title></rect>"
        )
        if (month.index - first.index) % every == 0 or i == len(parsed) - 1:
            parts.append(
                f'<text class="axis" x="{_fmt(x(month))}" y="{FREQ_BOTTOM + 16}" '
                f'text-anchor="middle">{escape(str(month))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
