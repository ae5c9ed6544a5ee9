"""Budgeted maximal covering location problem (MCLP): exact MIP (HiGHS via scipy) and the greedy baseline.

Pure functions over plain arrays: demand weights w_i, a 0/1 coverage matrix a_ij (demand point i is within
reach of candidate j), costs c_j, a budget and an optional count limit. Ties are broken deterministically
(cheaper, then earlier candidate), so the same input always gives the same picks. The constraint matrix is
sparse (a demand point is near few candidates), so 500 candidates x 5,000 points fit in a few MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp


class SolverError(RuntimeError):
    """HiGHS ended without a proven optimum (time limit, numerical trouble): never report a guess as optimal."""


@dataclass(frozen=True)
class Solution:
    picks: tuple[int, ...]  # candidate indices, in the order they add value (largest marginal gain first)
    covered: float  # total demand weight covered
    cost: int
    mip_gap: float | None = None  # exact only: HiGHS's final relative gap

    @property
    def proven_optimal(self) -> bool:
        """HiGHS closed the gap (to rounding: it reports e.g. 1.5e-16 for a closed one)."""
        return self.mip_gap is not None and self.mip_gap <= 1e-9


def covered_weight(picks: Sequence[int], weights: np.ndarray, cover: np.ndarray) -> float:
    if not picks:
        return 0.0
    hit = cover[:, list(picks)].any(axis=1)
    return float(weights[hit].sum())


def _order(picks: Sequence[int], weights: np.ndarray, cover: np.ndarray) -> tuple[int, ...]:
    """Order picks by marginal gain, so the list reads as 'most valuable first'."""
    left: list[int] = list(picks)
    done: list[int] = []
    while left:
        base = covered_weight(done, weights, cover)
        best = max(left, key=lambda j: (covered_weight([*done, j], weights, cover) - base, -j))
        done.append(best)
        left.remove(best)
    return tuple(done)


def solve_exact(weights: np.ndarray, cover: np.ndarray, costs: np.ndarray, budget: float,
                count: int | None = None) -> Solution:
    """max sum_i w_i y_i  s.t.  y_i <= sum_j a_ij x_j,  sum_j c_j x_j <= budget,  sum_j x_j <= count.

    Raises SolverError unless HiGHS proves the optimum (relative gap 0). Demand points no candidate
    reaches, or of zero weight, cannot change the optimum and are left out of the model.
    """
    n_cand = cover.shape[1]
    if n_cand == 0:
        return Solution((), 0.0, 0, 0.0)
    keep = np.flatnonzero((weights > 0) & cover.any(axis=1))
    w, a = weights[keep].astype(float), sparse.csr_matrix(cover[keep], dtype=float)
    n_dem = len(keep)
    scale = float(costs.max()) if costs.size else 1.0
    # Tiny tie-breakers (far below one visitor): prefer cheaper, then earlier candidates.
    eps = 1e-6 * (costs / scale) + 1e-9 * np.arange(n_cand)
    c = np.concatenate([eps, -w])  # milp minimises
    rows = [sparse.hstack([-a, sparse.identity(n_dem, format="csr")])]
    lo, hi = [np.full(n_dem, -np.inf)], [np.zeros(n_dem)]
    rows.append(sparse.csr_matrix(np.concatenate([costs.astype(float), np.zeros(n_dem)])[None, :]))
    lo.append(np.array([-np.inf]))
    hi.append(np.array([float(budget)]))
    if count is not None:
        rows.append(sparse.csr_matrix(np.concatenate([np.ones(n_cand), np.zeros(n_dem)])[None, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(count)]))
    cons = LinearConstraint(sparse.vstack(rows, format="csr"), np.concatenate(lo), np.concatenate(hi))
    integrality = np.concatenate([np.ones(n_cand), np.zeros(n_dem)])  # y relaxes to 0/1 at the optimum
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1),
               options={"disp": False, "mip_rel_gap": 0.0})
    if res.status != 0 or res.x is None:
        raise SolverError(f"HiGHS found no proven optimum: {res.message}")
    picks = [j for j in range(n_cand) if res.x[j] > 0.5]
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    return Solution(_order(picks, weights, cover), covered_weight(picks, weights, cover),
                    int(costs[picks].sum()) if picks else 0, gap)


def solve_greedy(weights: np.ndarray, cover: np.ndarray, costs: np.ndarray, budget: float,
                 count: int | None = None) -> Solution:
    """Repeatedly take the affordable candidate with the largest marginal gain per yen (ties: cheaper, earlier).

    The baseline the exact optimum is compared with; gains are one matrix-vector product per pick.
    """
    picks: list[int] = []
    spent = 0.0
    left = weights.astype(float).copy()  # weight of demand not yet covered
    a = sparse.csc_matrix(cover, dtype=float)
    free = np.ones(cover.shape[1], dtype=bool)
    while count is None or len(picks) < count:
        gain = a.T @ left
        ok = free & (spent + costs <= budget) & (gain > 0)
        if not ok.any():
            break
        ratio = np.where(ok, gain / costs.astype(float), -np.inf)
        tied = np.flatnonzero(ratio == ratio.max())
        best = int(tied[np.argmin(costs[tied])])  # argmin: the first of equals, i.e. earliest
        picks.append(best)
        free[best] = False
        spent += float(costs[best])
        left[cover[:, best]] = 0.0
    return Solution(tuple(picks), covered_weight(picks, weights, cover), int(spent))
