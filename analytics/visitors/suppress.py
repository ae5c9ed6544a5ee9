"""Small-cell suppression (秘匿処理) of a visitor cube: decided once here, read by every output.

The rule, documented in docs/visitors.md:

1. **Primary.** A cell counting fewer than ``k_min`` devices (but at least one) is suppressed and shown as
   ``<k``: a row of the cube (an AP, site, area or the city in an hour, day, month or weekday-hour) when its
   unique devices are under ``k``, with every figure of that row (sessions, median dwell, shares); and a part
   of a row (a dwell band, new/returning, a language, randomised addresses) when its devices are under ``k``.
2. **Complementary.** A suppressed cell must not come back by subtraction from a total that is shown. Wherever
   cells add up to a total (a row's parts to its devices; APs to their site, sites to their area, areas to the
   city; hours to their day; days to their month; months to the whole period (a 年度); hours to the
   weekday-hour of the heatmap), the total and its parts together hide either no non-zero cell or at least two:
   when exactly one is hidden, the smallest shown non-zero part is hidden too (if the hidden one is the total,
   its parts would add up to it), and when there is none, the total. This repeats until nothing changes
   (hiding one cell can expose another group).
3. **Derived figures** (median dwell, a share, an event uplift, a deduplicated month estimate) are shown only when
   every cell they come from is shown.
4. Zero is shown as 0: it identifies nobody.

Suppression is decided for whole JST months (the cube's extent), so every output over the same months hides
the same cells. Device counts in the totals that are not additive (a device at two APs counts once at the site)
are treated as if they were, which can only suppress more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analytics.visitors.cube import DEV, PARTITIONS, SES, Cube, M

K_DEFAULT = 10


def k_min(inv: Any) -> int:
    """``[visitors] k_min`` (default 10); never below 2 (a threshold of 1 would suppress nothing)."""
    v = getattr(getattr(inv, "visitors", None), "k_min", None)
    return max(2, int(v)) if v is not None else K_DEFAULT


def shown(text_k: int) -> str:
    """What a suppressed count shows instead of its value."""
    return f"<{text_k}"


class _Grids:
    """The cube's count arrays as one table of rows (views, no copy of the suppression masks)."""

    def __init__(self, c: Cube):
        self.parts: dict[str, tuple[int, tuple[int, ...]]] = {}
        arrays = [("D", c.D), ("MO", c.MO), ("TOT", c.TOT)]
        if c.H is not None and c.HM is not None:
            arrays += [("H", c.H), ("HM", c.HM)]
        off = 0
        for name, a in arrays:
            self.parts[name] = (off, a.shape[:-1])
            off += int(np.prod(a.shape[:-1]))
        self.C = np.concatenate([a.reshape(-1, M) for _, a in arrays]) if arrays else np.zeros((0, M), np.int32)
        self.S = np.zeros(self.C.shape, bool)

    def rows(self, name: str, *index: Any) -> np.ndarray:
        """Row numbers of grid ``name`` at ``index`` (numpy-style, over the grid's non-measure axes)."""
        off, shape = self.parts[name]
        return off + np.arange(int(np.prod(shape))).reshape(shape)[index]

    def mask(self, name: str) -> np.ndarray:
        off, shape = self.parts[name]
        return self.S[off:off + int(np.prod(shape))].reshape(*shape, M)


def _relations(c: Cube, g: _Grids) -> tuple[np.ndarray, np.ndarray]:
    """(child row, parent row) for every pair where the child adds into the parent, and a group id per pair."""
    parent = np.asarray([u.parent for u in c.units], np.int64)
    has_parent = parent >= 0
    kids: list[np.ndarray] = []
    pars: list[np.ndarray] = []
    rel: list[np.ndarray] = []

    def add(ch: np.ndarray, pa: np.ndarray) -> None:
        kids.append(ch.ravel())
        pars.append(pa.ravel())
        rel.append(np.full(ch.size, len(rel), np.int64))

    u_child = np.flatnonzero(has_parent)
    add(g.rows("D", u_child), g.rows("D", parent[u_child]))  # spatial, per day
    add(g.rows("MO", u_child), g.rows("MO", parent[u_child]))  # spatial, per month
    days = np.arange(c.n_days)
    add(g.rows("D", slice(None), days), g.rows("MO", slice(None), c.month_of_day))  # days -> their month
    add(g.rows("TOT", u_child), g.rows("TOT", parent[u_child]))  # spatial, whole period
    months = np.arange(len(c.months))
    add(g.rows("MO", slice(None), months), np.broadcast_to(g.rows("TOT")[:, None], (len(c.units), len(months))))
    if "H" in g.parts:
        hu = c.hour_units
        hu_of = np.full(len(c.units), -1, np.int64)
        hu_of[hu] = np.arange(len(hu))
        hu_child = np.flatnonzero(has_parent[hu])
        add(g.rows("H", hu_child), g.rows("H", hu_of[parent[hu[hu_child]]]))  # spatial, per hour
        add(g.rows("HM", hu_child), g.rows("HM", hu_of[parent[hu[hu_child]]]))  # spatial, per weekday-hour
        # hours -> their day (the day row of the same unit)
        h_rows = g.rows("H")  # [HU, days, 24]
        d_rows = g.rows("D", hu)  # [HU, days]
        add(h_rows, np.broadcast_to(d_rows[:, :, None], h_rows.shape))
        # hours -> the weekday-hour cell of their month
        wd = (c.first_day + days + 3) % 7
        hm = g.rows("HM")  # [HU, months, 7, 24]
        add(h_rows, hm[:, c.month_of_day[:, None], wd[:, None], np.arange(24)[None, :]])
    child = np.concatenate(kids)
    par = np.concatenate(pars)
    group = np.concatenate(rel) * len(g.C) + par
    _, gid = np.unique(group, return_inverse=True)
    return np.stack([child, par]), gid


def suppress(c: Cube, k: int) -> Cube:
    """Set the cube's suppression masks for threshold ``k`` (in place; returns the cube)."""
    g = _Grids(c)
    C, S = g.C, g.S
    nz = C > 0
    S |= nz & (k > C)
    S[:, :] |= S[:, DEV:DEV + 1]
    (child, par), gid = _relations(c, g)
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    g_parent = np.zeros(n_groups, np.int64)
    g_parent[gid] = par
    measures = [m for m in range(M) if m != SES]
    for _ in range(10_000):
        before = int(S.sum())
        # within a row: the parts of each partition add up to the row's devices
        for cols in PARTITIONS:
            cc, ss = C[:, cols], S[:, cols]
            part_sup = (ss & (cc > 0)).sum(axis=1)
            need = (part_sup == 1) & ~S[:, DEV]
            if need.any():
                cand = np.where(~ss & (cc > 0), cc, np.iinfo(np.int32).max)
                rows = np.flatnonzero(need)
                best = cand[rows].argmin(axis=1)
                none = cand[rows, best] == np.iinfo(np.int32).max
                S[rows[~none], np.asarray(cols)[best[~none]]] = True
                S[rows[none], :] = True  # only the suppressed part is non-zero: the row would give it away
        # across rows: parent = sum of children, so parent and children together hide 0 or >= 2 non-zero cells
        for m in measures:
            hidden_parent = S[g_parent, m] & nz[g_parent, m]
            n_sup = np.bincount(gid, weights=S[child, m] & nz[child, m], minlength=n_groups) + hidden_parent
            need = (n_sup == 1) & nz[g_parent, m]
            if not need.any():
                continue
            idx = np.flatnonzero(need[gid] & ~S[child, m] & nz[child, m])
            if len(idx):
                idx = idx[np.lexsort((C[child[idx], m], gid[idx]))]
                first = np.r_[True, gid[idx][1:] != gid[idx][:-1]]
                S[child[idx[first]], m] = True
            covered = np.zeros(n_groups, bool)
            covered[gid[idx]] = True
            S[g_parent[need & ~covered & ~hidden_parent], m] = True
        S[S[:, DEV], :] = True
        if int(S.sum()) == before:
            break
    S[:, SES] = S[:, DEV]
    c.k = k
    c.S_D = g.mask("D")
    c.S_MO = g.mask("MO")
    c.S_TOT = g.mask("TOT")
    if "H" in g.parts:
        c.S_H, c.S_HM = g.mask("H"), g.mask("HM")
    c.S_flows = {key: 0 < n < k for key, n in c.flows.items()}
    return c
