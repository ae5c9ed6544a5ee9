"""Budgeted maximal covering location problem (MCLP): exact MIP (HiGHS via scipy) and the greedy baseline.

Pure functions over plain arrays: demand weights w_i, a 0/1 coverage matrix a_ij (demand point i is within
reach of candidate j), costs c_j, a budget and an optional count limit. Ties are broken deterministically
(cheaper, then earlier candidate), so the same input always gives the same picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp


@dataclass(frozen=True)
class Solution:
    picks: tuple[int, ...]  # candidate indices, in the order they add value (largest marginal gain first)
    covered: float  # total demand weight covered
    cost: int


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
    """max sum_i w_i y_i  s.t.  y_i <= sum_j a_ij x_j,  sum_j c_j x_j <= budget,  sum_j x_j <= count."""
    n_dem, n_cand = cover.shape
    if n_cand == 0:
        return Solution((), 0.0, 0)
    scale = float(costs.max()) if costs.size else 1.0
    # Tiny tie-breakers (far below one visitor): prefer cheaper, then earlier candidates.
    eps = 1e-6 * (costs / scale) + 1e-9 * np.arange(n_cand)
    c = np.concatenate([eps, -weights.astype(float)])  # milp minimises
    rows = [np.hstack([-cover.astype(float), np.eye(n_dem)])]
    lo, hi = [np.full(n_dem, -np.inf)], [np.zeros(n_dem)]
    rows.append(np.concatenate([costs.astype(float), np.zeros(n_dem)])[None, :])
    lo.append(np.array([-np.inf]))
    hi.append(np.array([float(budget)]))
    if count is not None:
        rows.append(np.concatenate([np.ones(n_cand), np.zeros(n_dem)])[None, :])
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(count)]))
    cons = LinearConstraint(np.vstack(rows), np.concatenate(lo), np.concatenate(hi))
    integrality = np.concatenate([np.ones(n_cand), np.zeros(n_dem)])  # y relaxes to 0/1 at the optimum
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1),
               options={"disp": False, "mip_rel_gap": 0.0})
    if res.x is None:
        return Solution((), 0.0, 0)
    picks = [j for j in range(n_cand) if res.x[j] > 0.5]
    return Solution(_order(picks, weights, cover), covered_weight(picks, weights, cover),
                    int(costs[picks].sum()) if picks else 0)


def solve_greedy(weights: np.ndarray, cover: np.ndarray, costs: np.ndarray, budget: float,
                 count: int | None = None) -> Solution:
    """Repeatedly take the affordable candidate with the largest marginal gain per yen."""
    picks: list[int] = []
    spent = 0.0
    while count is None or len(picks) < count:
        base = covered_weight(picks, weights, cover)
        best, best_ratio = None, 0.0
        for j in range(cover.shape[1]):
            if j in picks or spent + costs[j] > budget:
                continue
            gain = covered_weight([*picks, j], weights, cover) - base
            ratio = gain / float(costs[j])
            cheaper = best is not None and costs[j] < costs[best]
            if gain > 0 and (ratio > best_ratio or (ratio == best_ratio and cheaper)):
                best, best_ratio = j, ratio
        if best is None:
            break
        picks.append(best)
        spent += float(costs[best])
    return Solution(tuple(picks), covered_weight(picks, weights, cover), int(spent))
