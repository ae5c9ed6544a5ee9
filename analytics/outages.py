"""Outages found in stored history: the same ones the reports count, listed where 障害 and the timelines show them.

One definition: an outage is a down run of an AP's stored heartbeats outside maintenance
(analytics.availability, computed per AP by ``analytics.tables.figures``: the very figures the availability table,
the monthly and the 年度 reports count and time). The alert engine's incidents are what it saw live; history can
hold more (the demo's simulated month, a store copied from another collector, outages before alerting was set
up). :func:`stored_outages` returns the history's outages that no recorded incident of that device covers, each
marked ``simulated`` when it lies within the demo's simulated history, so 障害 never hides an outage a report
counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.inventory import Inventory
from core.schema import SIMULATED_TAG


@dataclass(frozen=True)
class StoredOutage:
    site: str
    device: str
    start: float
    end: float
    simulated: bool  # within the demo's simulated history (labelled 模擬データ wherever shown)
    kind: str = "down"

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def simulated_until(store: Any) -> dict[str, float]:
    """AP id -> the time of its newest simulated heartbeat (the end of the demo's history for it)."""
    out: dict[str, float] = {}
    if hasattr(store, "latest_fields"):
        rows = [(tags, t) for tags, t, _ in store.latest_fields("ap_ping", ())]
    elif hasattr(store, "latest"):
        rows = [(p.tags, p.time_ns) for p in store.latest("ap_ping").values()]
    else:
        return out
    for tags, t in rows:
        if tags.get(SIMULATED_TAG) == "true" and "ap" in tags:
            out[tags["ap"]] = max(out.get(tags["ap"], 0.0), t / 1e9)
    return out


def stored_outages(inv: Inventory, reader: Any, start: float, end: float, site: str | None = None,
                   incidents: Iterable[Any] = (), sim_until: Mapping[str, float] | None = None) -> list[StoredOutage]:
    """The outages of every AP (of ``site``) in [start, end) by the reports' own figures, less those a recorded
    incident of the same device overlaps (the incident is the same outage, seen live), newest first."""
    from analytics.tables import Period, figures

    figs = figures(inv, reader, Period(start, end), site, ("availability",))
    seen: dict[str, list[tuple[float, float]]] = {}
    for i in incidents:
        if i.kind in ("down", "site_down"):
            seen.setdefault(i.device, []).append((i.start, i.end if i.end is not None else end))
    sims = sim_until or {}
    out: list[StoredOutage] = []
    for s, ap in inv.aps():
        if site and s.id != site:
            continue
        f = figs.get(ap.id)
        if f is None or f.availability is None:
            continue
        for a, b in f.availability.outages:
            if any(x < b and a < y for x, y in seen.get(ap.id, ())):
                continue
            out.append(StoredOutage(s.id, ap.id, a, b, a < sims.get(ap.id, float("-inf"))))
    return sorted(out, key=lambda o: -o.start)
