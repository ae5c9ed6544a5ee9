"""Measured visitors for the planner (issue 24 point 4): the one function analytics.planner calls to put measured
people beside the estimated ones. The planner package owns how they weigh; this only measures.

Person-days (daily unique devices summed) over the last ``days`` JST days, scaled to a year, per site; a hidden
day counts as nothing (never guessed), and the site's figure is itself hidden under ``k_min``, so the planner gets
no number a report would not show. A device is not a person (one person may carry two, a randomised address can
change): the figure is "devices a year", labelled so where the planner shows it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from core.inventory import Inventory


@dataclass(frozen=True)
class MeasuredVisitors:
    site_id: str
    lat: float
    lon: float
    devices_per_year: float  # person-days over the window x 365 / days shown
    days_shown: int  # days with a shown figure (the rest hidden or without sessions)
    simulated: bool


def measured_visitors(inv: Inventory, days: int = 30, now: float | None = None) -> dict[str, MeasuredVisitors]:
    """Per site with a shown figure in the last ``days`` days before ``now``; {} without a visitor store or
    sessions."""
    from analytics.coverage import NoData
    from analytics.visitors.cube import DEV, JST_OFFSET
    from analytics.visitors.load import read_cube

    t = time.time() if now is None else now
    end = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + int((t + JST_OFFSET) // 86400))
    start = end - dt.timedelta(days=days)
    try:
        cube = read_cube(inv, start, end, hours=False)
    except NoData:
        return {}
    a = (start - dt.date(1970, 1, 1)).days - cube.first_day
    b = a + days
    out = {}
    for i, u in enumerate(cube.units):
        if u.level != "site" or u.lat is None or u.lon is None:
            continue
        counts, hidden = cube.D[i, a:b, DEV], cube.S_D[i, a:b, DEV]
        shown = (~hidden) & (counts > 0)
        if not shown.any():
            continue
        out[u.id] = MeasuredVisitors(u.id, u.lat, u.lon, float(counts[shown].sum()) * 365.0 / days,
                                     int(shown.sum()), bool(cube.D_sim[i, a:b].any()))
    return out
