"""What both coverage maps (the daemon's map.html and the console's 地図) draw from the store: each AP's
30-day availability (analytics.recent, the same figure as 状況's 30日 column) and the usage heat (client-hours
per AP over 30 days, scaled to the busiest). Both come from the hourly rollups in one grouped query each."""

from __future__ import annotations

from typing import Any

from analytics.planner.demand import ap_position
from analytics.recent import read_client_hours, read_recent
from core.inventory import Inventory

DAYS = 30


def availability_30d(inv: Inventory, store: Any, now: float) -> dict[str, float | None]:
    return {k: r.pct for k, r in read_recent(inv, store, now, DAYS).items()}


def usage_heat(inv: Inventory, store: Any, now: float) -> list[tuple[float, float, float]]:
    """(lat, lon, weight 0-1] per AP with any use; empty when the store has no rolled-up client counts."""
    known = {a.id for _, a in inv.aps()}
    hours = {ap: v for ap, v in read_client_hours(store, now, DAYS).items() if ap in known}
    if not hours:
        return []
    top = max(hours.values())
    return [(*ap_position(inv, ap), v / top) for ap, v in hours.items()]
