"""Server-rendered SVG charts (no script, no library): line charts of DIALOG scores over sessions
and horizontal bar charts of KPI scores against their targets.

Each chart is an `<svg role="img">` named by its `<title>` and described by a `<desc>` that says
every value in words, so a screen reader user hears what a sighted user sees. Lines differ by
dash pattern and marker shape as well as by colour, and the baseline is drawn and labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.html import e

LOW, HIGH = 1.0, 7.0
"""The DIALOG scale: every item, and so both means, lies between 1 and 7."""

STYLES: tuple[tuple[str, str, str], ...] = (
    ("#005eb8", "", "circle"),
    ("#7c2855", "6 4", "square"),
    ("#007f3b", "2 3", "diamond"),
)
"""Colour, dash pattern and marker of the first, second and third line (NHS blue, plum, green)."""


@dataclass(frozen=True)
class Series:
    """One line: its label, its value at each session (None where there is none), its baseline."""

    label: str
    values: tuple[float | None, ...]
    baseline: float | None = None


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if shape == "diamond":
        points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
        return f'<polygon points="{points}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>'


def describe(sessions: tuple[str, ...], series: list[Series]) -> str:
    """Every value of every line in words (the chart's `<desc>`)."""
    sentences = []
    for line in series:
        said = [
            f"{_number(v)} on {when.replace(chr(10), ' at ')}"
            for when, v in zip(sessions, line.values, strict=True)
            if v is not None
        ]
        baseline = f" (baseline {_number(line.baseline)})" if line.baseline is not None else ""
        sentences.append(f"{line.label}{baseline}: {', '.join(said) if said else 'no score'}.")
    return " ".join(sentences)


def _opening(chart_id: str, title: str, description: str, width: int, height: int, left: int) -> list[str]:
    """An `<svg role="img">` named by its `<title>`, described by its `<desc>`, with the title shown."""
    return [
        f'<svg class="app-chart" id="{e(chart_id)}" role="img" aria-labelledby="{e(chart_id)}-title '
        f'{e(chart_id)}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="Arial, sans-serif" font-size="12">',
        f'<title id="{e(chart_id)}-title">{e(title)}</title>',
        f'<desc id="{e(chart_id)}-desc">{e(description)}</desc>',
        f'<text x="{left}" y="16" font-weight="bold" fill="#212b32">{e(title)}</text>',
    ]


def line_chart(
    chart_id: str,
    title: str,
    sessions: tuple[str, ...],
    series: list[Series],
    *,
    width: int = 640,
    height: int = 280,
    caption: str = "",
) -> str:
    """A line chart of `series` over `sessions` (their labels, oldest first; a line break starts a
    second line) on the 1 to 7 scale, with an optional caption under the axis."""
    left, right = 44, 40
    top = 30 + 18 * len(series) if len(series) > 1 else 28
    bottom = (62 if any("\n" in when for when in sessions) else 46) + (16 if caption else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(sessions) - 1, 1)

    def x_at(index: int) -> float:
        return left + (index * step if len(sessions) > 1 else plot_w / 2)

    def y_at(value: float) -> float:
        return top + plot_h * (HIGH - value) / (HIGH - LOW)

    parts = _opening(chart_id, title, describe(sessions, series), width, height, left)
    for level in range(int(LOW), int(HIGH) + 1):
        y = y_at(level)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dde0"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#4c6272">{level}</text>')
    for index, when in enumerate(sessions):
        anchor, shift = "middle", 0
        if len(sessions) > 1 and index == 0:
            anchor, shift = "start", -6
        elif len(sessions) > 1 and index == len(sessions) - 1:
            anchor, shift = "end", 6
        x = x_at(index) + shift
        lines = "".join(
            f'<tspan x="{x:.1f}" dy="{0 if number == 0 else 15}">{e(text)}</tspan>'
            for number, text in enumerate(when.split("\n"))
        )
        parts.append(f'<text y="{top + plot_h + 20:.1f}" text-anchor="{anchor}" fill="#4c6272">{lines}</text>')
    if caption:
        parts.append(f'<text x="{left}" y="{height - 6}" fill="#4c6272">{e(caption)}</text>')
    for number, line in enumerate(series):
        colour, dash, shape = STYLES[number % len(STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if line.baseline is not None:
            y = y_at(line.baseline)
            parts.append(
                f'<line class="app-chart-baseline" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{colour}" stroke-opacity="0.6" stroke-dasharray="1 4"/>'
            )
            parts.append(
                f'<text x="{left + plot_w / 2:.1f}" y="{y + 14:.1f}" text-anchor="middle" fill="{colour}">'
                f"Baseline {e(_number(line.baseline))}</text>"
            )
        points = [(x_at(i), y_at(v), v) for i, v in enumerate(line.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        for x, y, value in points:
            parts.append(_marker(shape, x, y, colour))
            parts.append(
                f'<text x="{x + 7:.1f}" y="{y - 7:.1f}" fill="{colour}" font-weight="bold">{e(_number(value))}</text>'
            )
    if len(series) > 1:
        for number, line in enumerate(series):
            colour, dash, shape = STYLES[number % len(STYLES)]
            x, y = left + 8, 32 + 18 * number
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x}" x2="{x + 24}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2.5"{dash_attr}/>'
            )
            parts.append(_marker(shape, x + 12, y, colour))
            parts.append(f'<text x="{x + 30}" y="{y + 4}" fill="#212b32">{e(line.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None when there is none to draw: suppressed or no data), the
    value in words as it is shown beside the bar, and the target it is judged against, if any."""

    label: str
    value: float | None
    text: str
    target: float | None = None
    target_text: str = ""
    # Kept whole when a long label is shortened in the picture: it tells apart two bars of one
    # measure, such as its median and its 90th percentile.
    suffix: str = ""


def describe_bars(bars: list[Bar]) -> str:
    """Every bar in words (the chart's `<desc>`)."""
    return " ".join(
        f"{bar.label}{bar.suffix}: {bar.text}{f' (target {bar.target_text})' if bar.target_text else ''}."
        for bar in bars
    )


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "\u2026"


def bar_chart(chart_id: str, title: str, bars: list[Bar], *, width: int = 760, label_width: int = 300) -> str:
    """A horizontal bar chart of `bars`, each with its value in words beside it and its target (if
    any) drawn as a dark vertical mark; the axis starts at zero (or below it for negative values).
    Long labels are shortened in the picture; the `<desc>` (and the page's table) has them whole."""
    row, top, bottom, right = 30, 48, 28, 170
    height = top + row * max(len(bars), 1) + bottom
    numbers = [v for bar in bars for v in (bar.value, bar.target) if v is not None]
    low, high = min([0.0, *numbers]), max([0.0, *numbers])
    if high == low:
        high = low + 1
    plot_w = width - label_width - right

    def x_at(value: float) -> float:
        return label_width + plot_w * (value - low) / (high - low)

    parts = _opening(chart_id, title, describe_bars(bars), width, height, 8)
    if any(bar.target is not None for bar in bars):
        parts.append(
            f'<line x1="{label_width}" x2="{label_width}" y1="26" y2="40" stroke="#212b32" stroke-width="3"/>'
            f'<text x="{label_width + 8}" y="37" fill="#212b32">Target</text>'
        )
    zero = x_at(0.0)
    bottom_y = top + row * len(bars)
    for tick in (low, 0.0, high) if low < 0 else (0.0, high):
        x = x_at(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{bottom_y}" stroke="#d8dde0"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom_y + 16}" text-anchor="middle" fill="#4c6272">{e(_number(tick))}</text>'
        )
    for index, bar in enumerate(bars):
        y = top + row * index
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" fill="#212b32">'
            f"{e(_short(bar.label, label_width // 7 - len(bar.suffix)) + bar.suffix)}</text>"
        )
        end = zero
        if bar.value is not None:
            start, end = sorted((zero, x_at(bar.value)))
            parts.append(
                f'<rect class="app-chart-bar" x="{start:.1f}" y="{y + 6}" width="{max(end - start, 1):.1f}" '
                f'height="{row - 12}" fill="{STYLES[0][0]}"/>'
            )
        if bar.target is not None:
            x = x_at(bar.target)
            parts.append(
                f'<line class="app-chart-target" x1="{x:.1f}" x2="{x:.1f}" y1="{y + 2}" y2="{y + row - 2}" '
                'stroke="#212b32" stroke-width="3"/>'
            )
            end = max(end, x)
        parts.append(f'<text x="{end + 8:.1f}" y="{y + 19}" fill="#212b32">{e(bar.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)
