"""What the 状況 page shows: the fleet snapshot (collector.snapshot) with its open incidents.

No decision is made here: states, reasons, counts and data age come from core.state through collector.snapshot,
the same object ``/status``, ``wifiwatch status`` and both maps render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.alerts.store import AlertStore
from collector.snapshot import DeviceView as DeviceRow
from collector.snapshot import FleetSnapshot as Fleet
from collector.snapshot import SiteView as SiteRow
from collector.snapshot import read_snapshot
from core.inventory import Inventory, Maintenance
from core.maintenance import active_windows
from core.state import RANK

__all__ = ["RANK", "DeviceRow", "Fleet", "SiteRow", "fleet_status", "windows"]


def windows(inv: Inventory, alerts: AlertStore) -> list[Maintenance]:
    """The config's windows and the ones added at run time (core.maintenance.active_windows: the one merge)."""
    return active_windows(inv.maintenance, alerts.maintenance())


def fleet_status(inv: Inventory, store: Any, alerts: AlertStore, now: float, lang: str = "ja",
                 states: Mapping[str, Any] | None = None) -> Fleet:
    """``states``: the alert engine's own (the daemon passes them; read from the store otherwise)."""
    return read_snapshot(inv, store, alerts, now, lang, states, with_incidents=True)
