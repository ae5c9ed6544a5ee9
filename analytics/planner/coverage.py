"""Which demand points each site reaches, from a spatial index of nearby pairs (no dense distance matrix).

Points are projected onto a local plane (metres east and north of the points' mean latitude), a k-d tree
(scipy.spatial.cKDTree) finds the pairs within a slightly widened radius, and each pair is then confirmed with
the exact haversine distance, so the result equals the dense haversine test while memory and time grow with
the number of nearby pairs, not with points x sites.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

EARTH_R_M = 6371008.8
M_PER_DEG = np.pi * EARTH_R_M / 180.0


def haversine_pairs_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Haversine distance (m) between point pairs (element-wise)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * EARTH_R_M * np.arcsin(np.minimum(1.0, np.sqrt(h))))


def _plane(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    return np.column_stack([lat * M_PER_DEG, lon * M_PER_DEG * np.cos(np.radians(lat0))])


def cover_matrix(dem_lat: np.ndarray, dem_lon: np.ndarray, site_lat: np.ndarray, site_lon: np.ndarray,
                 radii_m: np.ndarray) -> sparse.csc_matrix:
    """(n_points, n_sites) boolean: point i is within radius_j (haversine) of site j."""
    n_dem, n_site = len(dem_lat), len(site_lat)
    if n_dem == 0 or n_site == 0:
        return sparse.csc_matrix((n_dem, n_site), dtype=bool)
    dem_lat, dem_lon = np.asarray(dem_lat, float), np.asarray(dem_lon, float)
    site_lat, site_lon = np.asarray(site_lat, float), np.asarray(site_lon, float)
    lat0 = float(np.mean(dem_lat))
    tree = cKDTree(_plane(dem_lat, dem_lon, lat0))
    sites = _plane(site_lat, site_lon, lat0)
    # The plane stretches east-west distances by cos(lat0)/cos(lat) at most: widen the search to be sure
    # no true pair is missed, then let the exact haversine decide.
    spread = float(np.max(np.abs(np.concatenate([dem_lat, site_lat]) - lat0)))
    widen = 1.0 + 2.0 * np.radians(spread) * np.tan(np.radians(abs(lat0) + spread)) + 1e-3
    r = np.asarray(radii_m, dtype=float)
    hits = tree.query_ball_point(sites, r * widen + 1.0)
    cols = np.repeat(np.arange(n_site), [len(h) for h in hits])
    rows = np.fromiter((i for h in hits for i in h), dtype=np.int64, count=len(cols))
    d = haversine_pairs_m(dem_lat[rows], dem_lon[rows], site_lat[cols], site_lon[cols])
    ok = d <= r[cols]
    return sparse.csc_matrix((np.ones(int(ok.sum()), dtype=bool), (rows[ok], cols[ok])), shape=(n_dem, n_site))


def reached_by_any(dem_lat: np.ndarray, dem_lon: np.ndarray, site_lat: np.ndarray, site_lon: np.ndarray,
                   radii_m: np.ndarray) -> np.ndarray:
    """Boolean mask of the points within reach of at least one site."""
    m = cover_matrix(dem_lat, dem_lon, site_lat, site_lon, radii_m)
    return np.asarray(m.sum(axis=1)).ravel() > 0


def nearest_m(lat: float, lon: float, site_lat: np.ndarray, site_lon: np.ndarray) -> tuple[int, float] | None:
    """Index of and haversine distance to the nearest site, or None when there are no sites."""
    if len(site_lat) == 0:
        return None
    d = haversine_pairs_m(np.full(len(site_lat), lat), np.full(len(site_lat), lon), np.asarray(site_lat, float),
                          np.asarray(site_lon, float))
    k = int(np.argmin(d))
    return k, float(d[k])
