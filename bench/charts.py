"""Small hand-written SVG line charts: latency against rate, one line per series."""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 200, 40, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22"]
DASHES = {"p50": "", "p95": "6 3", "p99": "2 3"}


def _ticks(top: float, count: int = 5) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(top / step) + 2)]


def line_chart(title: str, x_label: str, y_label: str,
               series: list[tuple[str, list[tuple[float, float]]]]) -> str:
    """An SVG document; each series is (label, [(x, y)]); a label ending in p50/p95/p99 gets
    that line style."""
    points = [(x, y) for _, values in series for x, y in values if y is not None]
    x_ticks = _ticks(max((x for x, _ in points), default=1.0))
    y_ticks = _ticks(max((y for _, y in points), default=1.0))
    x_top, y_top = x_ticks[-1] or 1.0, y_ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + x / x_top * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / y_top * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
             f'<title>{escape(title)}</title>',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">'
             f'{escape(title)}</text>']
    for x in x_ticks:
        parts.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{TOP + plot_h}" '
                     'stroke="#eee"/>')
        parts.append(f'<text x="{px(x):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                     f'{x:g}</text>')
    for y in y_ticks:
        parts.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{LEFT + plot_w}" y2="{py(y):.1f}" '
                     'stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
                 'stroke="#333"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    families: dict[str, str] = {}
    for number, (label, values) in enumerate(series):
        family = label.rsplit(" ", 1)[0]
        colour = families.setdefault(family, COLOURS[len(families) % len(COLOURS)])
        dash = DASHES.get(label.rsplit(" ", 1)[-1], "")
        shown = [(x, y) for x, y in values if y is not None]
        if shown:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in shown)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2" stroke-dasharray="{dash}"/>')
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>'
                      for x, y in shown]
        legend_y = TOP + 10 + number * 18
        parts.append(f'<line x1="{LEFT + plot_w + 12}" y1="{legend_y}" x2="{LEFT + plot_w + 40}" '
                     f'y2="{legend_y}" stroke="{colour}" stroke-width="2" '
                     f'stroke-dasharray="{dash}"/>')
        parts.append(f'<text x="{LEFT + plot_w + 46}" y="{legend_y + 4}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
