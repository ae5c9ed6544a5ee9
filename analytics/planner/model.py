"""Budgeted maximal covering location problem (MCLP) over one or more funding rounds: exact MIP and greedy.

Pure functions over plain arrays: demand weights w_i, a sparse 0/1 coverage matrix a_ij (demand point i is
within reach of candidate j), integer costs c_j in yen, one budget per round, and optional side constraints
(a count limit per round, sites forced in or out, demand points that must be covered, district minimums and
caps). The exact model is solved by HiGHS (``scipy.optimize.milp``); its integer picks are then re-checked in
exact integer arithmetic against every constraint, because HiGHS accepts x = 0.99999975 as 1 and a budget can
then be overrun by a yen or two. A violation re-solves with tighter tolerances, then with the offending
integer point cut off, and fails loudly (``SolverError``) if neither helps. ``proven_optimal`` is only ever
true for a feasible integer plan whose gap HiGHS closed.

Rounds are one joint model (each site at most once; per-round budgets, optionally carrying unspent money
forward): it maximises the coverage after the last round, then, among plans with that coverage, a second
small model schedules the chosen sites so that earlier rounds get the higher value. Ties are broken
deterministically (cheaper, then earlier candidate), so the same input always gives the same plan.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

MAX_RESOLVES = 8
TIGHT = {"mip_feasibility_tolerance": 1e-10, "primal_feasibility_tolerance": 1e-10}


class SolverError(RuntimeError):
    """HiGHS ended without a proven optimum or its integer picks break a constraint: never report a guess."""


class InfeasibleError(ValueError):
    """No plan meets every constraint (forced sites over budget, a must-cover point out of reach...)."""


@dataclass(frozen=True)
class Group:
    """Candidates of one district (地区) with the minimum and maximum number of them to fund over all rounds."""

    name: str
    members: tuple[int, ...]
    min_picks: int = 0
    max_picks: int | None = None


@dataclass(frozen=True)
class Problem:
    weights: np.ndarray  # (n_dem,) demand weight, already 0 where existing APs serve it
    cover: sparse.csc_matrix  # (n_dem, n_cand) bool
    costs: np.ndarray  # (n_cand,) int64 yen
    round_budgets: tuple[int, ...]  # yen available in each round
    carry_over: bool = False  # unspent money of a round moves to the next
    count: int | None = None  # at most this many sites per round
    force: frozenset[int] = frozenset()
    exclude: frozenset[int] = frozenset()
    must_cover: np.ndarray | None = None  # bool mask over demand points
    groups: tuple[Group, ...] = ()

    @property
    def n_cand(self) -> int:
        return int(self.cover.shape[1])

    @property
    def n_rounds(self) -> int:
        return len(self.round_budgets)


@dataclass(frozen=True)
class Solution:
    picks: tuple[int, ...]  # candidate indices in pick order: by round, then largest marginal gain first
    covered: float  # total demand weight covered by the picks
    cost: int
    mip_gap: float | None = None  # exact only: HiGHS's final relative gap
    rounds: tuple[int, ...] = ()  # round index of each pick (same order as picks); empty means all in round 0
    gains: tuple[float, ...] = ()  # marginal gain of each pick in pick order; sums to covered
    checked: bool = False  # the integer picks were re-checked against every constraint
    resolves: int = 0  # extra HiGHS runs needed to get a feasible integer plan
    notes: tuple[str, ...] = field(default=())

    @property
    def proven_optimal(self) -> bool:
        """HiGHS closed the gap (to rounding: it reports e.g. 1.5e-16) on a plan that passed the integer check."""
        return self.checked and self.mip_gap is not None and self.mip_gap <= 1e-9

    def round_of(self, j: int) -> int:
        return self.rounds[self.picks.index(j)] if self.rounds else 0


def as_csc(cover: np.ndarray | sparse.spmatrix) -> sparse.csc_matrix:
    return sparse.csc_matrix(cover, dtype=bool)


def covered_weight(picks: Sequence[int], weights: np.ndarray, cover: np.ndarray | sparse.spmatrix) -> float:
    if not len(picks):
        return 0.0
    a = as_csc(cover)[:, list(picks)]
    hit = np.asarray(a.sum(axis=1)).ravel() > 0
    return float(weights[hit].sum())


def marginal_order(picks: Sequence[int], weights: np.ndarray, cover: np.ndarray | sparse.spmatrix,
                   left: np.ndarray | None = None) -> tuple[tuple[int, ...], tuple[float, ...], np.ndarray]:
    """Order picks by largest marginal gain first (ties: earlier index); gains are incremental, O(nnz) overall.

    ``left`` is the weight still uncovered (default: all of ``weights``); returns the order, each pick's gain
    and what is left uncovered afterwards, so rounds can be chained and every gain adds up to the coverage.
    """
    left = (weights.astype(float) if left is None else left).copy()
    cols = list(picks)
    if not cols:
        return (), (), left
    a = as_csc(cover)[:, cols].astype(float).tocsc()
    ar = a.tocsr()
    gains = np.asarray(a.T @ left).ravel()
    done = np.zeros(len(cols), dtype=bool)
    order: list[int] = []
    got: list[float] = []
    for _ in cols:
        cand = np.where(done, -np.inf, gains)
        k = int(np.argmax(cand))  # argmax: first of equals, i.e. the earlier index
        done[k] = True
        rows = a.indices[a.indptr[k]:a.indptr[k + 1]]
        rows = rows[left[rows] > 0]
        order.append(cols[k])
        got.append(float(left[rows].sum()))
        if rows.size:
            gains -= np.asarray(ar[rows].T @ left[rows]).ravel()
            left[rows] = 0.0
    return tuple(order), tuple(got), left


def _aggregate(w: np.ndarray, a: sparse.csr_matrix,
               must: np.ndarray) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
    """Merge demand points reached by exactly the same candidates: one model row each, weights summed."""
    keys: dict[bytes, int] = {}
    rows: list[int] = []
    wt: list[float] = []
    mu: list[bool] = []
    for i in range(a.shape[0]):
        key = a.indices[a.indptr[i]:a.indptr[i + 1]].tobytes()
        k = keys.get(key)
        if k is None:
            keys[key] = len(rows)
            rows.append(i)
            wt.append(float(w[i]))
            mu.append(bool(must[i]))
        else:
            wt[k] += float(w[i])
            mu[k] = mu[k] or bool(must[i])
    return np.array(wt, dtype=float), a[rows], np.array(mu, dtype=bool)


def violations(p: Problem, picks: Sequence[int], rounds: Sequence[int]) -> list[str]:
    """Every constraint the integer plan breaks, checked in exact integer arithmetic (Python ints)."""
    out: list[str] = []
    if len(set(picks)) != len(picks):
        out.append("a site is funded twice")
    spent = [0] * p.n_rounds
    per_round = [0] * p.n_rounds
    for j, r in zip(picks, rounds, strict=True):
        spent[r] += int(p.costs[j])
        per_round[r] += 1
    carried = 0
    for r, budget in enumerate(p.round_budgets):
        avail = int(budget) + carried
        if spent[r] > avail:
            out.append(f"round {r + 1}: {spent[r]:,} yen spent of {avail:,}")
        carried = avail - spent[r] if p.carry_over else 0
        if p.count is not None and per_round[r] > p.count:
            out.append(f"round {r + 1}: {per_round[r]} sites, at most {p.count}")
    chosen = set(picks)
    for j in sorted(p.force - chosen):
        out.append(f"forced candidate {j} is not funded")
    for j in sorted(p.exclude & chosen):
        out.append(f"excluded candidate {j} is funded")
    for g in p.groups:
        n = len(chosen & set(g.members))
        if n < g.min_picks or (g.max_picks is not None and n > g.max_picks):
            out.append(f"district {g.name}: {n} sites funded, allowed {g.min_picks}..{g.max_picks}")
    if p.must_cover is not None and p.must_cover.any():
        reached = np.zeros(p.cover.shape[0], dtype=bool)
        if chosen:
            reached = np.asarray(p.cover[:, sorted(chosen)].sum(axis=1)).ravel() > 0
        missed = int((p.must_cover & ~reached).sum())
        if missed:
            out.append(f"{missed} must-cover demand points are not covered")
    return out


_FD_LOCK = threading.Lock()
_fd_users = 0
_fd_saved: int | None = None


def _flush_c_stdio() -> None:
    """Flush the C library's stdout buffer (HiGHS printf()s into it) so nothing is written after fd 1 is back."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def solver_output_to_stderr() -> Iterator[None]:
    """Send whatever is written to file descriptor 1 during a solve to fd 2.

    HiGHS prints some lines (``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();``)
    with printf at the C level, whatever its output options say, and that broke ``rank --format json``. The
    redirect is process-wide, so it is counted: concurrent solves (console threads) share one redirect and
    the last one out restores fd 1.
    """
    global _fd_users, _fd_saved
    with _FD_LOCK:
        if _fd_users == 0:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stdout.flush()
            _flush_c_stdio()
            try:
                _fd_saved = os.dup(1)
            except OSError:  # no fd 1 (a daemon without one): nothing to protect
                _fd_saved = None
            if _fd_saved is not None:
                try:
                    os.dup2(2, 1)
                except OSError:  # no fd 2: leave fd 1 as it is
                    os.close(_fd_saved)
                    _fd_saved = None
        _fd_users += 1
    try:
        yield
    finally:
        with _FD_LOCK:
            _fd_users -= 1
            if _fd_users == 0 and _fd_saved is not None:
                _flush_c_stdio()
                os.dup2(_fd_saved, 1)
                os.close(_fd_saved)
                _fd_saved = None


def _milp(c: np.ndarray, cons: list[LinearConstraint], integrality: np.ndarray, lb: np.ndarray, ub: np.ndarray,
          tight: bool, rel_gap: float = 0.0) -> Any:
    opts: dict[str, object] = {"disp": False, "mip_rel_gap": rel_gap}
    if tight:
        opts.update(TIGHT)
    with warnings.catch_warnings(), solver_output_to_stderr():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns that TIGHT goes to HiGHS verbatim
        return milp(c, constraints=cons, integrality=integrality, bounds=Bounds(lb, ub), options=opts)


def _budget_rows(p: Problem, n_cand: int, offset: int, n_vars: int) -> list[LinearConstraint]:
    """Per-round budget (cumulative with carry-over) and count rows over x_{j,r} laid out as offset + r*n + j."""
    out: list[LinearConstraint] = []
    r_n = p.n_rounds
    costs = p.costs.astype(float)
    m = sparse.lil_matrix((r_n, n_vars))
    for r in range(r_n):
        for rr in range(0 if p.carry_over else r, r + 1):
            m[r, offset + rr * n_cand: offset + (rr + 1) * n_cand] = costs
    caps = np.cumsum(p.round_budgets) if p.carry_over else np.array(p.round_budgets)
    out.append(LinearConstraint(m.tocsr(), -np.inf, caps.astype(float)))
    if p.count is not None:
        k = sparse.lil_matrix((r_n, n_vars))
        for r in range(r_n):
            k[r, offset + r * n_cand: offset + (r + 1) * n_cand] = 1.0
        out.append(LinearConstraint(k.tocsr(), -np.inf, float(p.count)))
    return out


def _ties(p: Problem, n: int) -> np.ndarray:
    """Tie-breakers far below one visitor: prefer cheaper, then earlier candidates, then earlier rounds."""
    scale = float(p.costs.max()) if p.costs.size else 1.0
    base = 1e-6 * (p.costs / scale) + 1e-9 * np.arange(p.n_cand)
    return np.concatenate([base + 1e-8 * r for r in range(n)])


def solve_plan(p: Problem, rel_gap: float = 0.0) -> Solution:
    """The joint plan: max coverage after the last round, then the schedule that covers most early on.

    ``rel_gap`` > 0 stops HiGHS within that relative gap (the sensitivity re-solves): such a plan is feasible
    and checked but not proven optimal. Raises InfeasibleError when no plan meets the constraints, SolverError
    when HiGHS proves nothing.
    """
    n, r_n = p.n_cand, p.n_rounds
    if n == 0 or r_n == 0:
        return Solution((), 0.0, 0, 0.0, (), (), True)
    w = p.weights.astype(float)
    must = p.must_cover if p.must_cover is not None else np.zeros(len(w), dtype=bool)
    reach = np.asarray(p.cover.sum(axis=1)).ravel() > 0
    if (must & ~reach).any():
        raise InfeasibleError(f"{int((must & ~reach).sum())} must-cover demand points are within reach of no candidate")
    keep = np.flatnonzero(((w > 0) | must) & reach)
    wk, a, mk = _aggregate(w[keep], sparse.csr_matrix(p.cover[keep], dtype=float), must[keep])
    n_dem = len(wk)
    n_x = n * r_n
    # variables: x_{j,r} (j fastest), then z_i (covered at the end, continuous 0..1)
    ax = sparse.hstack([a] * r_n, format="csr")
    cons = [LinearConstraint(sparse.hstack([-ax, sparse.identity(n_dem, format="csr")], format="csr"), -np.inf, 0.0)]
    cons += _budget_rows(p, n, 0, n_x + n_dem)
    once = sparse.hstack([sparse.identity(n, format="csr")] * r_n + [sparse.csr_matrix((n, n_dem))], format="csr")
    lo_once = np.array([1.0 if j in p.force else 0.0 for j in range(n)])
    if r_n > 1 or p.force:
        cons.append(LinearConstraint(once, lo_once, 1.0))
    for g in p.groups:
        row = sparse.csr_matrix(once[list(g.members)].sum(axis=0))
        cons.append(LinearConstraint(row, float(g.min_picks),
                                     np.inf if g.max_picks is None else float(g.max_picks)))
    if mk.any():
        cons.append(LinearConstraint(sparse.hstack([ax[np.flatnonzero(mk)], sparse.csr_matrix((int(mk.sum()), n_dem))],
                                                   format="csr"), 1.0, np.inf))
    c = np.concatenate([_ties(p, r_n), -wk])
    integrality = np.concatenate([np.ones(n_x), np.zeros(n_dem)])
    lb = np.zeros(n_x + n_dem)
    ub = np.ones(n_x + n_dem)
    for j in p.exclude:
        ub[j:n_x:n] = 0.0
    cuts: list[LinearConstraint] = []
    notes: list[str] = []
    tight = False
    resolves = 0
    for resolves in range(MAX_RESOLVES + 1):  # noqa: B007 (the count is reported)
        res = _milp(c, cons + cuts, integrality, lb, ub, tight, rel_gap)
        status = getattr(res, "status", None)
        x = getattr(res, "x", None)
        if status == 2:  # cuts only ever remove integer points that break a constraint: none is left
            raise InfeasibleError("no plan meets every constraint (budgets, forced sites, must-cover points, "
                                  "district limits)")
        if status != 0 or x is None:
            raise SolverError(f"HiGHS found no proven optimum: {getattr(res, 'message', status)}")
        xr = np.asarray(x[:n_x]).reshape(r_n, n) > 0.5
        picks = [int(j) for r in range(r_n) for j in np.flatnonzero(xr[r])]
        rounds = [r for r in range(r_n) for _ in np.flatnonzero(xr[r])]
        bad = violations(p, picks, rounds)
        if not bad:
            break
        notes.append(f"HiGHS's integer picks broke: {'; '.join(bad)}; re-solved "
                     + ("with that plan cut off" if tight else "with tighter tolerances"))
        if not tight:
            tight = True
            continue
        # cut off exactly this integer point: sum_{on} x - sum_{off} x <= |on| - 1
        row = np.where(xr.ravel(), 1.0, -1.0)
        cuts.append(LinearConstraint(np.concatenate([row, np.zeros(n_dem)])[None, :], -np.inf,
                                     float(xr.sum()) - 1.0))
    else:
        raise SolverError(f"HiGHS's integer picks kept breaking constraints after {MAX_RESOLVES} re-solves: "
                          f"{'; '.join(bad)}")
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    if rel_gap > 0:
        gap = max(gap, 1.0)  # stopped early on purpose: never called proven
    covered = covered_weight(picks, w, p.cover)
    solver_value = float(-(res.fun - c[:n_x] @ x[:n_x]))
    if abs(covered - solver_value) > 1e-6 * max(1.0, abs(covered)) + 1e-6:
        notes.append(f"coverage of the integer picks {covered:.3f} differs from HiGHS's {solver_value:.3f}")
        gap = max(gap, abs(covered - solver_value) / max(1.0, abs(covered)))
    if r_n > 1 and picks:
        rounds = _schedule(p, picks, rounds)
        bad = violations(p, picks, rounds)
        if bad:
            raise SolverError(f"the schedule of the chosen sites breaks: {'; '.join(bad)}")
    return _finish(p, picks, rounds, gap, resolves, tuple(notes))


def _finish(p: Problem, picks: Sequence[int], rounds: Sequence[int], gap: float | None, resolves: int,
            notes: tuple[str, ...] = ()) -> Solution:
    """Pick order (round, then marginal gain) with each pick's incremental gain; gains sum to the coverage."""
    left = p.weights.astype(float)
    order: list[int] = []
    rnds: list[int] = []
    gains: list[float] = []
    for r in range(max(1, p.n_rounds)):
        mine = [j for j, rr in zip(picks, rounds, strict=True) if rr == r]
        o, g, left = marginal_order(mine, p.weights, p.cover, left)
        order += o
        gains += g
        rnds += [r] * len(o)
    return Solution(tuple(order), float(sum(gains)), int(sum(int(p.costs[j]) for j in order)), gap,
                    tuple(rnds), tuple(gains), True, resolves, notes)


def _schedule(p: Problem, picks: Sequence[int], rounds: Sequence[int]) -> list[int]:
    """Among schedules of the chosen sites, the one covering most summed over the rounds before the last."""
    r_n = p.n_rounds
    s = list(picks)
    k = len(s)
    a_s = sparse.csr_matrix(p.cover[:, s], dtype=float)
    rows = np.flatnonzero((np.asarray(a_s.sum(axis=1)).ravel() > 0) & (p.weights > 0))
    wk, a, _ = _aggregate(p.weights[rows].astype(float), a_s[rows], np.zeros(len(rows), dtype=bool))
    n_dem = len(wk)
    early = r_n - 1  # z_{i,r} for r < last round
    n_x = k * r_n
    n_vars = n_x + n_dem * early
    cons: list[LinearConstraint] = []
    for r in range(early):
        # z_{i,r} <= sum_j a_ij sum_{r'<=r} x_{j,r'}
        ax = sparse.hstack([a if rr <= r else sparse.csr_matrix(a.shape) for rr in range(r_n)], format="csr")
        zpart = sparse.hstack([sparse.identity(n_dem, format="csr") if rr == r else sparse.csr_matrix((n_dem, n_dem))
                               for rr in range(early)], format="csr")
        cons.append(LinearConstraint(sparse.hstack([-ax, zpart], format="csr"), -np.inf, 0.0))
    sub = Problem(p.weights, p.cover, p.costs[s], p.round_budgets, p.carry_over, p.count)
    cons += _budget_rows(sub, k, 0, n_vars)
    cons.append(LinearConstraint(sparse.hstack([sparse.identity(k, format="csr")] * r_n
                                               + [sparse.csr_matrix((k, n_dem * early))], format="csr"), 1.0, 1.0))
    ties = np.concatenate([1e-9 * np.arange(k) + 1e-8 * r for r in range(r_n)])
    c = np.concatenate([ties, np.tile(-wk, early)])
    integrality = np.concatenate([np.ones(n_x), np.zeros(n_dem * early)])
    for tight in (False, True):
        res = _milp(c, cons, integrality, np.zeros(n_vars), np.ones(n_vars), tight)
        x = getattr(res, "x", None)
        if getattr(res, "status", None) != 0 or x is None:
            return list(rounds)  # keep the joint model's own schedule: it is feasible
        xr = np.asarray(x[:n_x]).reshape(r_n, k) > 0.5
        new = [int(np.argmax(xr[:, i])) for i in range(k)]
        if all(xr[:, i].sum() == 1 for i in range(k)) and not violations(p, s, new):
            return new
    return list(rounds)


def solve_exact(weights: np.ndarray, cover: np.ndarray | sparse.spmatrix, costs: np.ndarray, budget: float,
                count: int | None = None) -> Solution:
    """One round: max sum_i w_i y_i  s.t.  y_i <= sum_j a_ij x_j,  sum_j c_j x_j <= budget,  sum_j x_j <= count."""
    p = Problem(np.asarray(weights, dtype=float), as_csc(cover), np.asarray(costs).astype(np.int64),
                (int(np.floor(budget)),), count=count)
    return solve_plan(p)


def solve_greedy(weights: np.ndarray, cover: np.ndarray | sparse.spmatrix, costs: np.ndarray, budget: float,
                 count: int | None = None, caps: Sequence[tuple[Sequence[int], int]] = ()) -> Solution:
    """Repeatedly take the affordable candidate with the largest marginal gain per yen (ties: cheaper, earlier).

    The baseline the exact optimum is compared with; gains are updated incrementally (O(nnz) overall).
    ``caps`` are (members, at most this many more) pairs, e.g. district caps less what earlier rounds took.
    """
    a = as_csc(cover).astype(float).tocsc()
    ar = a.tocsr()
    left = np.asarray(weights, dtype=float).copy()
    gain = np.asarray(a.T @ left).ravel()
    costs_f = np.asarray(costs, dtype=float)
    free = np.ones(a.shape[1], dtype=bool)
    picks: list[int] = []
    got: list[float] = []
    spent = 0
    room = [(np.asarray(list(m), dtype=np.int64), int(k)) for m, k in caps]
    while count is None or len(picks) < count:
        for members, k in room:
            if k <= 0:
                free[members] = False
        ok = free & (spent + costs_f <= budget) & (gain > 1e-12)
        if not ok.any():
            break
        ratio = np.where(ok, gain / costs_f, -np.inf)
        tied = np.flatnonzero(ratio == ratio.max())
        best = int(tied[np.argmin(costs_f[tied])])  # argmin: the first of equals, i.e. earliest
        rows = a.indices[a.indptr[best]:a.indptr[best + 1]]
        rows = rows[left[rows] > 0]
        picks.append(best)
        got.append(float(left[rows].sum()))
        free[best] = False
        spent += int(costs[best])
        room = [(members, k - int(best in members)) for members, k in room]
        if rows.size:
            gain -= np.asarray(ar[rows].T @ left[rows]).ravel()
            left[rows] = 0.0
    return Solution(tuple(picks), float(sum(got)), spent, None, (0,) * len(picks), tuple(got), True)


def solve_round_by_round(p: Problem) -> Solution:
    """The myopic plan for comparison: each round solved alone, later rounds seeing earlier picks as covered.

    Group caps carry over (a round may take only what earlier rounds left of a cap); forced sites, must-cover
    points and group minimums have no round-by-round meaning, so callers do not compare plans that have them.
    """
    if p.force or p.must_cover is not None or any(g.min_picks for g in p.groups):
        raise ValueError("round by round: forced sites, must-cover points and group minimums are not supported")
    left = p.weights.astype(float).copy()
    picks: list[int] = []
    rounds: list[int] = []
    gap = 0.0
    carried = 0
    for r, budget in enumerate(p.round_budgets):
        exclude = frozenset(p.exclude | set(picks))
        caps = tuple(Group(g.name, g.members, 0, None if g.max_picks is None
                           else g.max_picks - len(set(picks) & set(g.members))) for g in p.groups)
        sub = Problem(left, p.cover, p.costs, (int(budget) + carried,), count=p.count, exclude=exclude, groups=caps)
        s = solve_plan(sub)
        picks += s.picks
        rounds += [r] * len(s.picks)
        gap = max(gap, s.mip_gap or 0.0)
        spent = sum(int(p.costs[j]) for j in s.picks)
        carried = int(budget) + carried - spent if p.carry_over else 0
        if s.picks:
            left[np.asarray(p.cover[:, list(s.picks)].sum(axis=1)).ravel() > 0] = 0.0
    return _finish(p, picks, rounds, gap, 0)
