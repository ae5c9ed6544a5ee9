"""How each kind of figure is printed in the HTML/PDF reports: one decimal rule per kind, decided here.

The tables carry figures rounded for CSV and JSON (where a reader computes with them); the printed report
adds fixed decimals so that a column of availabilities reads 100.00 / 99.81 / 99.36, never 100.0 / 99.806.
"""

from __future__ import annotations

import math
from typing import Any

from jinja2 import Environment, select_autoescape

MISSING = "-"

#: decimals per kind of figure (a filter of the same name formats it)
DECIMALS: dict[str, int] = {
    "pct_avail": 2,  # availability: 99.95 vs 99.99 is the difference an SLA speaks of
    "pct": 1,  # coverage, utilisation, shares
    "change": 1,  # +3.4 (% change against a period)
    "hours": 1,  # hours down, observed
    "minutes": 0,  # MTTR, longest outage
    "mean": 1,  # mean concurrent clients
    "count": 0,  # peaks, outages, client-hours, APs
    "gb": 2,  # traffic in GB
    "dbm": 1,  # noise floor
}


def fmt(value: Any, kind: str) -> str:
    """``value`` printed with the decimals of ``kind``; None (or NaN) is "-", text passes through."""
    if value is None or isinstance(value, bool):
        return MISSING if value is None else str(value)
    if not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return MISSING
    digits = DECIMALS[kind]
    text = f"{value:,.{digits}f}"
    if kind == "change" and value > 0:
        text = "+" + text
    return text


def report_env() -> Environment:
    """The Jinja environment of the printed reports: autoescaped, with a filter per kind of figure."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    for kind in DECIMALS:
        env.filters[kind] = lambda v, _k=kind: fmt(v, _k)
    return env


#: CSS the printed reports share: A4 pages; Japanese names wrap only between words or at a line break
#: (``keep-all`` keeps a run of kana/kanji together; ``break-word`` splits one only if it cannot fit a line).
PRINT_CSS = (
    "@page{size:A4;margin:12mm 10mm}"
    "td,th{word-break:keep-all;line-break:strict;overflow-wrap:break-word}"
    "td:not(.l){white-space:nowrap}"
    "@media print{body{margin:0;max-width:none;font-size:12px}table{font-size:10.5px}"
    "td,th{padding:2px 5px}h2{break-after:avoid}tr{break-inside:avoid}}"
)
