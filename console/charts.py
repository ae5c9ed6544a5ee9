"""Line charts as inline SVG, drawn on the server: no chart library, no script, works on a closed network.

Every label passes through markupsafe's escape; numbers are formatted here. A gap in the data (NaN) breaks
the line rather than drawing across it, so an outage or a collector that was off is visible as such.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

from console.history import Chart
from core.maintenance import JST

W, H = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 28
COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700")


def axis(vmax: float, integer: bool = False, top: float | None = None) -> tuple[float, float]:
    """(top, step) of a y axis people read at a glance: 3-5 ticks at 1, 2 or 5 x 10^k (25 for a 0-100 % axis),
    whole numbers for counts (3.8 clients has ticks 0 1 2 3 4, never 1.2 / 2.5 / 3.8)."""
    if top is not None:
        return top, top / 4 if top == 100 else _nice_step(top / 4, integer)
    if not math.isfinite(vmax) or vmax <= 0:
        vmax = 4.0 if integer else 1.0
    step = _nice_step(vmax / 5, integer)
    return max(1, math.ceil(vmax / step - 1e-9)) * step, step


def _nice_step(raw: float, integer: bool) -> float:
    k = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next((m * k for m in (1, 2, 5, 10) if raw <= m * k * (1 + 1e-9)), 10 * k)
    return max(1.0, round(step)) if integer else float(step)


def tick_text(v: float, step: float) -> str:
    """A tick label with as many decimals as its step needs (0.25 -> 2, 5 -> 0)."""
    if step >= 1 or v == 0:
        return f"{v:,.0f}"
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{v:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def chart_data(c: Chart, labels: dict[str, str] | None = None, y_top: float | None = None,
               integer: bool = False) -> str:
    """The chart's points as JSON for console/static/charts.js (hover values, drag to zoom): epoch seconds and
    one array per line, null where there is no data, and the same y axis as the SVG, which stays the page's
    content without script."""
    labels = labels or {}
    finite = [float(np.nanmax(ln.values)) for ln in c.lines if len(ln.values) and not np.all(np.isnan(ln.values))]
    top, tick = axis(max(finite, default=0.0), integer, y_top)
    return json.dumps({"t": [int(x) for x in c.times], "step": c.step, "top": top, "tick": tick,
                       "lines": [{"label": labels.get(ln.label, ln.label),
                                  "v": [None if math.isnan(x) else round(float(x), 3) for x in ln.values]}
                                 for ln in c.lines]}, ensure_ascii=False, separators=(",", ":"))


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
               y_top: float | None = None, integer: bool = False) -> Markup:
    """The chart as an ``<svg>`` element; ``labels`` names the lines (field or radio -> text)."""
    labels = labels or {}
    n = len(c.lines[0].values) if c.lines else 0
    finite = [float(np.nanmax(ln.values)) for ln in c.lines
              if n and not np.all(np.isnan(ln.values))]
    top, tick = axis(max(finite, default=0.0), integer, y_top)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    xs = [LEFT + pw * (i + 0.5) / max(n, 1) for i in range(n)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="{escape(title)}" class="chart">', f"<title>{escape(title)}</title>"]
    for i in range(round(top / tick) + 1):
        v = i * tick
        y = TOP + ph * (1 - v / top)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#57606a" '
                     f'class="ytick">{escape(tick_text(v, tick))}</text>')
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
