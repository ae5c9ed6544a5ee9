"""Report tables (availability, usage, capacity) for a period, read through any PointReader.

Both stores implement ``PointReader.query`` and the narrower column read of core.store.columns (``query_columns``)
with the same semantics, so both give the same numbers for the same data; a reader with only
``query`` gets the same columns built from its Points. Each measurement is read once per AP and period
(:func:`figures`), and ``write_monthly`` shares one set of figures between its tables.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.availability import Availability, availability_arrays, combine
from analytics.usage import Floats, Usage, client_hours, held_levels, hours_over_levels, usage_arrays
from core.inventory import AccessPoint, Inventory, Site
from core.maintenance import expand
from core.schema import PointReader
from core.store.columns import Columns, columns_from_points


@dataclass
class Period:
    start: float
    end: float

    @property
    def ns(self) -> tuple[int, int]:
        return int(self.start * 1e9), int(self.end * 1e9)


def _interval(times: Sequence[float] | Floats, default: float) -> float:
    """The heartbeat interval the data was taken at (history may be coarser than today's setting)."""
    t = np.asarray(times, dtype=np.float64)
    if len(t) < 3:
        return default
    steps = np.diff(t)
    steps = steps[steps > 0]
    return max(default, float(np.median(steps))) if len(steps) else default


# -- reading: each measurement once per AP and period, as columns ----------------------------------------
PING_LEAD_NS = int(3 * 600 * 1e9)  # availability reads pings from 30 minutes before the period


def read_columns(reader: PointReader, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str],
                 fields: Sequence[str]) -> list[Columns]:
    """``reader.query_columns`` where the reader has it (both stores do), else the same from ``reader.query``."""
    fast = getattr(reader, "query_columns", None)
    if fast is not None:
        out: list[Columns] = fast(measurement, start_ns, end_ns, tags, fields)
        return out
    return columns_from_points(reader.query(measurement, start_ns, end_ns, tags), fields)


def read_pruned_hours(reader: PointReader, measurement: str, field: str, start_ns: int, end_ns: int,
                      tags: Mapping[str, str]) -> list[Columns]:
    """Hours whose raw rows the store has pruned, with their rollup (``SqliteStore.pruned_hours``); none for a
    reader that does not prune (InfluxDB keeps raw points; no downsampling is set up)."""
    fn = getattr(reader, "pruned_hours", None)
    if fn is None:
        return []
    out: list[Columns] = fn(measurement, field, start_ns, end_ns, tags)
    return out


def _concat(cols: list[Columns], *fields: str) -> tuple[Floats, list[Floats]]:
    """All series' rows where every one of ``fields`` is present: times in seconds (series in key order, so
    rows at one time keep that order after a stable sort by time) and the fields' values."""
    ts, vs = [], []
    for c in cols:
        has = np.ones(len(c.time_ns), dtype=np.bool_)
        for f in fields:
            has &= ~np.isnan(c.values[f])
        ts.append(c.time_ns[has] / 1e9)
        vs.append([c.values[f][has] for f in fields])
    if not ts:
        return np.empty(0), [np.empty(0) for _ in fields]
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    return t[order], [np.concatenate([v[i] for v in vs])[order] for i in range(len(fields))]


@dataclass
class ApFigures:
    """One AP over one period: what the report tables need, computed from one read of each measurement."""

    availability: Availability | None = None
    maintenance: list[str] = field(default_factory=list)
    usage: Usage | None = None
    levels: tuple[Floats, Floats] | None = None  # client count -> seconds held at it (capacity)
    peak_sample: int = 0


def ap_figures(inv: Inventory, reader: PointReader, s: Site, ap: AccessPoint, p: Period,
               parts: Collection[str] = ("availability", "usage", "capacity")) -> ApFigures:
    a0, a1 = p.ns
    out = ApFigures()
    if "availability" in parts:
        t, (up,) = _concat(read_columns(reader, "ap_ping", a0 - PING_LEAD_NS, a1, {"ap": ap.id}, ["reachable"]),
                           "reachable")
        windows = expand(inv.maintenance, ap.id, s.id, p.start, p.end)
        hb = _interval(t, inv.poll_for(s, ap).heartbeat_s)
        out.availability = availability_arrays(t, up != 0, p.start, p.end, hb, [(x, y) for x, y, _ in windows])
        out.maintenance = sorted({w for _, _, w in windows})
    if "usage" in parts or "capacity" in parts:
        ct, (cv,) = _concat(read_columns(reader, "ap_status", a0, a1, {"ap": ap.id}, ["clients"]), "clients")
        if "capacity" in parts:
            out.levels = held_levels(ct, cv, p.start, p.end)
            out.peak_sample = int(cv.max()) if len(cv) else 0
        if "usage" in parts:
            tt, (rx, tx) = _concat(read_columns(reader, "ap_traffic", a0, a1, {"ap": ap.id}, ["rx_bps", "tx_bps"]),
                                   "rx_bps", "tx_bps")
            if len(tt) > 1 and bool(np.any(tt[1:] == tt[:-1])):  # several interfaces: add their rates per time
                tt, inv_idx = np.unique(tt, return_inverse=True)
                rx = np.bincount(inv_idx, weights=rx, minlength=len(tt)).astype(np.float64)
                tx = np.bincount(inv_idx, weights=tx, minlength=len(tt)).astype(np.float64)
            out.usage = usage_arrays(ct, cv, tt, rx, tx, p.start, p.end)
    return out


def figures(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
            parts: Collection[str] = ("availability", "usage", "capacity")) -> dict[str, ApFigures]:
    """Per AP (in inventory order): read each measurement the ``parts`` need once, compute, keep only the
    figures (a month of one AP's samples is a few MB; the figures are small)."""
    return {ap.id: ap_figures(inv, reader, s, ap, p, parts) for s, ap in inv.aps() if not site or s.id == site}


def availability_rows(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
                      figs: Mapping[str, ApFigures] | None = None) -> list[dict[str, Any]]:
    """One row per AP and one per site (sites: their APs' time summed); maintenance listed per row."""
    if figs is None:
        figs = figures(inv, reader, p, site, ("availability",))
    rows: list[dict[str, Any]] = []
    for s in inv.sites:
        if site and s.id != site:
            continue
        parts: list[Availability] = []
        for ap in s.aps:
            f = figs[ap.id]
            assert f.availability is not None
            parts.append(f.availability)
            rows.append(_avail_row(s.id, s.name_ja, s.name_en, ap.id, ap.name_ja or ap.id, ap.name_en or ap.id,
                                   f.availability, f.maintenance))
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


def usage_by_ap(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
                figs: Mapping[str, ApFigures] | None = None) -> dict[str, Usage]:
    if figs is None:
        figs = figures(inv, reader, p, site, ("usage",))
    out = {}
    for s, ap in inv.aps():
        if site and s.id != site:
            continue
        u = figs[ap.id].usage
        assert u is not None
        out[ap.id] = u
    return out


def previous_period(p: Period) -> Period:
    """The period of equal length just before ``p`` (what usage is compared with)."""
    return Period(2 * p.start - p.end, p.start)


def client_hours_by_ap(inv: Inventory, reader: PointReader, p: Period, site: str | None = None) -> dict[str, float]:
    """Client-hours per AP over ``p``, as :func:`usage_by_ap` counts them, using hourly rollups where raw rows
    were pruned.

    This is the previous period of the usage comparison: the embedded store keeps raw rows ``raw_retention_days``
    (35), so when the report for a month is written on the 1st, most of the month before it is left only as hourly
    rollups. Reading raw rows alone would count those hours as no use at all."""
    a0, a1 = p.ns
    out = {}
    for s, ap in inv.aps():
        if site and s.id != site:
            continue
        ct, (cv,) = _concat(read_columns(reader, "ap_status", a0, a1, {"ap": ap.id}, ["clients"]), "clients")
        count: dict[int, float] = {}
        total: dict[int, float] = {}
        for c in read_pruned_hours(reader, "ap_status", "clients", a0, a1, {"ap": ap.id}):
            for h, n, x in zip(c.time_ns.tolist(), c.values["count"].tolist(), c.values["sum"].tolist(), strict=True):
                count[h] = count.get(h, 0.0) + n  # several series of one AP: one stream, as for raw rows
                total[h] = total.get(h, 0.0) + x
        hs = sorted(count)
        rolled = (np.array(hs, dtype=np.float64) / 1e9, np.array([count[h] for h in hs], dtype=np.float64),
                  np.array([total[h] for h in hs], dtype=np.float64))
        out[ap.id] = client_hours(ct, cv, p.start, p.end, rolled=rolled)
    return out


def usage_rows(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
               now: Mapping[str, Usage] | None = None) -> list[dict[str, Any]]:
    """Per AP, per site and per site kind; with the previous period of equal length for comparison.

    The previous period's client-hours come from raw rows, and from hourly rollups for the hours whose raw rows
    were pruned (see :func:`client_hours_by_ap`), so the comparison stays right when the report is written on the
    1st, after most of the month before has been pruned."""
    if now is None:
        now = usage_by_ap(inv, reader, p, site)
    before = client_hours_by_ap(inv, reader, previous_period(p), site)
    rows: list[dict[str, Any]] = []

    def row(level: str, key: str, name: str, us: list[Usage], prev: list[float]) -> dict[str, Any]:
        ch = sum(u.client_hours for u in us)
        ch0 = sum(prev)
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
                  radios: int = 2, figs: Mapping[str, ApFigures] | None = None) -> list[dict[str, Any]]:
    """APs above capacity (per radio x radios) for more than ``min_hours``, most overloaded first."""
    if figs is None:
        figs = figures(inv, reader, p, None, ("capacity",))
    rows = []
    for s, ap in inv.aps():
        f = figs[ap.id]
        assert f.levels is not None
        cap = inv.capacity_for(ap) * radios
        h = hours_over_levels(*f.levels, cap)
        if h > min_hours:
            rows.append({"site": s.id, "ap": ap.id, "name": ap.name_ja or ap.id, "capacity": cap,
                         "hours_over": round(h, 2), "peak_clients": f.peak_sample})
    return sorted(rows, key=lambda r: (-r["hours_over"], r["ap"]))
