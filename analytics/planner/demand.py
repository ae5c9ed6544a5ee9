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

from core.inventory import Inventory

# How far a site's visitors spread around its point: a building's visitors are inside it, a park's wide.
SPREAD_M = {"public_facility": 15.0, "station": 30.0, "commercial": 25.0, "tourist_spot": 40.0, "park": 60.0}
RING = 6
EVENT_WEIGHT = 0.5  # an event-day visitor counts half: they come in peaks an AP serves only partly
SPILL_PER_SATURATED_HOUR = 200.0  # unmet visitors a year per hour an AP spent above capacity (illustrative)
LITTLE_USED_CLIENT_HOURS = 50.0  # below this in the period, an AP signals little demand nearby
LITTLE_USED_FACTOR = 0.8
LITTLE_USED_RADIUS_M = 300.0


class DemandCsvError(Exception):
    """Bad rows in a demand CSV; the message lists FILE:LINE: column: message for each."""


@dataclass(frozen=True)
class ApDemand:
    """What analytics observed at an existing AP over the period."""

    ap_id: str
    client_hours: float
    peak_clients: int
    saturated_hours: float


@dataclass(frozen=True)
class DemandPoint:
    lat: float
    lon: float
    weight: float  # visitors a year
    source: str  # "candidate:<id>", "event:<id>", "spill:<ap>", "csv:<label>"


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def distance_matrix_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distances (m) between every point 1 (rows) and every point 2 (columns), vectorised."""
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


def cluster(lat: float, lon: float, weight: float, source: str, spread_m: float = 40.0) -> list[DemandPoint]:
    pts = [DemandPoint(lat, lon, weight / (RING + 1), source)]
    for k in range(RING):
        a = 2 * math.pi * k / RING
        la, lo = offset(lat, lon, spread_m * math.cos(a), spread_m * math.sin(a))
        pts.append(DemandPoint(la, lo, weight / (RING + 1), source))
    return pts


def ap_position(inv: Inventory, ap_id: str) -> tuple[float, float]:
    site, ap = inv.ap(ap_id)
    return (ap.lat if ap.lat is not None else site.lat, ap.lon if ap.lon is not None else site.lon)


def build_demand(inv: Inventory, observed: Mapping[str, ApDemand] | None = None,
                 extra: Sequence[DemandPoint] = (), visitors_scale: float = 1.0,
                 candidate_scale: Mapping[str, float] | None = None) -> list[DemandPoint]:
    """``candidate_scale`` moves single candidates' visitor (and event) figures, for the sensitivity runs."""
    pts: list[DemandPoint] = []
    candidate_scale = candidate_scale or {}
    observed = observed or {}
    quiet = [ap_position(inv, a) for a, d in observed.items() if d.client_hours < LITTLE_USED_CLIENT_HOURS]
    for c in inv.candidates:
        damp = LITTLE_USED_FACTOR if any(haversine_m(c.lat, c.lon, la, lo) <= LITTLE_USED_RADIUS_M
                                         for la, lo in quiet) else 1.0
        spread = SPREAD_M.get(c.kind.value, 40.0)
        scale = visitors_scale * candidate_scale.get(c.id, 1.0)
        pts += cluster(c.lat, c.lon, c.annual_visitors * scale * damp, f"candidate:{c.id}", spread)
        if c.event_days and c.event_visitors_per_day:
            pts += cluster(c.lat, c.lon, c.event_days * c.event_visitors_per_day * EVENT_WEIGHT * scale,
                           f"event:{c.id}", spread)
    for ap_id, d in observed.items():
        if d.saturated_hours > 0:
            la, lo = ap_position(inv, ap_id)
            radius = inv.coverage_radius_for(*inv.ap(ap_id))
            # Unmet demand sits just beyond the saturated AP's own reach.
            for p in cluster(la, lo, d.saturated_hours * SPILL_PER_SATURATED_HOUR * visitors_scale,
                             f"spill:{ap_id}", spread_m=radius * 1.5)[1:]:
                pts.append(DemandPoint(p.lat, p.lon, p.weight * (RING + 1) / RING, p.source))
    pts += [DemandPoint(p.lat, p.lon, p.weight * visitors_scale, p.source) for p in extra]
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
