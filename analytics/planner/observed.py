"""Observed demand at existing APs, from the ap_status client counts in either store, with what it rests on.

The planner's overflow demand comes from these figures, so like every figure shown to the council they carry
their :class:`analytics.coverage.Coverage`: the hours observed against the period read, and the hours that came
from simulated history. ``coverage_note`` words it for the rank summary (参考値 below ``[reports]
min_coverage_pct``, 模擬データ, データなし).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from analytics.coverage import SIMULATED_TAG, Coverage
from analytics.planner.demand import ApDemand
from core.inventory import Inventory
from core.schema import PointReader

BUSY_SHARE = 0.8  # an AP at 80 % of its association capacity serves badly: the usual Wi-Fi design margin
MAX_STEP_H = 0.25  # a gap longer than 15 min between two samples is neither counted nor observed


class ObservedDemand(dict[str, ApDemand]):
    """Observed demand per AP (a plain mapping for the planner) plus the whole fleet's coverage of the period:
    every inventory AP counts for the whole period, so an AP without a sample lowers the share."""

    def __init__(self, per_ap: Mapping[str, ApDemand], coverage: Coverage, days: float,
                 measured_sites: tuple[str, ...] = (), measured_simulated: bool = False):
        super().__init__(per_ap)
        self.coverage = coverage
        self.days = days
        self.measured_sites = measured_sites  # sites whose visit length comes from measured visitors
        self.measured_simulated = measured_simulated


MIN_SESSION_H, MAX_SESSION_H = 5 / 60, 4.0  # a measured visit length outside this is a data problem, not people


def with_measured_visitors(inv: Inventory, observed: ObservedDemand,
                           measured: Mapping[str, Any]) -> ObservedDemand:
    """The same demand with each measured site's visit length taken from its visitors instead of SESSION_H.

    At a site with visitor sessions, one visit stands for the site's client-hours a year over its unique devices
    a year (``analytics.visitors.demand.measured_visitors``, k-suppressed days left out): the overflow of a busy
    AP there becomes people by what people there really do, not by an assumed half hour."""
    if not measured:
        return observed
    per_ap = dict(observed)
    used = []
    for site in inv.sites:
        m = measured.get(site.id)
        ds = [per_ap[a.id] for a in site.aps if a.id in per_ap]
        if m is None or not ds or m.devices_per_year <= 0:
            continue
        per_year = sum(d.client_hours * 365.0 / max(d.period_days, 1e-9) for d in ds)
        visit_h = min(MAX_SESSION_H, max(MIN_SESSION_H, per_year / m.devices_per_year))
        for d in ds:
            per_ap[d.ap_id] = replace(d, session_h=visit_h, session_measured=True)
        used.append(site.id)
    sim = any(getattr(measured.get(s), "simulated", False) for s in used)
    return ObservedDemand(per_ap, observed.coverage, observed.days, tuple(used), sim)


def observed_demand(inv: Inventory, reader: PointReader, start_ns: int, end_ns: int,
                    radios: int = 2) -> ObservedDemand:
    """Client-hours, peak clients, busy hours and client-hours above the busy level per AP.

    Busy means at or above BUSY_SHARE of capacity (per radio x ``radios``): the people above that level are the
    overflow a nearby new AP would take over (demand.build_demand turns it into visitors a year).
    """
    out: dict[str, ApDemand] = {}
    period_days = max((end_ns - start_ns) / 86400e9, 1e-9)
    period_h = max((end_ns - start_ns) / 3.6e12, 0.0)
    fleet = Coverage(0.0, 0.0, 0.0)
    for _site, ap in inv.aps():
        pts = [p for p in reader.query("ap_status", start_ns, end_ns, {"ap": ap.id}) if "clients" in p.fields]
        busy = inv.capacity_for(ap) * radios * BUSY_SHARE
        hours = sat = excess = seen = sim = 0.0
        for a, b in zip(pts, pts[1:], strict=False):
            dt_h = min((b.time_ns - a.time_ns) / 3.6e12, MAX_STEP_H)
            c = int(a.fields["clients"])
            hours += c * dt_h
            seen += dt_h
            if a.tags.get(SIMULATED_TAG) == "true":
                sim += dt_h
            if c >= busy:
                sat += dt_h
                excess += (c - busy) * dt_h
        cov = Coverage(period_h, period_h, seen, 0.0, sim)
        fleet = fleet + cov
        if not pts:
            continue
        peak = max(int(p.fields["clients"]) for p in pts)
        out[ap.id] = ApDemand(ap.id, round(hours, 1), peak, round(sat, 2), round(excess, 2), period_days, cov)
    return ObservedDemand(out, fleet, period_days)


def observed_from_store(inv: Inventory, days: int = 30, now_ns: int | None = None) -> ObservedDemand | None:
    """Observed demand from the embedded SQLite store over the ``days`` before ``now_ns`` (default: now), or None
    when there is no store yet."""
    import time
    from pathlib import Path

    from core.store.sqlite_store import SqliteStore

    path = Path(inv.store.path)
    if not path.exists():
        return None
    store = SqliteStore(path, inv.store)
    try:
        end = time.time_ns() if now_ns is None else now_ns
        observed = observed_demand(inv, store, end - days * 86400 * 10**9, end)
    finally:
        store.close()
    from analytics.visitors.demand import measured_visitors

    try:
        measured = measured_visitors(inv, days, end / 1e9)
    except Exception:  # noqa: BLE001 - no visitor tables yet, or a store of an older release: keep the assumption
        measured = {}
    return with_measured_visitors(inv, observed, measured)


NOTES = {
    "ja": {"none": "既存APの観測需要: 直近{days:.0f}日のデータがありません"
                   "（混雑する既存APからの需要は計画に含まれていません）",
           "sim": "既存APの観測需要は模擬データに基づきます（{h:,.0f} 時間、観測率 {pct:.1f}%）。実測値ではありません",
           "prov": "既存APの観測需要は {h:,.0f} 時間（観測率 {pct:.1f}%、直近{days:.0f}日）のデータに基づく参考値です"
                   "（基準 {min:.0f}%）",
           "ok": "既存APの観測需要は {h:,.0f} 時間（観測率 {pct:.1f}%、直近{days:.0f}日）のデータに基づきます",
           "measured": "。{n} 施設では1回の利用時間を来訪者の実測（利用分析）から求めています",
           "measured_sim": "。{n} 施設では1回の利用時間を来訪者の模擬データから求めています"},
    "en": {"none": "observed demand of existing APs: no data in the last {days:.0f} days (no overflow of busy APs "
                   "in the plan)",
           "sim": "observed demand of existing APs comes from simulated data ({h:,.0f} h, {pct:.1f}% observed), "
                  "not from measurements",
           "prov": "observed demand of existing APs rests on {h:,.0f} h ({pct:.1f}% of the last {days:.0f} days): "
                   "a reference value (below min_coverage_pct {min:.0f}%)",
           "ok": "observed demand of existing APs rests on {h:,.0f} h ({pct:.1f}% of the last {days:.0f} days)",
           "measured": "; at {n} site(s) the length of a visit comes from measured visitors (visitor analytics)",
           "measured_sim": "; at {n} site(s) the length of a visit comes from simulated visitor data"},
}


def coverage_note(observed: Mapping[str, ApDemand] | None, min_share: float, lang: str = "ja",
                  days: float = 30.0) -> str:
    """One line saying what the observed demand rests on: no data, simulated, 参考値 or firm ("" when unknown)."""
    n = NOTES["en" if lang == "en" else "ja"]
    cov = getattr(observed, "coverage", None)
    days = getattr(observed, "days", days)
    if cov is None and observed:
        return ""  # figures given by hand: nothing known about what they rest on
    if cov is None or cov.empty:
        return n["none"].format(days=days)
    v = {"h": cov.observed_h, "pct": 100 * cov.share, "days": days, "min": 100 * min_share}
    sites = getattr(observed, "measured_sites", ())
    extra = n["measured_sim" if getattr(observed, "measured_simulated", False) else "measured"].format(
        n=len(sites)) if sites else ""
    if cov.simulated:
        return n["sim"].format(**v) + extra
    return n["prov" if cov.provisional(min_share) else "ok"].format(**v) + extra
