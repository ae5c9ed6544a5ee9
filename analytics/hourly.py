"""Report figures from hourly aggregates, for readers that can aggregate (both stores): the fleet in a few queries.

A month of 1-minute samples is 44,640 rows per AP and measurement; parsing them in Python costs about 0.3 s per AP,
five minutes for 1,000 APs. Both stores can instead answer per series and hour the sample count, sum and maximum
(SQLite from its hourly rollup, InfluxDB with GROUP BY time(1h)), and the few single samples a report needs: the
times a ping failed (outages) and how many client counts exceeded an AP's capacity. The figures follow the
sample-and-hold definitions of analytics.availability and analytics.usage at the resolution of the sampling
step: each sample of an hour stands for one step (the configured interval, or the hour over the median count),
never more than the hour. For regular sampling that is what the per-sample integrals give.

The hourly rollup outlives raw rows (400 days against 35), so a month whose raw rows were pruned still has its
availability, usage and coverage; only its outage list is gone (the count and durations of outages are "-").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from analytics import coverage as cov
from analytics.availability import Availability, _subtract, merge
from analytics.coverage import Coverage
from analytics.figures import ApFigures, PartKey, hourly_mean, part_key
from analytics.usage import Floats, Usage, jst_weekday_hour
from core.inventory import AccessPoint, Inventory, Site
from core.maintenance import expand
from core.store.columns import Columns

HOUR = 3600.0
GAP_FACTOR = 3.0
PING_LEAD_NS = int(3 * 600 * 1e9)  # as analytics.tables: an outage that began just before the period


def can_aggregate(reader: Any) -> bool:
    return all(hasattr(reader, m) for m in ("hourly_columns", "false_times", "count_over"))


def _by_ap(cols: Sequence[Columns]) -> dict[str, list[Columns]]:
    out: dict[str, list[Columns]] = {}
    for c in cols:
        if "ap" in c.tags:
            out.setdefault(c.tags["ap"], []).append(c)
    return out


def _hours(cols: list[Columns], field: str) -> tuple[Floats, Floats, Floats, Floats, float]:
    """(hour start s, samples, sum, max) summed over the AP's series, and the share of samples that are simulated."""
    cols = [c for c in cols if len(c.time_ns)]
    if not cols:
        e = np.empty(0)
        return e, e, e, e, 0.0
    h = np.concatenate([c.time_ns for c in cols])
    n = np.concatenate([c.values[f"{field}:n"] for c in cols])
    s = np.concatenate([c.values[f"{field}:sum"] for c in cols])
    mx = np.concatenate([c.values[f"{field}:max"] for c in cols])
    sim = sum(float(c.values[f"{field}:n"].sum()) for c in cols if c.tags.get(cov.SIMULATED_TAG) == "true")
    total = float(n.sum())
    if len(cols) > 1:
        hs, inv_idx = np.unique(h, return_inverse=True)
        n2 = np.bincount(inv_idx, weights=n, minlength=len(hs))
        s2 = np.bincount(inv_idx, weights=s, minlength=len(hs))
        m2 = np.full(len(hs), -np.inf)
        np.fmax.at(m2, inv_idx, mx)
        h, n, s, mx = hs, n2, s2, m2
    keep = n > 0
    return (h[keep] / 1e9, n[keep], s[keep], mx[keep], 0.0 if total <= 0 else sim / total)


def _step(n: Floats, configured: float) -> float:
    """The sampling step: the configured interval, or coarser if the hours hold fewer samples (older history)."""
    if not len(n):
        return configured
    med = float(np.median(n))
    return max(configured, HOUR / med) if med > 0 else configured


def _room(hs: Floats, start: float, end: float) -> Floats:
    """Seconds of each hour inside [start, end)."""
    return np.clip(np.minimum(hs + HOUR, end) - np.maximum(hs, start), 0.0, HOUR)


def _overlap(hs: Floats, windows: Sequence[tuple[float, float]], start: float, end: float) -> Floats:
    out = np.zeros(len(hs))
    for a, b in windows:
        out += np.clip(np.minimum(np.minimum(hs + HOUR, end), b) - np.maximum(np.maximum(hs, start), a), 0.0, HOUR)
    return np.minimum(out, HOUR)


def availability_from_hours(hs: Floats, n: Floats, up: Floats, down_times: Floats, step: float, start: float,
                            end: float, maintenance: Sequence[tuple[float, float]]) -> Availability:
    """Availability within [start, end) from hourly ping counts ``n`` and up counts ``up``; outages from the times
    of failed pings (each holding one step, a run broken by a gap of more than GAP_FACTOR steps)."""
    res = Availability(start, end)
    holes = merge((max(a, start), min(b, end)) for a, b in maintenance if min(b, end) > max(a, start))
    res.maintenance_s = sum(b - a for a, b in holes)
    if len(hs):
        room = _room(hs, start, end)
        m = _overlap(hs, holes, start, end)
        seen = np.minimum(n * step, room) * np.where(room > 0, 1.0 - m / np.maximum(room, 1e-9), 0.0)
        down_share = np.where(n > 0, (n - up) / np.maximum(n, 1e-9), 0.0)
        res.down_s = float((seen * down_share).sum())
        res.up_s = float(seen.sum()) - res.down_s
    res.unknown_s = max(0.0, (end - start) - res.up_s - res.down_s - res.maintenance_s)
    t = np.sort(down_times)
    if len(t):
        breaks = np.flatnonzero(np.diff(t) > GAP_FACTOR * step) + 1
        runs = []
        for a, b in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(t)])), strict=True):
            lo, hi = max(float(t[a]), start), min(float(t[b - 1]) + step, end)
            if hi > lo:
                parts, _ = _subtract((lo, hi), holes)
                runs += [p for p in parts if p[1] > p[0]]
        res.outages = merge(runs)
    if len(hs):
        down_hours = hs[(n - up > 0) & (_room(hs, start, end) > 0)]
        found = set((t // HOUR * HOUR).tolist())
        res.outages_known = all(float(h) in found for h in down_hours)
    return res


def usage_from_hours(hs: Floats, n: Floats, s: Floats, mx: Floats, step: float, start: float, end: float,
                     traffic: Sequence[tuple[Floats, Floats, Floats, Floats, float]]) -> Usage:
    """Usage within [start, end) from hourly client counts (samples, sum, max) and, per interface, hourly traffic
    (hour, samples, rx sum, tx sum, step)."""
    u = Usage()
    if len(hs):
        room = _room(hs, start, end)
        held = np.minimum(n * step, room)
        mean = np.where(n > 0, s / np.maximum(n, 1e-9), 0.0)
        client_s = mean * held
        u.client_hours = float(client_s.sum()) / HOUR
        u.observed_h = float(held.sum()) / HOUR
        u.peak_clients = max(0, int(np.nanmax(mx))) if len(mx) else 0
        day, hour = jst_weekday_hour(hs)
        cell = day * 24 + hour
        ch = np.bincount(cell, weights=client_s, minlength=168) / HOUR
        oh = np.bincount(cell, weights=held, minlength=168) / HOUR
        u.profile = np.stack([ch, oh], axis=-1).reshape(7, 24, 2)
    u.mean_clients = u.client_hours / u.observed_h if u.observed_h else 0.0
    for th, tn, rx, tx, tstep in traffic:
        held = np.minimum(tn * tstep, _room(th, start, end))
        u.rx_gb += float((np.where(tn > 0, rx / np.maximum(tn, 1e-9), 0.0) * held).sum()) / 8 / 1e9
        u.tx_gb += float((np.where(tn > 0, tx / np.maximum(tn, 1e-9), 0.0) * held).sum()) / 8 / 1e9
    return u


def hourly_figures(inv: Inventory, reader: Any, p: Any, site: str | None,
                   parts: Collection[str], radios: int = 2,
                   batch: Sequence[tuple[Site, AccessPoint]] | None = None) -> dict[str, ApFigures]:
    """What :func:`analytics.tables.figures` returns, from hourly aggregates read in a few queries for the whole
    fleet, or for the APs of ``batch`` only (the reader filters by AP, so memory follows the batch, not the fleet)."""
    a0, a1 = p.ns
    end = p.data_end
    tags = {"site": site} if site else {}
    aps = list(batch) if batch is not None else [(s, ap) for s, ap in inv.aps() if not site or s.id == site]
    sel: dict[str, Any] = {} if batch is None else {"aps": {ap.id for _, ap in aps}}
    out = {ap.id: ApFigures() for _, ap in aps}
    if "availability" in parts:
        hourly = _by_ap(reader.hourly_columns("ap_ping", a0, a1, tags, ["reachable"], **sel))
        downs = _by_ap(reader.false_times("ap_ping", "reachable", a0 - PING_LEAD_NS, a1, tags, **sel))
        for s, ap in aps:
            hs, n, up, _, sim = _hours(hourly.get(ap.id, []), "reachable")
            step = _step(n, inv.poll_for(s, ap).heartbeat_s)
            dt = np.concatenate([c.time_ns / 1e9 for c in downs.get(ap.id, [])] or [np.empty(0)])
            windows = expand(inv.maintenance, ap.id, s.id, p.start, end)
            a = availability_from_hours(hs, n, up, dt, step, p.start, end, [(x, y) for x, y, _ in windows])
            f = out[ap.id]
            f.availability, f.maintenance = a, sorted({w for _, _, w in windows})
            seen_h = a.watched_s / HOUR
            f.availability_cov = Coverage(p.hours, p.elapsed_h, seen_h, a.maintenance_s / HOUR, seen_h * sim)
    if {"usage", "capacity", "clients"} & set(parts):
        status = _by_ap(reader.hourly_columns("ap_status", a0, a1, tags, ["clients"], **sel))
        traffic = _by_ap(reader.hourly_columns("ap_traffic", a0, a1, tags, ["rx_bps", "tx_bps"], **sel)) \
            if "usage" in parts else {}
        over: dict[str, int] = {}
        if "capacity" in parts:
            for cap in sorted({inv.capacity_for(ap) * radios for _, ap in aps}):
                ids = {ap.id for _, ap in aps if inv.capacity_for(ap) * radios == cap}
                for t, k in reader.count_over("ap_status", "clients", cap, a0, a1, tags, **sel):
                    if t.get("ap") in ids:
                        over[t["ap"]] = over.get(t["ap"], 0) + k
        for s, ap in aps:
            hs, n, sm, mx, sim = _hours(status.get(ap.id, []), "clients")
            step = _step(n, inv.poll_for(s, ap).interval_s)
            tr = []
            ifaces: dict[PartKey, list[Columns]] = {}  # an interface's series pooled (a tag change is not a second one)
            for c in traffic.get(ap.id, []):
                ifaces.setdefault(part_key(c.tags), []).append(c)
            for cs in ifaces.values():
                th, tn, rx, _, _ = _hours(cs, "rx_bps")
                _, _, tx, _, _ = _hours(cs, "tx_bps")
                tr.append((th, tn, rx, tx, _step(tn, inv.poll_for(s, ap).interval_s)))
            u = usage_from_hours(hs, n, sm, mx, step, p.start, end, tr)
            f = out[ap.id]
            f.usage = u
            f.usage_cov = Coverage(p.hours, p.elapsed_h, u.observed_h, 0.0, u.observed_h * sim)
            f.peak_sample = u.peak_clients
            if "usage" in parts and len(hs):  # for the peaks of usage rows; None: no sample (or not asked for)
                f.clients_hourly = hourly_mean(hs, n, sm, p.start, end)
            if "capacity" in parts:
                f.hours_over = {inv.capacity_for(ap) * radios: over.get(ap.id, 0) * step / HOUR}
    return out
