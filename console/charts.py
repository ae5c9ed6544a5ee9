"""Line charts as inline SVG, drawn on the server: no chart library, no script, works on a closed network.

Every label passes through markupsafe's escape; numbers are formatted here. A gap in the data (NaN) breaks
the line rather than drawing across it, so an outage or a collector that was off is visible as such.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

from console.history import Chart
from core.maintenance import JST

W, H = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 28
COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700")


def nice_max(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``v`` (an axis top people read easily)."""
    if not math.isfinite(v) or v <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * k * (1 + 1e-9):
            return float(m * k)
    return float(10 * k)


def _fmt(v: float) -> str:
    if v >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.1f}" if v >= 1 else f"{v:.2g}"


def _time_label(ts: float, step: int) -> str:
    t = dt.datetime.fromtimestamp(ts, JST)
    if step >= 86400:
        return t.strftime("%Y/%m")
    if step >= 1800:
        return t.strftime("%m/%d")
    return t.strftime("%H:%M")


def _paths(xs: Sequence[float], ys: np.ndarray) -> list[str]:
    out: list[list[str]] = []
    cur: list[str] = []
    for x, y in zip(xs, ys, strict=True):
        if math.isnan(y):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(f"{x:.1f},{y:.1f}")
    if cur:
        out.append(cur)
    return ["M" + " L".join(p) if len(p) > 1 else f"M{p[0]} l0.1,0" for p in out]


def line_chart(c: Chart, title: str, unit: str, labels: dict[str, str] | None = None,
               y_top: float | None = None) -> Markup:
    """The chart as an ``<svg>`` element; ``labels`` names the lines (field or radio -> text)."""
    labels = labels or {}
    n = len(c.lines[0].values) if c.lines else 0
    finite = [float(np.nanmax(ln.values)) for ln in c.lines
              if n and not np.all(np.isnan(ln.values))]
    top = y_top if y_top is not None else nice_max(max(finite, default=0.0))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    xs = [LEFT + pw * (i + 0.5) / max(n, 1) for i in range(n)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="{escape(title)}" class="chart">', f"<title>{escape(title)}</title>"]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + ph * (1 - frac)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#57606a">'
                     f"{escape(_fmt(top * frac))}</text>")
    ticks = 6
    for k in range(ticks + 1):
        i = min(n - 1, round(k * (n - 1) / ticks)) if n else 0
        if not n:
            break
        ts = c.start + c.step * i
        anchor = "end" if k == ticks else ("start" if k == 0 else "middle")
        parts.append(f'<text x="{xs[i]:.1f}" y="{H - 8}" text-anchor="{anchor}" font-size="11" fill="#57606a">'
                     f"{escape(_time_label(ts, c.step))}</text>")
    for j, ln in enumerate(c.lines):
        color = COLORS[j % len(COLORS)]
        ys = TOP + ph * (1 - np.clip(ln.values / top, 0, 1.05))
        for d in _paths(xs, np.where(np.isnan(ln.values), np.nan, ys)):
            parts.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.6" '
                         'stroke-linejoin="round"/>')
        lx = LEFT + 8 + 140 * j
        parts.append(f'<rect x="{lx}" y="{TOP + 2}" width="10" height="3" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="{TOP + 8}" font-size="11" fill="#1f2328">'
                     f"{escape(labels.get(ln.label, ln.label))}</text>")
    parts.append(f'<text x="4" y="{TOP + 4}" font-size="10" fill="#57606a">{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
