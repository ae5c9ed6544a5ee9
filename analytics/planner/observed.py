"""Observed demand at existing APs, from the ap_status client counts in either store."""

from __future__ import annotations

from analytics.planner.demand import ApDemand
from core.inventory import Inventory
from core.schema import PointReader

BUSY_SHARE = 0.8  # an AP at 80 % of its association capacity serves badly: the usual Wi-Fi design margin


def observed_demand(inv: Inventory, reader: PointReader, start_ns: int, end_ns: int,
                    radios: int = 2) -> dict[str, ApDemand]:
    """Client-hours, peak clients, busy hours and client-hours above the busy level per AP.

    Busy means at or above BUSY_SHARE of capacity (per radio x ``radios``): the people above that level are the
    overflow a nearby new AP would take over (demand.build_demand turns it into visitors a year).
    """
    out: dict[str, ApDemand] = {}
    period_days = max((end_ns - start_ns) / 86400e9, 1e-9)
    for _site, ap in inv.aps():
        pts = [p for p in reader.query("ap_status", start_ns, end_ns, {"ap": ap.id}) if "clients" in p.fields]
        if not pts:
            continue
        busy = inv.capacity_for(ap) * radios * BUSY_SHARE
        hours = sat = excess = 0.0
        for a, b in zip(pts, pts[1:], strict=False):
            dt_h = min((b.time_ns - a.time_ns) / 3.6e12, 0.25)  # a gap longer than 15 min is not counted
            c = int(a.fields["clients"])
            hours += c * dt_h
            if c >= busy:
                sat += dt_h
                excess += (c - busy) * dt_h
        peak = max(int(p.fields["clients"]) for p in pts)
        out[ap.id] = ApDemand(ap.id, round(hours, 1), peak, round(sat, 2), round(excess, 2), period_days)
    return out


def observed_from_store(inv: Inventory, days: int = 30) -> dict[str, ApDemand] | None:
    """Observed demand from the embedded SQLite store over the last ``days``, or None when there is no store yet."""
    import time
    from pathlib import Path

    from core.store.sqlite_store import SqliteStore

    path = Path(inv.store.path)
    if not path.exists():
        return None
    store = SqliteStore(path, inv.store)
    try:
        end = time.time_ns()
        return observed_demand(inv, store, end - days * 86400 * 10**9, end)
    finally:
        store.close()
