"""Observed demand at existing APs, from the ap_status client counts in either store."""

from __future__ import annotations

from analytics.planner.demand import ApDemand
from core.inventory import Inventory
from core.schema import PointReader


def observed_demand(inv: Inventory, reader: PointReader, start_ns: int, end_ns: int,
                    radios: int = 2) -> dict[str, ApDemand]:
    """Client-hours, peak clients and hours above capacity (per radio x ``radios``) per AP."""
    out: dict[str, ApDemand] = {}
    for _site, ap in inv.aps():
        pts = [p for p in reader.query("ap_status", start_ns, end_ns, {"ap": ap.id}) if "clients" in p.fields]
        if not pts:
            continue
        capacity = inv.capacity_for(ap) * radios
        hours = sat = 0.0
        peak = 0
        for a, b in zip(pts, pts[1:], strict=False):
            dt_h = min((b.time_ns - a.time_ns) / 3.6e12, 0.25)  # a gap longer than 15 min is not counted
            c = int(a.fields["clients"])
            hours += c * dt_h
            sat += dt_h if c > capacity else 0.0
        peak = max(int(p.fields["clients"]) for p in pts)
        out[ap.id] = ApDemand(ap.id, round(hours, 1), peak, round(sat, 2))
    return out
