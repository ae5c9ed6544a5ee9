"""Report tables (availability, usage, capacity) for a period, read through any PointReader.

Everything is read through ``PointReader.query``, which the embedded store and InfluxQL both
implement, so both stores give the same numbers for the same data.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analytics.availability import Availability, Sample, availability, combine
from analytics.usage import Usage, hours_over, usage
from core.inventory import Inventory
from core.maintenance import expand
from core.schema import PointReader


@dataclass
class Period:
    start: float
    end: float

    @property
    def ns(self) -> tuple[int, int]:
        return int(self.start * 1e9), int(self.end * 1e9)


def _interval(times: Sequence[float], default: float) -> float:
    """The heartbeat interval the data was taken at (history may be coarser than today's setting)."""
    if len(times) < 3:
        return default
    steps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    return max(default, statistics.median(steps)) if steps else default


def availability_rows(inv: Inventory, reader: PointReader, p: Period, site: str | None = None) -> list[dict[str, Any]]:
    """One row per AP and one per site (sites: their APs' time summed); maintenance listed per row."""
    rows: list[dict[str, Any]] = []
    for s in inv.sites:
        if site and s.id != site:
            continue
        parts: list[Availability] = []
        for ap in s.aps:
            a0, a1 = p.ns
            hb = inv.poll_for(s, ap).heartbeat_s
            pts = reader.query("ap_ping", a0 - int(3 * 600 * 1e9), a1, {"ap": ap.id})
            samples = [Sample(q.time_ns / 1e9, bool(q.fields.get("reachable"))) for q in pts if "reachable" in q.fields]
            windows = expand(inv.maintenance, ap.id, s.id, p.start, p.end)
            a = availability(samples, p.start, p.end, _interval([x.t for x in samples], hb),
                             [(x, y) for x, y, _ in windows])
            parts.append(a)
            rows.append(_avail_row(s.id, s.name_ja, s.name_en, ap.id, ap.name_ja or ap.id, ap.name_en or ap.id, a,
                                   sorted({w for _, _, w in windows})))
        if parts:
            rows.append(_avail_row(s.id, s.name_ja, s.name_en, "*", "（拠点計）", "(site total)", combine(parts), []))
    return rows


def _avail_row(site: str, site_ja: str, site_en: str, ap: str, ap_ja: str, ap_en: str, a: Availability,
               maint: list[str]) -> dict[str, Any]:
    return {"site": site, "site_name_ja": site_ja, "site_name_en": site_en, "ap": ap, "ap_name_ja": ap_ja,
            "ap_name_en": ap_en,
            "availability_pct": None if a.pct is None else round(a.pct, 3), "up_h": round(a.up_s / 3600, 2),
            "down_h": round(a.down_s / 3600, 3), "unknown_h": round(a.unknown_s / 3600, 2),
            "maintenance_h": round(a.maintenance_s / 3600, 2), "outages": a.n_outages,
            "mttr_min": None if a.mttr_s is None else round(a.mttr_s / 60, 1),
            "longest_outage_min": None if a.longest_s is None else round(a.longest_s / 60, 1),
            "maintenance_windows": ",".join(maint)}


def _series(reader: PointReader, ap: str, p: Period) -> tuple[list[tuple[float, float]], list[tuple[float, float,
                                                                                                     float]]]:
    a0, a1 = p.ns
    clients = [(q.time_ns / 1e9, float(q.fields["clients"])) for q in reader.query("ap_status", a0, a1, {"ap": ap})
               if "clients" in q.fields]
    per_time: dict[float, list[float]] = {}
    for q in reader.query("ap_traffic", a0, a1, {"ap": ap}):
        if "rx_bps" in q.fields and "tx_bps" in q.fields:
            cell = per_time.setdefault(q.time_ns / 1e9, [0.0, 0.0])
            cell[0] += float(q.fields["rx_bps"])
            cell[1] += float(q.fields["tx_bps"])
    traffic = [(t, v[0], v[1]) for t, v in sorted(per_time.items())]
    return clients, traffic


def usage_by_ap(inv: Inventory, reader: PointReader, p: Period, site: str | None = None) -> dict[str, Usage]:
    out = {}
    for s, ap in inv.aps():
        if site and s.id != site:
            continue
        clients, traffic = _series(reader, ap.id, p)
        out[ap.id] = usage(clients, traffic, p.start, p.end)
    return out


def usage_rows(inv: Inventory, reader: PointReader, p: Period, site: str | None = None) -> list[dict[str, Any]]:
    """Per AP, per site and per site kind; with the previous period of equal length for comparison."""
    now = usage_by_ap(inv, reader, p, site)
    before = usage_by_ap(inv, reader, Period(2 * p.start - p.end, p.start), site)
    rows: list[dict[str, Any]] = []

    def row(level: str, key: str, name: str, us: list[Usage], prev: list[Usage]) -> dict[str, Any]:
        ch = sum(u.client_hours for u in us)
        ch0 = sum(u.client_hours for u in prev)
        return {"level": level, "id": key, "name": name, "peak_clients": max((u.peak_clients for u in us), default=0),
                "mean_clients": round(sum(u.mean_clients for u in us), 2), "client_hours": round(ch, 1),
                "rx_gb": round(sum(u.rx_gb for u in us), 3), "tx_gb": round(sum(u.tx_gb for u in us), 3),
                "client_hours_prev": round(ch0, 1),
                "change_pct": None if ch0 <= 0 else round(100 * (ch - ch0) / ch0, 1)}

    kinds: dict[str, list[str]] = {}
    for s in inv.sites:
        if site and s.id != site:
            continue
        ids = [a.id for a in s.aps]
        kinds.setdefault(s.kind.value, []).extend(ids)
        for ap in s.aps:
            rows.append(row("ap", ap.id, ap.name_ja or ap.id, [now[ap.id]], [before[ap.id]]))
        rows.append(row("site", s.id, s.name_ja, [now[i] for i in ids], [before[i] for i in ids]))
    for kind, ids in kinds.items():
        rows.append(row("kind", kind, kind, [now[i] for i in ids], [before[i] for i in ids]))
    return rows


def capacity_rows(inv: Inventory, reader: PointReader, p: Period, min_hours: float = 1.0,
                  radios: int = 2) -> list[dict[str, Any]]:
    """APs above capacity (per radio x radios) for more than ``min_hours``, most overloaded first."""
    rows = []
    for s, ap in inv.aps():
        clients, _ = _series(reader, ap.id, p)
        cap = inv.capacity_for(ap) * radios
        h = hours_over(clients, cap, p.start, p.end)
        if h > min_hours:
            rows.append({"site": s.id, "ap": ap.id, "name": ap.name_ja or ap.id, "capacity": cap,
                         "hours_over": round(h, 2), "peak_clients": int(max((c for _, c in clients), default=0))})
    return sorted(rows, key=lambda r: (-r["hours_over"], r["ap"]))
