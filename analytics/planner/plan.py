"""Rank candidate hotspot sites and pick the ones to fund: per round, within budget, with reasons.

Demand (demand.py) minus what existing APs already cover is the objective; model.py solves the
covering problem exactly and greedily. Every candidate gets a score broken into parts and a one-line
rationale; picks are re-solved with coverage radii moved by +-20% and with visitor figures moved 20%
against the plan (every pick's -20%, every other candidate's +20%: moving all of them the same way
would only rescale the objective and could never change a pick), and marked stable when they survive
every variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from analytics.planner.demand import ApDemand, DemandPoint, ap_position, build_demand, distance_matrix_m, haversine_m
from analytics.planner.model import Solution, solve_exact, solve_greedy
from core.inventory import Candidate, Inventory

DEFAULT_BUDGET_YEN = 5_000_000  # one every-other-year round (illustrative; set --budget)
VARIANTS = (("radius", 0.8), ("radius", 1.2), ("visitors", 0.2))  # visitors: picks -20%, the others +20%


class PlannerInputError(ValueError):
    """A budget, count or round setting the planner cannot use; the message names the option."""


@dataclass
class CandidateResult:
    id: str
    name_ja: str
    name_en: str
    kind: str
    rank: int
    score: float  # newly covered visitors a year per million yen
    selected: bool
    round: int | None
    newly_covered_visitors: int
    distance_to_nearest_ap_m: float | None
    nearest_site: str | None
    observed_nearby_demand: int
    cost_yen: int
    cost_per_visitor_yen: float | None
    stable: bool
    rationale: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class PlanResult:
    candidates: list[CandidateResult]
    budget_yen: int | None
    budget_per_round: int | None
    rounds: list[int]
    optimum: float
    greedy: float
    gap_pct: float
    budget_used_yen: int
    proven_optimal: bool  # HiGHS closed the gap to 0 in every round
    demand_total: float
    demand_already_covered: float

    def to_json(self) -> dict[str, Any]:
        return {"summary": {k: v for k, v in asdict(self).items() if k != "candidates"},
                "candidates": [asdict(c) for c in self.candidates]}


def _existing(inv: Inventory, radius_scale: float) -> list[tuple[str, str, float, float, float]]:
    """(ap id, site id, lat, lon, radius m) of every installed AP."""
    out = []
    for site, ap in inv.aps():
        lat, lon = ap_position(inv, ap.id)
        out.append((ap.id, site.id, lat, lon, inv.coverage_radius_for(site, ap) * radius_scale))
    return out


def _matrices(inv: Inventory, demand: Sequence[DemandPoint], radius_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Demand weights with what existing APs already serve set to 0, and the candidate coverage matrix."""
    existing = _existing(inv, radius_scale)
    w = np.array([p.weight for p in demand], dtype=float)
    lat = np.array([p.lat for p in demand], dtype=float)
    lon = np.array([p.lon for p in demand], dtype=float)
    if existing and len(demand):
        d = distance_matrix_m(lat, lon, np.array([e[2] for e in existing]), np.array([e[3] for e in existing]))
        w[(d <= np.array([e[4] for e in existing])[None, :]).any(axis=1)] = 0.0  # already served
    cands = inv.candidates
    radii = np.array([inv.planner.coverage_radius_m.get(c.kind, 50.0) * radius_scale for c in cands])
    d = distance_matrix_m(lat, lon, np.array([c.lat for c in cands]), np.array([c.lon for c in cands]))
    return w, d <= radii[None, :]


def _check(budget_yen: int | None, count: int | None, rounds: Sequence[int] | None,
           budget_per_round: int | None) -> None:
    if budget_yen is not None and budget_yen < 0:
        raise PlannerInputError(f"--budget: {budget_yen} yen is negative")
    if budget_per_round is not None and budget_per_round < 0:
        raise PlannerInputError(f"--budget-per-round: {budget_per_round} yen is negative")
    if count is not None and count < 1:
        raise PlannerInputError(f"--count: {count} must be at least 1")
    if rounds and budget_per_round is None:
        raise PlannerInputError("--rounds needs --budget-per-round")
    if rounds and len(set(rounds)) != len(rounds):
        raise PlannerInputError(f"--rounds: a year appears twice in {', '.join(map(str, rounds))}")


def _solve_rounds(w: np.ndarray, cover: np.ndarray, costs: np.ndarray, rounds: Sequence[int],
                  budget: float, count: int | None) -> tuple[dict[int, int], list[Solution]]:
    """Later rounds see earlier picks as covered; returns candidate index -> round index, and each round."""
    assigned: dict[int, int] = {}
    sols = []
    weights = w.copy()
    for k, _ in enumerate(rounds):
        free = np.array([j not in assigned for j in range(cover.shape[1])])
        sub = cover[:, free]
        idx = np.flatnonzero(free)
        sol = solve_exact(weights, sub, costs[free], budget, count)
        picks = tuple(int(idx[j]) for j in sol.picks)
        sols.append(Solution(picks, sol.covered, sol.cost, sol.mip_gap))
        for j in picks:
            assigned[j] = k
        if picks:
            weights[cover[:, list(picks)].any(axis=1)] = 0.0
    return assigned, sols


def _round_number(x: float) -> str:
    for unit, div in (("万", 10_000),):
        if x >= div:
            return f"{x / div:,.0f}{unit}" if x >= 10 * div else f"{x / div:,.1f}{unit}"
    return f"{x:,.0f}"


def _rationale(c: Candidate, r: CandidateResult, inv: Inventory, lang: str) -> str:
    if lang == "ja":
        where = "既存APなし"
        if r.nearest_site is not None and r.distance_to_nearest_ap_m is not None:
            site = inv.site(r.nearest_site)
            n = len(site.aps)
            where = f"{site.name_ja}の{n}APから約{_round_m(r.distance_to_nearest_ap_m)}m離れ"
        text = f"{where}、年間来訪者約{_round_number(r.newly_covered_visitors)}人を新たにカバー"
        if r.cost_per_visitor_yen is not None:
            text += f"（1人あたり約{r.cost_per_visitor_yen:,.1f}円）"
        if r.observed_nearby_demand:
            text += f"、近隣APの混雑による需要 約{_round_number(r.observed_nearby_demand)}人"
        if r.newly_covered_visitors == 0:
            text = f"{where}だが、既存APで需要はほぼカバー済み"
        return text
    where = "no existing AP"
    if r.nearest_site is not None and r.distance_to_nearest_ap_m is not None:
        site = inv.site(r.nearest_site)
        where = f"about {_round_m(r.distance_to_nearest_ap_m)} m from the {len(site.aps)} APs of {site.name_en}"
    text = f"{where}; newly covers about {r.newly_covered_visitors:,} visitors a year"
    if r.cost_per_visitor_yen is not None:
        text += f" (about {r.cost_per_visitor_yen:,.1f} yen per visitor)"
    if r.observed_nearby_demand:
        text += f"; nearby saturated APs add about {r.observed_nearby_demand:,}"
    if r.newly_covered_visitors == 0:
        text = f"{where}, but existing APs already cover its demand"
    return text


def _round_m(d: float) -> int:
    return int(round(d, -1)) if d < 1000 else int(round(d, -2))


def plan(inv: Inventory, observed: Mapping[str, ApDemand] | None = None, budget_yen: int | None = None,
         count: int | None = None, rounds: Sequence[int] | None = None, budget_per_round: int | None = None,
         extra_demand: Sequence[DemandPoint] = (), lang: str = "ja", sensitivity: bool = True) -> PlanResult:
    _check(budget_yen, count, rounds, budget_per_round)
    cands = inv.candidates
    costs = np.array([c.install_cost_yen for c in cands], dtype=float)
    round_list = list(rounds) if rounds else [0]
    one = budget_per_round if rounds else budget_yen
    budget = float(one if one is not None else DEFAULT_BUDGET_YEN)

    def run(radius_scale: float = 1.0, against: Mapping[str, float] | None = None) -> tuple[
            dict[int, int], list[Solution], np.ndarray, np.ndarray, list[DemandPoint]]:
        demand = build_demand(inv, observed, extra_demand, candidate_scale=against)
        w, cover = _matrices(inv, demand, radius_scale)
        assigned, sols = _solve_rounds(w, cover, costs, round_list, budget, count)
        return assigned, sols, w, cover, demand

    assigned, sols, w, cover, demand = run()
    greedy = solve_greedy(w, cover, costs, budget, count)
    optimum = sols[0].covered if sols else 0.0
    stable_sets = []
    if sensitivity:
        for what, f in VARIANTS:
            if what == "radius":
                a, *_ = run(radius_scale=f)
            else:
                a, *_ = run(against={c.id: 1 - f if j in assigned else 1 + f for j, c in enumerate(cands)})
            stable_sets.append(set(a))

    existing = _existing(inv, 1.0)
    total = float(sum(p.weight for p in demand))
    results: list[CandidateResult] = []
    for j, c in enumerate(cands):
        newly = float(w[cover[:, j]].sum())
        spill = float(sum(w[i] for i in np.flatnonzero(cover[:, j]) if demand[i].source.startswith("spill:")))
        nearest = min(((haversine_m(c.lat, c.lon, la, lo), site) for _, site, la, lo, _ in existing), default=None)
        score = newly / (c.install_cost_yen / 1e6)
        r = CandidateResult(
            id=c.id, name_ja=c.name_ja, name_en=c.name_en, kind=c.kind.value, rank=0, score=round(score, 1),
            selected=j in assigned, round=round_list[assigned[j]] if j in assigned and rounds else None,
            newly_covered_visitors=int(round(newly)),
            distance_to_nearest_ap_m=None if nearest is None else round(nearest[0], 1),
            nearest_site=None if nearest is None else nearest[1], observed_nearby_demand=int(round(spill)),
            cost_yen=c.install_cost_yen,
            cost_per_visitor_yen=None if newly <= 0 else round(c.install_cost_yen / newly, 2),
            stable=(j in assigned) and all(j in s for s in stable_sets), rationale="",
        )
        r.rationale = _rationale(c, r, inv, lang)
        r.reasons = [
            f"newly_covered_visitors={r.newly_covered_visitors}",
            f"distance_to_nearest_ap_m={r.distance_to_nearest_ap_m}",
            f"observed_nearby_demand={r.observed_nearby_demand}",
            f"cost_per_visitor_yen={r.cost_per_visitor_yen}",
        ]
        if j in assigned and stable_sets:
            r.reasons.append(f"picked_in_variants={sum(j in st for st in stable_sets)}/{len(stable_sets)}")
        results.append(r)
    order = {j: (assigned[j], sols[assigned[j]].picks.index(j)) for j in assigned}
    # Unpicked: by score; all else equal, the site farther from existing APs first.
    far = {j: -(r.distance_to_nearest_ap_m if r.distance_to_nearest_ap_m is not None else float("inf"))
           for j, r in enumerate(results)}
    ranked = sorted(range(len(cands)), key=lambda j: (0, *order[j], 0.0, "") if j in order else
                    (1, -results[j].score, 0, far[j], results[j].id))
    for rank, j in enumerate(ranked, start=1):
        results[j].rank = rank
    results.sort(key=lambda r: r.rank)
    used = int(sum(s.cost for s in sols))
    gap = 0.0 if optimum <= 0 else 100.0 * (optimum - greedy.covered) / optimum
    return PlanResult(results, None if rounds else int(budget), int(budget) if rounds else None,
                      list(rounds or []), round(optimum, 1), round(greedy.covered, 1), round(gap, 2), used,
                      all(s.proven_optimal for s in sols), round(total, 1), round(total - float(w.sum()), 1))
