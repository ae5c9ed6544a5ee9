"""What the 状況 page shows: every site and AP with its state, clients now, since when and open incidents.

States: up (稼働), degraded (品質低下), down (停止), maintenance (保守中, an active window covers it) and
unknown (不明: no confirmed state yet). Reads the alert state machine's confirmed states, the newest
``ap_status`` point per AP and the open incidents: a few queries for the whole fleet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.alerts.state import DeviceState
from collector.alerts.store import AlertStore, Incident
from core.inventory import Inventory, Maintenance
from core.maintenance import JST, covering
from core.schema import newest_live_per_device

RANK = {"down": 4, "degraded": 3, "unknown": 2, "maintenance": 1, "up": 0}


@dataclass
class DeviceRow:
    id: str
    name: str
    role: str  # "ap" or "uplink"
    state: str
    since: float | None
    clients: int | None
    vendor: str | None
    incidents: list[Incident] = field(default_factory=list)

    @property
    def clients_text(self) -> str:
        return "-" if self.clients is None or self.state == "down" else str(self.clients)

    @property
    def since_text(self) -> str:
        return "-" if self.since is None else dt.datetime.fromtimestamp(self.since, JST).strftime("%m/%d %H:%M")


@dataclass
class SiteRow:
    id: str
    name: str
    devices: list[DeviceRow]

    @property
    def state(self) -> str:
        return max((d.state for d in self.devices), key=RANK.__getitem__, default="unknown")

    @property
    def clients(self) -> int:
        return sum(d.clients or 0 for d in self.devices if d.role == "ap" and d.state != "down")


@dataclass
class Fleet:
    sites: list[SiteRow]
    at: float

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(RANK, 0)
        for s in self.sites:
            for d in s.devices:
                if d.role == "ap":
                    out[d.state] += 1
        return out


def windows(inv: Inventory, alerts: AlertStore) -> list[Maintenance]:
    """The config's windows and the ones added at run time (console, ``wifiwatch alerts maintenance``)."""
    adhoc = []
    for wid, target, start, end, reason in alerts.maintenance():
        try:
            adhoc.append(Maintenance(id=wid, target=target, start=dt.datetime.fromisoformat(start),
                                     end=dt.datetime.fromisoformat(end), reason=reason))
        except ValueError:
            continue  # a row the validator would refuse now is shown nowhere rather than crashing the page
    return [*inv.maintenance, *adhoc]


def _latest(store: Any) -> dict[str, tuple[Any, str | None]]:
    """AP id -> (clients, vendor) of its newest live ap_status row (a simulated one only when no live one exists):
    one query where the store can (SqliteStore)."""
    if hasattr(store, "latest_fields"):
        rows = newest_live_per_device(store.latest_fields("ap_status", ("clients",)), lambda r: r[0], lambda r: r[1])
        return {dev: (vals[0], tags.get("vendor")) for dev, (tags, _, vals) in rows.items()}
    points = newest_live_per_device(store.latest("ap_status").values(), lambda p: p.tags, lambda p: p.time_ns)
    return {dev: (p.fields.get("clients"), p.tags.get("vendor")) for dev, p in points.items()}


def fleet_status(inv: Inventory, store: Any, alerts: AlertStore, now: float, lang: str = "ja",
                 states: Mapping[str, DeviceState] | None = None) -> Fleet:
    """``states``: the alert engine's own (the daemon passes them; read from the store otherwise)."""
    states = alerts.load_states() if states is None else states
    latest = _latest(store)
    open_by_dev: dict[str, list[Incident]] = {}
    for inc in alerts.incidents(open_only=True):
        open_by_dev.setdefault(inc.device, []).append(inc)
    wins = windows(inv, alerts)
    sites = []
    for site in inv.sites:
        devices = [*([(site.uplink, "uplink")] if site.uplink else []), *[(a, "ap") for a in site.aps]]
        rows = []
        for dev, role in devices:
            st = states.get(dev.id)
            state = st.confirmed.value if st is not None else "unknown"
            if state not in RANK:
                state = "unknown"
            if covering(wins, dev.id, site.id, now) is not None:
                state = "maintenance"
            clients, vendor = latest.get(dev.id, (None, None))
            name = getattr(dev, "name_ja" if lang == "ja" else "name_en", None) or dev.id
            rows.append(DeviceRow(dev.id, name, role, state, st.since if st is not None else None,
                                  int(clients) if isinstance(clients, int | float) else None, vendor,
                                  open_by_dev.get(dev.id, [])))
        sites.append(SiteRow(site.id, site.name_ja if lang == "ja" else site.name_en, rows))
    return Fleet(sites, now)
