"""Read a suppressed cube for a period from the visitor store: the one entry point reports, the console, open data
and the planner use, so they all read the same sessions the same way and hide the same cells."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from analytics.coverage import NoData
from analytics.visitors.cube import DAY_S, DEV, RETURN_DAYS, Cube, build_cube, day_start, month_range
from analytics.visitors.suppress import k_min, suppress
from core.inventory import Inventory

FLOW_HOURS = 3.0


def _has_sessions_table(path: Path) -> bool:
    """Whether the store file has visitor sessions at all, asked read-only: a report on a store without visitor
    sources (or on a read-only copy) must neither create tables nor fail."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'visitors_sessions'"
                                ).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # "then B within N hours": a walk between spots of one town, not the next day's trip


def read_cube(inv: Inventory, start: dt.date, end: dt.date, hours: bool = True, flow_hours: float = FLOW_HOURS,
              k: int | None = None, lang: str = "ja") -> Cube:
    """Sessions of the whole JST months covering [start, end) (and the 30 days before, to tell returning
    devices, when ``[visitors] returning`` is on), counted and suppressed at ``[visitors] k_min``.

    Raises :class:`~analytics.coverage.NoData` when there is no store or no session in [start, end)."""
    from core.visitors.store import VisitorStore

    path = Path(inv.store.path)
    nodata = f"{start} – {end}: " + ("データがありません" if lang == "ja" else "no data")
    if not path.exists() or not _has_sessions_table(path):
        raise NoData(nodata)
    first, stop = month_range(start, end)
    lead = RETURN_DAYS * DAY_S if inv.visitors.returning else 0
    store = VisitorStore(path)
    try:
        cube = build_cube(store.iter_sessions(day_start(first) - lead, day_start(stop)), inv, start, end, hours,
                          flow_hours)
    finally:
        store.close()
    a = (start - first).days
    b = a + (end - start).days
    if not cube.D[0, a:b, DEV].any():
        raise NoData(nodata)
    return suppress(cube, k_min(inv) if k is None else k)
