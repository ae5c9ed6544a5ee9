"""Report tables (availability, usage, capacity) for a period, read through any PointReader.

Both stores implement ``PointReader.query`` and the narrower column read of core.store.columns (``query_columns``)
with the same semantics, so both give the same numbers for the same data; a reader with only
``query`` gets the same columns built from its Points. Each measurement is read once per AP and period
(:func:`figures`), and ``write_monthly`` shares one set of figures between its tables.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from analytics import coverage as cov
from analytics.availability import Availability, availability_arrays, combine
from analytics.coverage import Coverage
from analytics.figures import ApFigures, Period, group_peak, hourly_mean_held
from analytics.hourly import can_aggregate, hourly_figures
from analytics.usage import (
    Floats,
    Usage,
    client_hours_observed,
    client_pieces,
    held_levels,
    hours_over_levels,
    usage_arrays,
)
from core.inventory import AccessPoint, Inventory, Site
from core.maintenance import expand
from core.schema import PointReader
from core.store.columns import Columns, columns_from_points


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


def simulated_share(cols: list[Columns]) -> float:
    """The share of rows that come from simulated series (tagged by analytics.synthetic)."""
    n = sum(len(c.time_ns) for c in cols)
    sim = sum(len(c.time_ns) for c in cols if c.tags.get(cov.SIMULATED_TAG) == "true")
    return 0.0 if n == 0 else sim / n


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


def ap_figures(inv: Inventory, reader: PointReader, s: Site, ap: AccessPoint, p: Period,
               parts: Collection[str] = ("availability", "usage", "capacity")) -> ApFigures:
    a0, a1 = p.ns
    end = p.data_end
    out = ApFigures()
    if "availability" in parts:
        cols = read_columns(reader, "ap_ping", a0 - PING_LEAD_NS, a1, {"ap": ap.id}, ["reachable"])
        t, (up,) = _concat(cols, "reachable")
        windows = expand(inv.maintenance, ap.id, s.id, p.start, end)
        hb = _interval(t, inv.poll_for(s, ap).heartbeat_s)
        a = availability_arrays(t, up != 0, p.start, end, hb, [(x, y) for x, y, _ in windows])
        out.availability = a
        out.maintenance = sorted({w for _, _, w in windows})
        seen_h = a.watched_s / 3600
        out.availability_cov = Coverage(p.hours, p.elapsed_h, seen_h, a.maintenance_s / 3600,
                                        seen_h * simulated_share(cols))
    if "usage" in parts or "capacity" in parts:
        cols = read_columns(reader, "ap_status", a0, a1, {"ap": ap.id}, ["clients"])
        ct, (cv,) = _concat(cols, "clients")  # the AP's series pooled: one stream whatever its tags
        sim = simulated_share(cols)
        if "usage" in parts and len(ct):
            out.clients_hourly = hourly_mean_held(*client_pieces(ct, cv, p.start, end), p.start, end)
        if "capacity" in parts:
            out.levels = held_levels(ct, cv, p.start, end)
            out.peak_sample = int(cv.max()) if len(cv) else 0
            seen_h = float(out.levels[1].sum()) / 3600
            out.usage_cov = Coverage(p.hours, p.elapsed_h, seen_h, 0.0, seen_h * sim)
        if "usage" in parts:
            tt, (rx, tx) = _concat(read_columns(reader, "ap_traffic", a0, a1, {"ap": ap.id}, ["rx_bps", "tx_bps"]),
                                   "rx_bps", "tx_bps")
            if len(tt) > 1 and bool(np.any(tt[1:] == tt[:-1])):  # several interfaces: add their rates per time
                tt, inv_idx = np.unique(tt, return_inverse=True)
                rx = np.bincount(inv_idx, weights=rx, minlength=len(tt)).astype(np.float64)
                tx = np.bincount(inv_idx, weights=tx, minlength=len(tt)).astype(np.float64)
            out.usage = usage_arrays(ct, cv, tt, rx, tx, p.start, end)
            out.usage_cov = Coverage(p.hours, p.elapsed_h, out.usage.observed_h, 0.0, out.usage.observed_h * sim)
    return out


BATCH_APS = 500  # APs read together from an aggregating store: memory follows this, not the fleet


def site_batches(inv: Inventory, site: str | None = None,
                 size: int = BATCH_APS) -> list[list[tuple[Site, AccessPoint]]]:
    """The fleet's (or one site's) APs in batches of whole sites, each of about ``size`` APs (a larger site is a
    batch of its own), in inventory order."""
    out: list[list[tuple[Site, AccessPoint]]] = []
    cur: list[tuple[Site, AccessPoint]] = []
    for s in inv.sites:
        if site and s.id != site:
            continue
        if cur and len(cur) + len(s.aps) > size:
            out.append(cur)
            cur = []
        cur += [(s, ap) for ap in s.aps]
    if cur:
        out.append(cur)
    return out


def figures(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
            parts: Collection[str] = ("availability", "usage", "capacity"),
            batch_aps: int = BATCH_APS) -> dict[str, ApFigures]:
    """Per AP (in inventory order). A reader that aggregates by the hour (both stores) answers a batch of whole
    sites (``batch_aps`` APs) in a few queries (analytics.hourly), so a 10,000-AP fleet is read in 20 steps whose
    memory is freed in turn; any other reader is read per AP and measurement, as raw columns, keeping only the
    figures (a month of one AP's samples is a few MB; the figures are small)."""
    if can_aggregate(reader):
        out: dict[str, ApFigures] = {}
        for batch in site_batches(inv, site, batch_aps):
            out.update(hourly_figures(inv, reader, p, site, parts, batch=batch))
        return out
    return {ap.id: ap_figures(inv, reader, s, ap, p, parts) for s, ap in inv.aps() if not site or s.id == site}


def availability_rows(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
                      figs: Mapping[str, ApFigures] | None = None) -> list[dict[str, Any]]:
    """One row per AP and one per site (sites: their APs' time summed); maintenance listed per row; each row
    with its coverage (observed hours, share of the period, 参考値, in progress, simulated)."""
    if figs is None:
        figs = figures(inv, reader, p, site, ("availability",))
    min_share = inv.reports.min_share
    rows: list[dict[str, Any]] = []
    for s in inv.sites:
        if site and s.id != site:
            continue
        parts: list[Availability] = []
        covs: list[Coverage] = []
        for ap in s.aps:
            f = figs[ap.id]
            assert f.availability is not None and f.availability_cov is not None
            parts.append(f.availability)
            covs.append(f.availability_cov)
            rows.append(_avail_row(s.id, s.name_ja, s.name_en, ap.id, ap.name_ja or ap.id, ap.name_en or ap.id,
                                   f.availability, f.maintenance, f.availability_cov, min_share))
        if parts:
            rows.append(_avail_row(s.id, s.name_ja, s.name_en, "*", "（拠点計）", "(site total)", combine(parts), [],
                                   cov.total(covs), min_share))
    return rows


def _avail_row(site: str, site_ja: str, site_en: str, ap: str, ap_ja: str, ap_en: str, a: Availability,
               maint: list[str], c: Coverage, min_share: float) -> dict[str, Any]:
    return {"site": site, "site_name_ja": site_ja, "site_name_en": site_en, "ap": ap, "ap_name_ja": ap_ja,
            "ap_name_en": ap_en,
            "availability_pct": None if a.pct is None else round(a.pct, 3), "up_h": round(a.up_s / 3600, 2),
            "down_h": round(a.down_s / 3600, 3), "unknown_h": round(a.unknown_s / 3600, 2),
            "maintenance_h": round(a.maintenance_s / 3600, 2), "outages": a.n_outages if a.outages_known else None,
            "mttr_min": None if a.mttr_s is None or not a.outages_known else round(a.mttr_s / 60, 1),
            "longest_outage_min": None if a.longest_s is None or not a.outages_known else round(a.longest_s / 60, 1),
            "maintenance_windows": ",".join(maint), **cov.fields(c, min_share)}


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


def usage_cov_by_ap(figs: Mapping[str, ApFigures]) -> dict[str, Coverage]:
    out = {}
    for ap_id, f in figs.items():
        assert f.usage_cov is not None
        out[ap_id] = f.usage_cov
    return out


def _jst_months(p: Period) -> tuple[int, int, int, int] | None:
    """(year, month) of start and end when the period runs from a 1st of a month to a 1st, in Japan time."""
    import datetime as dt

    from analytics.usage import JST

    a = dt.datetime.fromtimestamp(p.start, JST)
    b = dt.datetime.fromtimestamp(p.end, JST)
    if (a.day, a.hour, a.minute, a.second, b.day, b.hour, b.minute, b.second) != (1, 0, 0, 0, 1, 0, 0, 0):
        return None
    return a.year, a.month, b.year, b.month


def _shift_months(p: Period, k: int) -> Period:
    """``p`` moved ``k`` months back (whole months), or by equal length if it is not a run of whole months."""
    import datetime as dt

    from analytics.usage import JST

    ym = _jst_months(p)
    if ym is None:
        return Period(p.start - k * (p.end - p.start), p.end - k * (p.end - p.start))

    def first(y: int, m: int) -> float:
        n = y * 12 + m - 1 - k
        return dt.datetime(n // 12, n % 12 + 1, 1, tzinfo=JST).timestamp()

    return Period(first(ym[0], ym[1]), first(ym[2], ym[3]))


def previous_period(p: Period) -> Period:
    """The period usage is compared with (前期): the month(s) just before for whole months, else the period of
    equal length just before ``p``."""
    ym = _jst_months(p)
    if ym is None:
        return Period(2 * p.start - p.end, p.start)
    return _shift_months(p, (ym[2] * 12 + ym[3]) - (ym[0] * 12 + ym[1]))


def year_before(p: Period) -> Period:
    """The same months a year earlier (前年同月); for other periods, the same dates a year earlier."""
    if _jst_months(p) is not None:
        return _shift_months(p, 12)
    return Period(p.start - 365 * 86400, p.end - 365 * 86400)


def client_hours_by_ap(inv: Inventory, reader: PointReader, p: Period,
                       site: str | None = None) -> dict[str, tuple[float, Coverage]]:
    """Client-hours per AP over ``p`` with their coverage, as :func:`usage_by_ap` counts them, using hourly
    rollups where raw rows were pruned.

    This is the earlier period of a usage comparison: the embedded store keeps raw rows ``raw_retention_days``
    (35), so when the report for a month is written on the 1st, most of the month before it is left only as hourly
    rollups. Reading raw rows alone would count those hours as no use at all."""
    if can_aggregate(reader):  # the hourly rollup holds pruned hours too
        figs = figures(inv, reader, p, site, ("clients",))
        return {k: (f.usage.client_hours if f.usage else 0.0, f.usage_cov or Coverage(p.hours, p.elapsed_h, 0.0))
                for k, f in figs.items()}
    a0, a1 = p.ns
    out = {}
    for s, ap in inv.aps():
        if site and s.id != site:
            continue
        cols = read_columns(reader, "ap_status", a0, a1, {"ap": ap.id}, ["clients"])
        ct, (cv,) = _concat(cols, "clients")
        count: dict[int, float] = {}
        total: dict[int, float] = {}
        sim_rolled = 0.0
        for c in read_pruned_hours(reader, "ap_status", "clients", a0, a1, {"ap": ap.id}):
            for h, n, x in zip(c.time_ns.tolist(), c.values["count"].tolist(), c.values["sum"].tolist(), strict=True):
                count[h] = count.get(h, 0.0) + n  # several series of one AP: one stream, as for raw rows
                total[h] = total.get(h, 0.0) + x
                if c.tags.get(cov.SIMULATED_TAG) == "true":
                    sim_rolled += n
        hs = sorted(count)
        rolled = (np.array(hs, dtype=np.float64) / 1e9, np.array([count[h] for h in hs], dtype=np.float64),
                  np.array([total[h] for h in hs], dtype=np.float64))
        ch, seen = client_hours_observed(ct, cv, p.start, p.data_end, rolled=rolled)
        n_rows = len(ct) + sum(count.values())
        sim_rows = simulated_share(cols) * len(ct) + sim_rolled
        out[ap.id] = (ch, Coverage(p.hours, p.elapsed_h, seen, 0.0, 0.0 if not n_rows else seen * sim_rows / n_rows))
    return out


def usage_rows(inv: Inventory, reader: PointReader, p: Period, site: str | None = None,
               now: Mapping[str, Usage] | None = None, now_cov: Mapping[str, Coverage] | None = None,
               lang: str = "ja", figs: Mapping[str, ApFigures] | None = None) -> list[dict[str, Any]]:
    """Per AP, per site and per site kind, with coverage; compared with the period before (前期比) and the same
    period a year before (前年同月比) where both are covered well enough, else "—" with the reason.

    Comparisons are of client-hours per observed hour (mean concurrent clients), so a 31-day and a 30-day month,
    or 95 % and 100 % coverage, compare like with like. The earlier periods' client-hours come from raw rows, and
    from hourly rollups for the hours whose raw rows were pruned (see :func:`client_hours_by_ap`).

    ``peak_clients`` (最大同時接続) is the highest hourly mean of concurrent clients at every level: an AP's own, a
    site's or a kind's the peak of its APs' hourly sum (analytics.figures), so a site's peak is what its APs carried
    together in one hour, never one AP's peak beside the sum of their means."""
    if figs is None:
        figs = figures(inv, reader, p, site, ("usage",))
    if now is None or now_cov is None:
        now = usage_by_ap(inv, reader, p, site, figs)
        now_cov = usage_cov_by_ap(figs)
    min_share = inv.reports.min_share
    before = client_hours_by_ap(inv, reader, previous_period(p), site)
    year = client_hours_by_ap(inv, reader, year_before(p), site)
    rows: list[dict[str, Any]] = []

    def rate(ch: float, c: Coverage) -> float:
        return 0.0 if c.observed_h <= 0 else ch / c.observed_h

    def row(level: str, key: str, name: str, ids: list[str]) -> dict[str, Any]:
        us = [now[i] for i in ids]
        ch = sum(u.client_hours for u in us)
        c = cov.total(now_cov[i] for i in ids)
        out: dict[str, Any] = {
            "level": level, "id": key, "name": name, "peak_clients": round(group_peak(figs, ids), 1),
            "mean_clients": round(sum(u.mean_clients for u in us), 2), "client_hours": round(ch, 1),
            "rx_gb": round(sum(u.rx_gb for u in us), 3), "tx_gb": round(sum(u.tx_gb for u in us), 3),
            **cov.fields(c, min_share)}
        for name_, earlier in (("prev", before), ("yoy", year)):
            ch0 = sum(earlier[i][0] for i in ids)
            c0 = cov.total(earlier[i][1] for i in ids)
            pct, why = cov.compare(rate(ch, c), c, rate(ch0, c0), c0, min_share, lang)
            out[f"client_hours_{name_}"] = round(ch0, 1)
            out[f"coverage_{name_}_pct"] = round(100 * c0.share, 1)
            out[f"change_{name_}_pct" if name_ == "yoy" else "change_pct"] = pct
            out[f"change_{name_}_note"] = why
        return out

    kinds: dict[str, list[str]] = {}
    for s in inv.sites:
        if site and s.id != site:
            continue
        ids = [a.id for a in s.aps]
        kinds.setdefault(s.kind.value, []).extend(ids)
        for ap in s.aps:
            rows.append(row("ap", ap.id, ap.name_ja or ap.id, [ap.id]))
        rows.append(row("site", s.id, s.name_ja, ids))
    for kind, ids in kinds.items():
        rows.append(row("kind", kind, kind, ids))
    return rows


def capacity_rows(inv: Inventory, reader: PointReader, p: Period, min_hours: float = 1.0,
                  radios: int = 2, figs: Mapping[str, ApFigures] | None = None) -> list[dict[str, Any]]:
    """APs above capacity (per radio x radios) for more than ``min_hours``, most overloaded first, each with the
    coverage of its client samples."""
    if figs is None:
        figs = figures(inv, reader, p, None, ("capacity",))
    rows = []
    for s, ap in inv.aps():
        f = figs[ap.id]
        assert f.usage_cov is not None
        cap = inv.capacity_for(ap) * radios
        if f.levels is not None:
            h = hours_over_levels(*f.levels, cap)
        else:
            assert f.hours_over is not None and cap in f.hours_over, "capacity figures read for another radio count"
            h = f.hours_over[cap]
        if h > min_hours:
            rows.append({"site": s.id, "ap": ap.id, "name": ap.name_ja or ap.id, "capacity": cap,
                         "hours_over": round(h, 2), "peak_clients": f.peak_sample,
                         **cov.fields(f.usage_cov, inv.reports.min_share)})
    return sorted(rows, key=lambda r: (-r["hours_over"], r["ap"]))


CAPACITY_COLUMNS = ("site", "ap", "name", "capacity", "hours_over", "peak_clients", "observed_h", "period_h",
                    "coverage_pct", "provisional", "in_progress", "simulated")


def period_coverage(figs: Mapping[str, ApFigures]) -> Coverage:
    """The fleet's coverage for the period: availability where read, else client samples."""
    return cov.total((f.availability_cov or f.usage_cov or Coverage(0, 0, 0)) for f in figs.values())


def is_empty(figs: Mapping[str, ApFigures]) -> bool:
    """No AP has a single observed second in the period: nothing to report (データがありません)."""
    return all((f.availability_cov is None or f.availability_cov.empty)
               and (f.usage_cov is None or f.usage_cov.empty) for f in figs.values())
