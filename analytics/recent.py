"""Availability over the last 7 and 30 days per AP and per site, for 状況 and /status.csv.

The share of heartbeats answered, pooled per AP whatever tags its series carry (one AP, one figure), and per
site over its APs (uplinks apart). Read from the hourly rollups in one grouped query, so it is the rolled-up
hours only (the current hour joins at the next rollup) and maintenance hours count as they were measured: the
monthly report's 稼働率, which excludes maintenance, stays the official figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.inventory import Inventory

HOUR_NS = 3_600_000_000_000


@dataclass(frozen=True)
class Recent:
    pct: float  # 0-100
    samples: int  # heartbeats it rests on


def pooled(rows: Iterable[tuple[dict[str, str], float, int]]) -> dict[str, tuple[float, int]]:
    """(tags, sum, count) per stored series -> (sum, count) per AP id."""
    out: dict[str, tuple[float, int]] = {}
    for tags, total, n in rows:
        ap = tags.get("ap")
        if ap:
            s0, n0 = out.get(ap, (0.0, 0))
            out[ap] = (s0 + total, n0 + n)
    return out


def recent_availability(inv: Inventory, rows: Iterable[tuple[dict[str, str], float, int]]
                        ) -> dict[str, Recent]:
    """AP id and site id -> its availability from ``rows`` (SqliteStore.rollup_totals of ap_ping reachable)."""
    per_ap = pooled(rows)
    out: dict[str, Recent] = {ap: Recent(100.0 * s / n, n) for ap, (s, n) in per_ap.items() if n}
    for site in inv.sites:
        parts = [per_ap[a.id] for a in site.aps if a.id in per_ap]
        n = sum(c for _, c in parts)
        if n:
            out[site.id] = Recent(100.0 * sum(s for s, _ in parts) / n, n)
    return out


def read_recent(inv: Inventory, store: object, now: float, days: int) -> dict[str, Recent]:
    """The last ``days`` whole days of rolled-up hours from the embedded store; empty for a store without them."""
    totals = getattr(store, "rollup_totals", None)
    if totals is None:
        return {}
    end = int(now * 1e9) // HOUR_NS * HOUR_NS
    return recent_availability(inv, totals("ap_ping", "reachable", end - days * 24 * HOUR_NS, end))


def read_client_hours(store: object, now: float, days: int) -> dict[str, float]:
    """Client-hours per AP over the last ``days`` (rolled-up hours): the usage heat of both maps."""
    sums = getattr(store, "hourly_sums_by_ap", None)
    if sums is None:
        return {}
    end = int(now * 1e9) // HOUR_NS * HOUR_NS
    return {ap: v for ap, v in sums("ap_status", "clients", end - days * 24 * HOUR_NS, end).items() if v > 0}
