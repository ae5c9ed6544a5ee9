"""Demand points for the planner: visitors around candidate sites, event days, saturated APs, a CSV.

Visitors at a site are not at one point: each site's yearly visitors are spread over a small cluster
(centre plus a ring at ``SPREAD_M`` of its kind), so a nearby AP can cover part of a site's demand and two close
candidates can overlap, which is what makes the choice a covering problem rather than a sort.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics.coverage import Coverage
from core.inventory import Candidate, Inventory

# How far a site's visitors spread around its point: a building's visitors are inside it, a park's wide.
SPREAD_M = {"public_facility": 15.0, "station": 30.0, "commercial": 25.0, "tourist_spot": 40.0, "park": 60.0}
RING = 6
EVENT_WEIGHT = 0.5  # an event-day visitor counts half: they come in peaks an AP serves only partly
LITTLE_USED_CLIENT_HOURS = 50.0  # below this in the period, an AP signals little demand nearby
LITTLE_USED_FACTOR = 0.8
LITTLE_USED_RADIUS_M = 300.0
# Overflow at a busy AP: client-hours above the comfortable load, as visitors a year (one visit ~ SESSION_H of
# use), placed around the AP; a candidate within OVERFLOW_REACH_M beyond its own radius takes them over.
SESSION_H = 0.5
OVERFLOW_REACH_M = 150.0


class DemandCsvError(Exception):
    """Bad rows in a demand CSV; the message lists FILE:LINE: column: message for each."""


@dataclass(frozen=True)
class ApDemand:
    """What analytics observed at an existing AP over the period."""

    ap_id: str
    client_hours: float
    peak_clients: int
    saturated_hours: float  # hours at or above the busy share of capacity
    excess_client_hours: float = 0.0  # client-hours above the busy level: people the AP served badly
    period_days: float = 30.0
    coverage: Coverage | None = None  # the hours these figures rest on (None: built by hand, e.g. in a scenario)
    # Hours of use one visit stands for: SESSION_H assumed, or measured at the AP's site from its visitor sessions
    # (client-hours per unique device a day, analytics.planner.observed.with_measured_visitors).
    session_h: float = SESSION_H
    session_measured: bool = False

    @property
    def overflow_visitors_per_year(self) -> float:
        return self.excess_client_hours / self.session_h * 365.0 / max(self.period_days, 1e-9)


@dataclass(frozen=True)
class DemandWeights:
    """How much each kind of demand counts in the objective (1.0: one person a year counts as one).

    ``month`` weights tourist visitors by the month they come (12 values, January first): with a
    candidate's monthly shares (``season``; even shares when not given) its annual visitors count
    sum_m share_m * month_m. ``event_day`` weights event-day visitors. ``resident`` weights census residents,
    ``shelter`` each person of an evacuation site's capacity (or 1 per site without one).
    """

    event_day: float = EVENT_WEIGHT
    month: tuple[float, ...] = (1.0,) * 12
    resident: float = 1.0
    shelter: float = 1.0
    overflow: float = 1.0


@dataclass(frozen=True)
class DemandPoint:
    lat: float
    lon: float
    weight: float  # weighted people a year
    source: str  # "candidate:<id>", "event:<id>", "spill:<ap>", "csv:<label>", "mesh:<code>", "shelter:<name>"
    must: bool = False  # must be covered (a designated shelter in must-cover mode)
    reach_m: float = 0.0  # extra reach: a site covers this point within its radius + reach_m

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def distance_matrix_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distances (m) between every point 1 (rows) and every point 2 (columns): small inputs only."""
    r = 6371008.8
    p1, p2 = np.radians(lat1)[:, None], np.radians(lat2)[None, :]
    dp = p2 - p1
    dl = np.radians(lon2)[None, :] - np.radians(lon1)[:, None]
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * r * np.arcsin(np.minimum(1.0, np.sqrt(h))))


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def cluster(lat: float, lon: float, weight: float, source: str, spread_m: float = 40.0,
            reach_m: float = 0.0) -> list[DemandPoint]:
    pts = [DemandPoint(lat, lon, weight / (RING + 1), source, reach_m=reach_m)]
    for k in range(RING):
        a = 2 * math.pi * k / RING
        la, lo = offset(lat, lon, spread_m * math.cos(a), spread_m * math.sin(a))
        pts.append(DemandPoint(la, lo, weight / (RING + 1), source, reach_m=reach_m))
    return pts


def ap_position(inv: Inventory, ap_id: str) -> tuple[float, float]:
    site, ap = inv.ap(ap_id)
    return (ap.lat if ap.lat is not None else site.lat, ap.lon if ap.lon is not None else site.lon)


def season_factor(weights: DemandWeights, shares: Sequence[float] | None) -> float:
    """sum_m share_m * month_m with shares normalised (even shares when none are given)."""
    month = list(weights.month)
    if not shares or sum(shares) <= 0:
        return float(sum(month) / 12.0)
    total = float(sum(shares))
    return float(sum(s / total * m for s, m in zip(shares, month, strict=True)))


def build_demand(inv: Inventory, observed: Mapping[str, ApDemand] | None = None,
                 extra: Sequence[DemandPoint] = (), visitors_scale: float = 1.0,
                 candidate_scale: Mapping[str, float] | None = None,
                 candidates: Sequence[Candidate] | None = None, weights: DemandWeights | None = None,
                 season: Mapping[str, Sequence[float]] | None = None) -> list[DemandPoint]:
    """Candidates' visitors (annual and event-day apart), overflow of busy APs, and ``extra`` points.

    ``candidate_scale`` moves single candidates' visitor (and event) figures, for the sensitivity runs;
    ``candidates`` replaces the inventory's (a scenario's edited figures).
    """
    pts: list[DemandPoint] = []
    candidate_scale = candidate_scale or {}
    observed = observed or {}
    weights = weights or DemandWeights()
    season = season or {}
    quiet = [ap_position(inv, a) for a, d in observed.items() if d.client_hours < LITTLE_USED_CLIENT_HOURS]
    for c in (inv.candidates if candidates is None else candidates):
        damp = LITTLE_USED_FACTOR if any(haversine_m(c.lat, c.lon, la, lo) <= LITTLE_USED_RADIUS_M
                                         for la, lo in quiet) else 1.0
        spread = SPREAD_M.get(c.kind.value, 40.0)
        scale = visitors_scale * candidate_scale.get(c.id, 1.0)
        annual = c.annual_visitors * scale * damp * season_factor(weights, season.get(c.id))
        pts += cluster(c.lat, c.lon, annual, f"candidate:{c.id}", spread)
        if c.event_days and c.event_visitors_per_day:
            pts += cluster(c.lat, c.lon, c.event_days * c.event_visitors_per_day * weights.event_day * scale,
                           f"event:{c.id}", spread)
    for ap_id, d in observed.items():
        spill = d.overflow_visitors_per_year * weights.overflow * visitors_scale
        if spill > 0:
            la, lo = ap_position(inv, ap_id)
            radius = inv.coverage_radius_for(*inv.ap(ap_id))
            # The people a busy AP serves badly are in its own area: a candidate that reaches within
            # OVERFLOW_REACH_M of them takes the load over (points within existing coverage are kept).
            pts += cluster(la, lo, spill, f"spill:{ap_id}", spread_m=radius * 0.5, reach_m=OVERFLOW_REACH_M)
    pts += [DemandPoint(p.lat, p.lon, p.weight * visitors_scale, p.source, p.must, p.reach_m) for p in extra]
    return pts


def load_demand_csv(path: Path) -> list[DemandPoint]:
    """Columns lat, lon, weight (visitors a year), label. Every bad row is reported, none crashes."""
    problems: list[str] = []
    out: list[DemandPoint] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DemandCsvError(f"{path}:1: (file): cannot read: {e}") from None
    reader = csv.DictReader(text.splitlines())
    need = {"lat", "lon", "weight"}
    if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
        raise DemandCsvError(f"{path}:1: (header): needs columns lat, lon, weight (and optionally label)")
    for line, row in enumerate(reader, start=2):
        vals: dict[str, float] = {}
        for col in ("lat", "lon", "weight"):
            raw = (row.get(col) or "").strip()
            try:
                v = float(raw)
                if not math.isfinite(v):
                    raise ValueError
                vals[col] = v
            except ValueError:
                problems.append(f"{path}:{line}: {col}: '{raw}' is not a number")
        if len(vals) < 3:
            continue
        if not (20.0 <= vals["lat"] <= 46.0 and 122.0 <= vals["lon"] <= 154.0):
            problems.append(f"{path}:{line}: lat/lon: ({vals['lat']}, {vals['lon']}) is outside Japan")
            continue
        if vals["weight"] < 0:
            problems.append(f"{path}:{line}: weight: must not be negative")
            continue
        out.append(DemandPoint(vals["lat"], vals["lon"], vals["weight"], f"csv:{(row.get('label') or '').strip()}"))
    if problems:
        raise DemandCsvError("\n".join(problems))
    return out
