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
from core.inventory import Inventory

K_DEFAULT = 10


def k_min(inv: Inventory) -> int:
    """``[visitors] k_min`` (default 10; the config refuses values under 2, which would hide nothing)."""
    return max(2, int(inv.visitors.k_min))


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


def _relations(c: Cube, g: _Grids, hours: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(child rows, parent rows, group ids) of every "child adds into parent" pair: the day, month and period
    grids' own relations, or (``hours``) those of the hour and weekday-hour grids."""
    parent = np.asarray([u.parent for u in c.units], np.int64)
    has_parent = parent >= 0
    kids: list[np.ndarray] = []
    pars: list[np.ndarray] = []
    rel: list[np.ndarray] = []

    def add(ch: np.ndarray, pa: np.ndarray) -> None:
        kids.append(ch.ravel())
        pars.append(np.broadcast_to(pa, ch.shape).ravel())
        rel.append(np.full(ch.size, len(rel), np.int64))

    u_child = np.flatnonzero(has_parent)
    days = np.arange(c.n_days)
    if not hours:
        add(g.rows("D", u_child), g.rows("D", parent[u_child]))  # spatial, per day
        add(g.rows("MO", u_child), g.rows("MO", parent[u_child]))  # spatial, per month
        add(g.rows("TOT", u_child), g.rows("TOT", parent[u_child]))  # spatial, whole period
        add(g.rows("D", slice(None), days), g.rows("MO", slice(None), c.month_of_day))  # days -> their month
        add(g.rows("MO"), g.rows("TOT")[:, None])  # months -> the period
    else:
        hu = c.hour_units
        hu_of = np.full(len(c.units), -1, np.int64)
        hu_of[hu] = np.arange(len(hu))
        hu_child = np.flatnonzero(has_parent[hu])
        add(g.rows("H", hu_child), g.rows("H", hu_of[parent[hu[hu_child]]]))  # spatial, per hour
        add(g.rows("HM", hu_child), g.rows("HM", hu_of[parent[hu[hu_child]]]))  # spatial, per weekday-hour
        h_rows = g.rows("H")  # [HU, days, 24] -> the day row of the same unit
        add(h_rows, g.rows("D", hu)[:, :, None])
        wd = (c.first_day + days + 3) % 7  # -> the weekday-hour cell of their month
        add(h_rows, g.rows("HM")[:, c.month_of_day[:, None], wd[:, None], np.arange(24)[None, :]])
    if not kids:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    child, par = np.concatenate(kids), np.concatenate(pars)
    _, gid = np.unique(np.concatenate(rel) * len(g.C) + par, return_inverse=True)
    return child, par, gid.ravel()


def _pinned(C: np.ndarray, S: np.ndarray, m: int) -> np.ndarray:
    """Rows whose measure ``m`` is the only non-zero part of its partition in a shown row."""
    for cols in PARTITIONS:
        if m in cols:
            return ~S[:, DEV] & ((C[:, cols] > 0).sum(axis=1) == 1) & (C[:, m] > 0)
    return np.zeros(len(C), bool)


def _settle(C: np.ndarray, S: np.ndarray, child: np.ndarray, par: np.ndarray, gid: np.ndarray,
            frozen: np.ndarray) -> None:
    """Complementary suppression to a fixed point (rule 2). ``frozen`` rows were settled before and stay as they
    are: where one of them would have to be hidden, every shown non-zero part of its group is hidden instead."""
    nz = C > 0
    big = np.iinfo(np.int32).max
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    g_parent = np.zeros(n_groups, np.int64)
    g_parent[gid] = par
    open_rows = np.flatnonzero(~frozen)
    measures = [m for m in range(M) if m != SES]
    for _ in range(10_000):
        before = int(S.sum())
        # within a row: the parts of each partition add up to the row's devices
        for cols in PARTITIONS:
            cc, ss = C[open_rows][:, cols], S[open_rows][:, cols]
            part_sup = (ss & (cc > 0)).sum(axis=1)
            need = (part_sup == 1) & ~S[open_rows, DEV]
            if need.any():
                cand = np.where(~ss & (cc > 0), cc, big)
                sel = np.flatnonzero(need)
                best = cand[sel].argmin(axis=1)
                none = cand[sel, best] == big
                S[open_rows[sel[~none]], np.asarray(cols)[best[~none]]] = True
                S[open_rows[sel[none]], :] = True  # its only non-zero part is hidden: the row would give it away
        # across rows: parent = sum of children, so together they hide no non-zero cell or at least two
        for m in measures:
            hidden_parent = S[g_parent, m] & nz[g_parent, m]
            n_sup = np.bincount(gid, weights=S[child, m] & nz[child, m], minlength=n_groups) + hidden_parent
            need = (n_sup == 1) & nz[g_parent, m]
            if not need.any():
                continue
            # candidates: shown non-zero children; a "pinned" one (the only non-zero part of its shown row, so
            # its row gives it away) is taken only when nothing else can be: hiding it hides its whole row
            cand = need[gid] & ~S[child, m] & nz[child, m] & ~frozen[child]
            pinned = _pinned(C, S, m)[child]
            covered = np.zeros(n_groups, bool)
            for take in (cand & ~pinned, None, cand & pinned):
                if take is None:  # no free child: hide the total instead, where it is not settled already
                    up = need & ~covered & ~hidden_parent & ~frozen[g_parent]
                    S[g_parent[up], m] = True
                    covered |= up
                    continue
                idx = np.flatnonzero(take & ~covered[gid])
                if len(idx):
                    idx = idx[np.lexsort((C[child[idx], m], gid[idx]))]
                    first = np.r_[True, gid[idx][1:] != gid[idx][:-1]]
                    S[child[idx[first]], m] = True
                    covered[gid[idx[first]]] = True
            fixed = need & ~covered & frozen[g_parent] & ~hidden_parent
            if fixed.any():  # the total is settled and shown: hide every shown part (it was this or nothing)
                kids = np.flatnonzero(fixed[gid] & nz[child, m])
                S[child[kids], m] = True
        S[S[:, DEV], :] = True
        if int(S.sum()) == before:
            break


def _close_leaks(C: np.ndarray, S: np.ndarray, child: np.ndarray, par: np.ndarray, gid: np.ndarray,
                 frozen: np.ndarray, k: int) -> None:
    """The attacker's check, run on the masks themselves: solve every "parent = sum of children" equation that has
    a single unknown device count, again and again, as someone holding all the published tables would. Where a
    hidden non-zero cell comes out, one more shown non-zero, non-frozen member of that equation is hidden (the
    smallest), and the search starts again; where no member can be, every non-frozen row of the grid is hidden.
    Rule 2's settling is local; this closes the chains between groups that it can miss."""
    if not len(gid):
        return
    n_groups = int(gid.max()) + 1
    members = np.concatenate([child, np.unique(np.stack([gid, par], axis=1), axis=0)[:, 1]])
    groups = np.concatenate([gid, np.unique(np.stack([gid, par], axis=1), axis=0)[:, 0]])
    nz = C[:, DEV] > 0
    for _ in range(10_000):
        known = ~S[:, DEV] | ~nz  # a shown count, or a zero (shown as 0)
        leaked_group = -1
        while True:
            unknown = ~known[members]
            n_unknown = np.bincount(groups, weights=unknown, minlength=n_groups)
            solvable = (n_unknown == 1)[groups] & unknown
            if not solvable.any():
                break
            rows = members[solvable]
            leak = S[rows, DEV] & nz[rows] & (C[rows, DEV] < k)
            if leak.any():
                leaked_group = int(groups[np.flatnonzero(solvable)[np.argmax(leak)]])
                break
            known[rows] = True
        if leaked_group < 0:
            return
        in_group = members[groups == leaked_group]
        total = int(par[np.flatnonzero(gid == leaked_group)[0]])
        cand = [int(r) for r in in_group if not S[r, DEV] and nz[r] and not frozen[r]]
        if total in cand:  # hide the total first: its parts (the detail people use) stay shown
            S[total, :] = True
        elif cand:
            S[min(cand, key=lambda r: (C[r, DEV], r)), :] = True
        else:
            S[~frozen, :] = True
            return


def suppress(c: Cube, k: int) -> Cube:
    """Set the cube's suppression masks for threshold ``k`` (in place; returns the cube).

    Days, months and the period are settled first, then hours and the heatmap around them (never changing a
    day): so a cube read with hours (the console, open data) and one without (a 年度) hide the same days."""
    g = _Grids(c)
    C, S = g.C, g.S
    S |= (C > 0) & (k > C)
    S[S[:, DEV], :] = True
    n_dmt = g.parts["H"][0] if "H" in g.parts else len(C)
    frozen = np.zeros(len(C), bool)
    frozen[n_dmt:] = True  # phase 1: only day, month and period rows move
    rel = _relations(c, g, hours=False)
    _settle(C, S, *rel, frozen)
    _close_leaks(C, S, *rel, frozen, k)
    if "H" in g.parts:
        rel = _relations(c, g, hours=True)
        _settle(C, S, *rel, ~frozen)
        # the closure checks the hour grid's own equations (across sites and into the day); the weekday-hour
        # heatmap's are left to rule 2, whose totals it hides first
        keep = rel[1] < g.parts["HM"][0]
        _close_leaks(C, S, rel[0][keep], rel[1][keep], rel[2][keep], ~frozen, k)
    S[:, SES] = S[:, DEV]
    c.k = k
    c.S_D = g.mask("D")
    c.S_MO = g.mask("MO")
    c.S_TOT = g.mask("TOT")
    if "H" in g.parts:
        c.S_H, c.S_HM = g.mask("H"), g.mask("HM")
    c.S_flows, c.S_flows_lang = _flows(c, k)
    return c


def _flows(c: Cube, k: int) -> tuple[dict[tuple[int, int, int], bool], dict[tuple[int, int, int, int], bool]]:
    """A flow under k is hidden; its language parts add up to it, so they follow rules 1 and 2 inside the flow
    (no flow totals across sites are published, so flows form no other group)."""
    total = {key: 0 < n < k for key, n in c.flows.items()}
    parts: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
    for (mi, a, b, ln), n in c.flows_lang.items():
        parts.setdefault((mi, a, b), []).append((ln, n))
    hidden: dict[tuple[int, int, int, int], bool] = {}
    for key, ps in parts.items():
        h = {ln: total[key] or 0 < n < k for ln, n in ps}
        if not total[key] and sum(h.values()) == 1:
            shown_parts = sorted((n, ln) for ln, n in ps if not h[ln] and n > 0)
            if shown_parts:
                h[shown_parts[0][1]] = True
            else:  # the hidden part is the flow's only one: it is the total, so the flow is hidden
                total[key] = True
                h = dict.fromkeys(h, True)
        hidden.update({(*key, ln): v for ln, v in h.items()})
    return total, hidden
