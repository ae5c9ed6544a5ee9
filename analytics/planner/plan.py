"""Rank candidate hotspot sites and pick the ones to fund, over one or more rounds, with figures that add up.

The public entry point is ``make_plan(inv, Scenario(...), observed) -> PlanResult`` (the CLI, the map and the
web console all call it). Demand (demand.py: visitors, event days, residents, shelters, overflow at busy APs)
minus what existing APs already cover is the objective; model.py solves one joint plan over all rounds
exactly. Every figure is a marginal gain in pick order, so a pick's figures, each round's total and the plan's
coverage add up. Unselected sites are ranked by what they would add to the plan, each with why it was not
picked. Sensitivity: the plan is re-solved with coverage radii moved by +-20% and with visitor figures moved
20% against the plan (every pick's -20%, every other candidate's +20%); a pick a variant drops is unstable,
and the variant and the site replacing it are named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy import sparse

from analytics.planner.coverage import cover_matrix, nearest_m, reached_by_any
from analytics.planner.demand import ApDemand, DemandPoint, DemandWeights, ap_position, build_demand
from analytics.planner.model import (
    Group,
    InfeasibleError,
    Problem,
    Solution,
    solve_greedy,
    solve_plan,
    solve_round_by_round,
)
from analytics.planner.shelters import Shelter, shelter_demand
from core.inventory import Candidate, Inventory

DEFAULT_BUDGET_YEN = 5_000_000  # one every-other-year round (illustrative; set --budget)
VARIANTS = (("radius", 0.8), ("radius", 1.2), ("visitors", 0.2))  # visitors: picks -20%, the others +20%
VARIANT_LABEL = {"ja": {("radius", 0.8): "電波到達半径-20%", ("radius", 1.2): "電波到達半径+20%",
                        ("visitors", 0.2): "来訪者数を計画に不利に±20%"},
                 "en": {("radius", 0.8): "coverage radius -20%", ("radius", 1.2): "coverage radius +20%",
                        ("visitors", 0.2): "visitor figures 20% against the plan"}}
KINDS = ("candidate", "event", "mesh", "shelter", "spill", "csv")  # demand kinds, in the order figures list them
SCORE_UNIT = {"ja": "人/年/百万円", "en": "visitors/yr per million yen"}
COVERED_BY_PICKS_SHARE = 0.5
# The variants ask "does this pick survive a 20 % change", not for a proof: stopping within 0.01 % of the
# optimum keeps a city-scale run to a few solves' time (docs/benchmarks/planner.md).
SENSITIVITY_GAP = 1e-4


class PlannerInputError(ValueError):
    """A budget, count, round or scenario setting the planner cannot use; the message names the option.

    ``str(e)`` is the CLI's English (it names the command-line option); ``e.ja`` says the same in Japanese with
    the console form's field names, for the 整備計画 page."""

    def __init__(self, message: str, ja: str | None = None):
        super().__init__(message)
        self.ja = ja or message


@dataclass(frozen=True)
class CandidateOverride:
    """A scenario's edited figures for one candidate (None keeps the inventory's)."""

    annual_visitors: int | None = None
    event_days: int | None = None
    event_visitors_per_day: int | None = None
    install_cost_yen: int | None = None
    running_cost_yen_per_year: int | None = None
    life_years: int | None = None


@dataclass(frozen=True)
class Scenario:
    """Everything a planning question can vary. Budgets in yen; rounds are fiscal years.

    One round: ``budget_yen`` (default DEFAULT_BUDGET_YEN). Several: ``rounds`` with ``round_budgets_yen`` (one
    per round) or ``budget_per_round`` (the same each round); ``carry_over`` moves unspent money forward.
    ``count`` limits sites per round. ``force``/``exclude`` are candidate ids. ``district_min``/``district_max``
    bound the sites funded in each 地区 (candidates' ``district``) over all rounds.
    """

    budget_yen: int | None = None
    rounds: tuple[int, ...] = ()
    budget_per_round: int | None = None
    round_budgets_yen: tuple[int, ...] = ()
    carry_over: bool = False
    count: int | None = None
    force: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    overrides: Mapping[str, CandidateOverride] = field(default_factory=dict)
    weights: DemandWeights = DemandWeights()
    season: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    population: tuple[DemandPoint, ...] = ()  # residents (population.load_population_mesh)
    shelters: tuple[Shelter, ...] = ()
    shelter_mode: Literal["weight", "must_cover"] = "weight"
    district_min: int = 0
    district_max: int | None = None
    extra_demand: tuple[DemandPoint, ...] = ()
    lang: Literal["ja", "en"] = "ja"
    sensitivity: bool = True


@dataclass
class CandidateResult:
    id: str
    name_ja: str
    name_en: str
    kind: str
    district: str
    rank: int
    score: float  # newly covered visitors a year per million yen of install cost (SCORE_UNIT)
    selected: bool
    round: int | None  # fiscal year of the round that funds it (None: one-round plan or not selected)
    round_index: int | None  # 0-based round (0 for a one-round plan)
    pick_order: int | None  # 1-based position in the plan's pick order
    newly_covered_visitors: int  # picked: marginal gain in pick order; not picked: what it would add to the plan
    gain_by_kind: dict[str, int]  # the same figure by demand kind (candidate=annual, event, mesh, shelter, spill)
    standalone_visitors: int  # what it covers alone (beyond existing APs)
    annual_visitors: int  # the inventory's (or scenario's) figure, as given
    event_day_visitors: int  # event days x visitors per event day, as given (counted at weights.event_day)
    distance_to_nearest_ap_m: float | None
    nearest_site: str | None
    observed_nearby_demand: int  # of the gain: overflow from busy existing APs it relieves
    cost_yen: int
    running_cost_yen_per_year: int
    life_years: int
    life_cost_yen: int
    cost_per_visitor_yen: float | None  # life cost / (newly covered visitors a year x life years)
    stable: bool
    unstable: list[dict[str, Any]]  # picks only: {"variation": label, "replaced_by": [ids]} per dropping variant
    why_not: list[str]  # not picked: codes (over_budget, no_money_left, count_limit, covered_by_picks, ...)
    rationale: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class RoundSummary:
    year: int | None
    budget_yen: int  # the round's own budget
    available_yen: int  # with carry-over from earlier rounds
    spent_yen: int
    picks: list[str]
    covered: int  # sum of this round's picks' newly covered visitors
    cumulative_covered: int
    note: str


@dataclass
class Comparison:
    """The round-by-round (myopic) plan beside the joint one."""

    covered: int
    picks: list[tuple[str, int | None]]
    by_round: list[int]
    joint_minus_round_by_round: int
    joint_gain_pct: float


@dataclass
class PlanResult:
    candidates: list[CandidateResult]  # picks in pick order, then the rest by what they would add
    rounds: list[RoundSummary]
    round_years: list[int]
    budget_yen: int | None
    budget_per_round: int | None
    optimum: int  # == covered: the plan's newly covered visitors a year (sum of the picks' figures)
    covered: int
    greedy: int | None  # the greedy baseline (round by round, best gain per yen first); None: not comparable
    gap_pct: float | None  # how much more the plan covers than greedy, % of the plan; None with greedy None
    round_by_round: Comparison | None  # None: one round, or constraints a myopic plan cannot follow
    budget_used_yen: int
    proven_optimal: bool  # feasible integer plan, every constraint re-checked, HiGHS's gap closed
    demand_total: float
    demand_already_covered: float
    demand_by_kind: dict[str, int]
    covered_by_kind: dict[str, int]
    score_unit: str
    warnings: list[str]
    solver_notes: list[str]
    sensitivity_checked: bool = False  # the radius and visitor variations were solved (picks' `stable` means it)

    def to_json(self) -> dict[str, Any]:
        return {"summary": {k: v for k, v in asdict(self).items() if k != "candidates"},
                "candidates": [asdict(c) for c in self.candidates]}


# -- inputs -------------------------------------------------------------------------------------------------

def _check(s: Scenario, inv: Inventory) -> None:
    if s.budget_yen is not None and s.budget_yen < 0:
        raise PlannerInputError(f"--budget: {s.budget_yen} yen is negative", f"予算: {s.budget_yen:,}円は負の値です")
    if s.budget_per_round is not None and s.budget_per_round < 0:
        raise PlannerInputError(f"--budget-per-round: {s.budget_per_round} yen is negative",
                                f"年度ごとの予算: {s.budget_per_round:,}円は負の値です")
    if any(b < 0 for b in s.round_budgets_yen):
        raise PlannerInputError("--round-budgets: a budget is negative", "年度ごとの予算: 負の値があります")
    if s.count is not None and s.count < 1:
        raise PlannerInputError(f"--count: {s.count} must be at least 1",
                                f"年度ごとの最大箇所数: {s.count} ではなく1以上にしてください")
    if s.rounds and s.budget_per_round is None and not s.round_budgets_yen:
        raise PlannerInputError("--rounds needs --budget-per-round or --round-budgets",
                                "年度を指定したときは、年度ごとの予算も入力してください")
    if s.round_budgets_yen and len(s.round_budgets_yen) != max(1, len(s.rounds)):
        raise PlannerInputError(f"--round-budgets: {len(s.round_budgets_yen)} budgets for "
                                f"{max(1, len(s.rounds))} rounds",
                                f"年度ごとの予算: {max(1, len(s.rounds))}年度に対して予算が"
                                f"{len(s.round_budgets_yen)}件です")
    if s.rounds and len(set(s.rounds)) != len(s.rounds):
        raise PlannerInputError(f"--rounds: a year appears twice in {', '.join(map(str, s.rounds))}",
                                f"年度: 同じ年度が2回あります（{'、'.join(map(str, s.rounds))}）")
    if list(s.rounds) != sorted(s.rounds):
        raise PlannerInputError(f"--rounds: years must be in order ({', '.join(map(str, s.rounds))})",
                                f"年度: 古い順に並べてください（{'、'.join(map(str, s.rounds))}）")
    ids = {c.id for c in inv.candidates}
    for opt, vals in (("--force", s.force), ("--exclude", s.exclude), ("overrides", set(s.overrides))):
        unknown = sorted(set(vals) - ids)
        if unknown:
            raise PlannerInputError(f"{opt}: no candidate {', '.join(unknown)}",
                                    f"候補地がありません: {'、'.join(unknown)}")
    both = sorted(s.force & s.exclude)
    names = {c.id: c.name_ja for c in inv.candidates}
    if both:
        raise PlannerInputError(f"--force/--exclude: {', '.join(both)} is both forced and excluded",
                                f"{'、'.join(names[i] for i in both)}: 「必ず選ぶ」と「除外」の両方が選ばれています")
    if len(s.weights.month) != 12 or any(not math.isfinite(m) or m < 0 for m in s.weights.month):
        raise PlannerInputError("--month-weights: needs 12 non-negative numbers (January first)",
                                "月別の重み: 1月から順に0以上の数を12個指定してください")
    for name in ("event_day", "resident", "shelter", "overflow"):
        v = getattr(s.weights, name)
        if not math.isfinite(v) or v < 0:
            raise PlannerInputError(f"weights.{name}: {v} must be a non-negative number",
                                    f"重み（{name}）: {v} ではなく0以上の数にしてください")
    if s.district_min < 0 or (s.district_max is not None and s.district_max < s.district_min):
        raise PlannerInputError("--district-min/--district-max: need 0 <= min <= max",
                                "地区ごとの最小・最大箇所数: 0 ≦ 最小 ≦ 最大 にしてください")


def round_budgets(s: Scenario) -> tuple[int, ...]:
    if s.round_budgets_yen:
        return tuple(int(b) for b in s.round_budgets_yen)
    if s.rounds:
        return (int(s.budget_per_round or 0),) * len(s.rounds)
    return (int(s.budget_yen if s.budget_yen is not None else DEFAULT_BUDGET_YEN),)


def edited_candidates(inv: Inventory, s: Scenario) -> list[Candidate]:
    out = []
    for c in inv.candidates:
        o = s.overrides.get(c.id)
        if o is None:
            out.append(c)
            continue
        upd = {k: v for k, v in asdict(o).items() if v is not None}
        try:
            out.append(Candidate.model_validate({**c.model_dump(), **upd}))
        except ValueError as e:
            raise PlannerInputError(f"overrides[{c.id}]: {e}",
                                    f"{c.name_ja}: 編集した数値が使えません（0以上の整数にしてください）") from None
    return out


def _running(inv: Inventory, c: Candidate) -> tuple[int, int]:
    return (c.running_cost_yen_per_year if c.running_cost_yen_per_year is not None
            else inv.planner.running_cost_yen_per_year,
            c.life_years if c.life_years is not None else inv.planner.life_years)


# -- the model inputs ---------------------------------------------------------------------------------------

@dataclass
class _Inputs:
    demand: list[DemandPoint]
    w_raw: np.ndarray  # before existing coverage
    w: np.ndarray  # what existing APs do not serve yet
    cover: sparse.csc_matrix
    must: np.ndarray
    kind: np.ndarray  # index into KINDS per demand point


def _existing(inv: Inventory, radius_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    lat, lon, rad, site = [], [], [], []
    for s, ap in inv.aps():
        la, lo = ap_position(inv, ap.id)
        lat.append(la)
        lon.append(lo)
        rad.append(inv.coverage_radius_for(s, ap) * radius_scale)
        site.append(s.id)
    return np.array(lat, float), np.array(lon, float), np.array(rad, float), site


def _inputs(inv: Inventory, cands: Sequence[Candidate], demand: list[DemandPoint], radius_scale: float) -> _Inputs:
    lat = np.array([p.lat for p in demand], float)
    lon = np.array([p.lon for p in demand], float)
    w_raw = np.array([p.weight for p in demand], float)
    reach = np.array([p.reach_m for p in demand], float)
    must = np.array([p.must for p in demand], bool)
    kind = np.array([KINDS.index(p.kind) if p.kind in KINDS else KINDS.index("csv") for p in demand], dtype=np.int64)
    w = w_raw.copy()
    e_lat, e_lon, e_rad, _ = _existing(inv, radius_scale)
    normal = reach == 0  # overflow points stay: they are what the existing APs serve badly
    if len(e_lat) and normal.any():
        idx = np.flatnonzero(normal)
        served = reached_by_any(lat[idx], lon[idx], e_lat, e_lon, e_rad)
        w[idx[served]] = 0.0
        must[idx[served]] = False
    radii = np.array([inv.planner.coverage_radius_m.get(c.kind, 50.0) * radius_scale for c in cands], float)
    c_lat = np.array([c.lat for c in cands], float)
    c_lon = np.array([c.lon for c in cands], float)
    blocks = []
    for r in np.unique(reach) if len(reach) else []:
        idx = np.flatnonzero(reach == r)
        m = cover_matrix(lat[idx], lon[idx], c_lat, c_lon, radii + r).tocoo()
        blocks.append((idx[m.row], m.col))
    rows = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros(0, np.int64)
    cols = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros(0, np.int64)
    cover = sparse.csc_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(len(demand), len(cands)))
    return _Inputs(demand, w_raw, w, cover, must, kind)


def _problem(inp: _Inputs, cands: Sequence[Candidate], s: Scenario, budgets: tuple[int, ...]) -> Problem:
    idx = {c.id: j for j, c in enumerate(cands)}
    groups: list[Group] = []
    if s.district_min or s.district_max is not None:
        by: dict[str, list[int]] = {}
        for j, c in enumerate(cands):
            if c.district:
                by.setdefault(c.district, []).append(j)
        for name, members in sorted(by.items()):
            groups.append(Group(name, tuple(members), min(s.district_min, len(members)), s.district_max))
    return Problem(inp.w, inp.cover, np.array([c.install_cost_yen for c in cands], dtype=np.int64), budgets,
                   s.carry_over, s.count, frozenset(idx[i] for i in s.force), frozenset(idx[i] for i in s.exclude),
                   inp.must if inp.must.any() else None, tuple(groups))


def _demand(inv: Inventory, cands: Sequence[Candidate], s: Scenario, observed: Mapping[str, ApDemand] | None,
            against: Mapping[str, float] | None = None) -> list[DemandPoint]:
    extra = list(s.extra_demand)
    extra += [replace(p, weight=p.weight * s.weights.resident) for p in s.population]
    extra += shelter_demand(s.shelters, s.weights, s.shelter_mode == "must_cover")
    return build_demand(inv, observed, extra, candidate_scale=against, candidates=cands, weights=s.weights,
                        season=s.season)


def _solve(p: Problem, s: Scenario, demand: Sequence[DemandPoint]) -> Solution:
    try:
        return solve_plan(p)
    except InfeasibleError as e:
        en, ja = _why_infeasible(p, demand)
        raise PlannerInputError(en or str(e), ja) from None


def _why_infeasible(p: Problem, demand: Sequence[DemandPoint]) -> tuple[str, str]:
    """Why no plan meets the constraints, in English (CLI options) and Japanese (the console's words)."""
    forced = sum(int(p.costs[j]) for j in p.force)
    total = sum(p.round_budgets)
    if forced > total:
        return (f"--force: the forced sites cost {forced:,} yen, more than the {total:,} yen of all rounds",
                f"必ず選ぶ候補地の費用{forced:,}円が、全年度の予算{total:,}円を超えています")
    if p.must_cover is not None:
        reach = np.asarray(p.cover.sum(axis=1)).ravel() > 0
        out = sorted({demand[int(i)].source.split(":", 1)[1] for i in np.flatnonzero(p.must_cover & ~reach)})
        if out:
            more_en = f" and {len(out) - 20} more" if len(out) > 20 else ""
            more_ja = f" ほか{len(out) - 20}件" if len(out) > 20 else ""
            return ("--shelter-mode must_cover: within reach of no candidate and no existing AP: "
                    + ", ".join(out[:20]) + more_en,
                    "必ずカバーする避難所のうち、どの候補地・既存APからも届かないもの: "
                    + "、".join(out[:20]) + more_ja)
        return ("--shelter-mode must_cover: the budgets cannot pay for sites that reach every shelter",
                "予算内では、すべての避難所に届く候補地を整備できません")
    if p.groups:
        return ("--district-min/--district-max: no plan within the budgets meets the district limits",
                "予算内で地区ごとの箇所数の条件を満たす計画がありません")
    return ("no plan meets every constraint (budgets, count, forced sites)",
            "予算・箇所数・必ず選ぶ候補地の条件をすべて満たす計画がありません")


# -- figures ------------------------------------------------------------------------------------------------

def _largest_remainder(values: Sequence[float], total: int | None = None) -> list[int]:
    """Integers that sum to round(sum(values)) (or ``total``), each within 1 of its value."""
    if not values:
        return []
    target = int(round(sum(values))) if total is None else total
    floors = [math.floor(v) for v in values]
    rest = target - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    for i in order[:max(0, rest)]:
        floors[i] += 1
    return floors


def _gains_by_kind(inp: _Inputs, cols: Sequence[int], left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replay picks in order: each pick's gain by demand kind (rows: picks), and what stays uncovered."""
    left = left.copy()
    out = np.zeros((len(cols), len(KINDS)))
    for k, j in enumerate(cols):
        rows = inp.cover.indices[inp.cover.indptr[j]:inp.cover.indptr[j + 1]]
        rows = rows[left[rows] > 0]
        out[k] = np.bincount(inp.kind[rows], weights=left[rows], minlength=len(KINDS))
        left[rows] = 0.0
    return out, left


def _fmt_people(x: float, lang: str) -> str:
    if lang == "ja" and x >= 10_000:
        return f"{x / 10_000:,.0f}万" if x >= 100_000 else f"{x / 10_000:,.1f}万"
    return f"{x:,.0f}"


def fmt_yen(v: float) -> str:
    """Yen with the precision a small figure needs: 0.52, 2.1, 1,234."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def fmt_distance(m: float, lang: str = "ja") -> str:
    """About 70 m, about 7.1 km: metres below 1,000 m, km from there."""
    if m < 1000:
        return f"約{int(round(m, -1))}m" if lang == "ja" else f"about {int(round(m, -1))} m"
    return f"約{m / 1000:.1f}km" if lang == "ja" else f"about {m / 1000:.1f} km"


# -- the plan -----------------------------------------------------------------------------------------------

def make_plan(inv: Inventory, scenario: Scenario | None = None,
              observed: Mapping[str, ApDemand] | None = None) -> PlanResult:
    """The plan for a scenario: picks per round, every candidate's figures and reasons, the totals.

    Raises PlannerInputError for a scenario it cannot use or that no plan meets (message names the option),
    model.SolverError when HiGHS proves nothing.
    """
    s = scenario or Scenario()
    _check(s, inv)
    lang = s.lang
    cands = edited_candidates(inv, s)
    budgets = round_budgets(s)
    years: list[int | None] = list(s.rounds) if s.rounds else [None]
    demand = _demand(inv, cands, s, observed)
    inp = _inputs(inv, cands, demand, 1.0)
    prob = _problem(inp, cands, s, budgets)
    sol = _solve(prob, s, demand)
    n = len(cands)
    picked = set(sol.picks)

    # the baselines obey the plan's constraints or are not made: forced sites, must-cover shelters and district
    # minimums have no greedy or round-by-round form, and a baseline that ignored them printed negative gaps
    comparable = not (prob.force or prob.must_cover is not None or any(g.min_picks for g in prob.groups))
    greedy_total: float | None = None
    warnings: list[str] = []
    comparison: Comparison | None = None
    if comparable:
        left = inp.w.copy()
        greedy_total = 0.0
        taken: set[int] = set()
        carry = 0
        for b in budgets:
            free = [j for j in range(n) if j not in taken and j not in prob.exclude]
            pos_free = {j: k for k, j in enumerate(free)}
            caps = [([pos_free[m] for m in g.members if m in pos_free], g.max_picks - len(taken & set(g.members)))
                    for g in prob.groups if g.max_picks is not None]
            g = solve_greedy(left, inp.cover[:, free], prob.costs[free], b + carry, s.count, caps)
            carry = b + carry - g.cost if s.carry_over else 0
            greedy_total += g.covered
            for k in g.picks:
                taken.add(free[k])
            if g.picks:
                left[np.asarray(inp.cover[:, [free[k] for k in g.picks]].sum(axis=1)).ravel() > 0] = 0.0
        if len(budgets) > 1:
            rbr = solve_round_by_round(prob)
            rbr_ints = _largest_remainder(rbr.gains)
            by_round = [sum(v for v, r in zip(rbr_ints, rbr.rounds, strict=True) if r == k)
                        for k in range(len(budgets))]
            comparison = Comparison(sum(rbr_ints), [(cands[j].id, years[r]) for j, r in zip(rbr.picks, rbr.rounds,
                                                                                            strict=True)],
                                    by_round, 0, 0.0)
    else:
        warnings.append("強制する地点・避難所の必須カバー・地区の最低箇所数があるため、貪欲法と年度ごとの比較は"
                        "同じ条件で作れず、表示しない" if lang == "ja" else
                        "no greedy or round-by-round comparison: forced sites, must-cover shelters and district "
                        "minimums have no such form, and a comparison without them would not be like for like")

    # sensitivity
    unstable: dict[int, list[dict[str, Any]]] = {j: [] for j in picked}
    if s.sensitivity:
        for what, f in VARIANTS:
            if what == "radius":
                vin = _inputs(inv, cands, demand, f)
            else:
                against = {c.id: 1 - f if j in picked else 1 + f for j, c in enumerate(cands)}
                vin = _inputs(inv, cands, _demand(inv, cands, s, observed, against), 1.0)
            try:
                vs = solve_plan(_problem(vin, cands, s, budgets), SENSITIVITY_GAP)
            except InfeasibleError:
                continue
            new = [cands[j].id for j in vs.picks if j not in picked]
            for j in picked - set(vs.picks):
                unstable[j].append({"variation": VARIANT_LABEL[lang][(what, f)], "replaced_by": new})

    # figures: picks in pick order (marginal), the rest by what they would add to the plan
    pick_kind, left_after = _gains_by_kind(inp, sol.picks, inp.w)
    pick_ints = _largest_remainder(list(sol.gains))
    after_plan = left_after
    add_kind = np.zeros((n, len(KINDS)))
    a = inp.cover.astype(float).tocsc()
    for kk in range(len(KINDS)):
        add_kind[:, kk] = a.T @ np.where(inp.kind == kk, after_plan, 0.0)
    standalone = np.asarray(a.T @ inp.w).ravel()
    raw_alone = np.asarray(a.T @ inp.w_raw).ravel()
    covered = sum(pick_ints)
    if comparison is not None:
        comparison.joint_minus_round_by_round = covered - comparison.covered
        comparison.joint_gain_pct = round(100.0 * (covered - comparison.covered) / comparison.covered, 2) \
            if comparison.covered else 0.0

    e_lat, e_lon, _, e_site = _existing(inv, 1.0)
    spent = [0] * len(budgets)
    for j, r in zip(sol.picks, sol.rounds or (0,) * len(sol.picks), strict=True):
        spent[r] += int(cands[j].install_cost_yen)
    avail: list[int] = []
    carried = 0
    for r, b in enumerate(budgets):
        avail.append(b + carried)
        carried = avail[r] - spent[r] if s.carry_over else 0
    money_left = [avail[r] - spent[r] for r in range(len(budgets))]
    pick_rounds = sol.rounds or (0,) * len(sol.picks)  # a one-round plan (or none picked) leaves rounds empty
    per_round_count = [sum(1 for r in pick_rounds if r == k) for k in range(len(budgets))]
    room = Room.of(prob, cands, sol, money_left, per_round_count, s)

    results: list[CandidateResult] = []
    pos = {j: k for k, j in enumerate(sol.picks)}
    for j, c in enumerate(cands):
        running, life = _running(inv, c)
        life_cost = c.install_cost_yen + running * life
        if j in pos:
            k = pos[j]
            gain = pick_ints[k]
            by_kind = _largest_remainder(list(pick_kind[k]), gain)
        else:
            gain = int(round(float(add_kind[j].sum())))
            by_kind = _largest_remainder(list(add_kind[j]), gain)
        gk = {KINDS[i]: v for i, v in enumerate(by_kind) if v}
        near = nearest_m(c.lat, c.lon, e_lat, e_lon)
        r_idx = (sol.rounds[pos[j]] if sol.rounds else 0) if j in pos else None
        res = CandidateResult(
            id=c.id, name_ja=c.name_ja, name_en=c.name_en, kind=c.kind.value, district=c.district, rank=0,
            score=round(gain / (c.install_cost_yen / 1e6), 1), selected=j in pos,
            round=years[r_idx] if r_idx is not None else None, round_index=r_idx,
            pick_order=pos[j] + 1 if j in pos else None, newly_covered_visitors=gain, gain_by_kind=gk,
            standalone_visitors=int(round(float(standalone[j]))), annual_visitors=c.annual_visitors,
            event_day_visitors=c.event_days * c.event_visitors_per_day,
            distance_to_nearest_ap_m=None if near is None else round(near[1], 1),
            nearest_site=None if near is None else e_site[near[0]], observed_nearby_demand=gk.get("spill", 0),
            cost_yen=c.install_cost_yen, running_cost_yen_per_year=running, life_years=life, life_cost_yen=life_cost,
            cost_per_visitor_yen=None if gain <= 0 else round(life_cost / (gain * life), 1),
            stable=j in pos and not unstable.get(j), unstable=unstable.get(j, []), why_not=[], rationale="")
        if j not in pos:
            res.why_not = _why_not(j, c, prob, gain, float(standalone[j]), float(raw_alone[j]), room)
        res.rationale = _rationale(inv, res, s, cands, sol, inp, j, room)
        res.reasons = [f"newly_covered_visitors={gain}", *(f"gain.{k}={v}" for k, v in gk.items()),
                       f"standalone_visitors={res.standalone_visitors}",
                       f"distance_to_nearest_ap_m={res.distance_to_nearest_ap_m}",
                       f"observed_nearby_demand={res.observed_nearby_demand}",
                       f"cost_per_visitor_yen={res.cost_per_visitor_yen}", *(f"why_not={w}" for w in res.why_not)]
        if j in pos and s.sensitivity:
            res.reasons.append(f"picked_in_variants={len(VARIANTS) - len(unstable[j])}/{len(VARIANTS)}")
        results.append(res)

    by_index = list(results)
    rest = sorted((j for j in range(n) if j not in pos),
                  key=lambda j: (-results[j].newly_covered_visitors, -results[j].score, -_dist(results[j]),
                                 results[j].id))
    for rank, j in enumerate([*sol.picks, *rest], start=1):
        results[j].rank = rank
    results.sort(key=lambda r: r.rank)

    summaries: list[RoundSummary] = []
    cum = 0
    for r, b in enumerate(budgets):
        ids = [cands[j].id for j in sol.picks if (sol.rounds[pos[j]] if sol.rounds else 0) == r]
        got = sum(pick_ints[pos[j]] for j in sol.picks if (sol.rounds[pos[j]] if sol.rounds else 0) == r)
        cum += got
        note = _round_note(r, ids, room, results_by_index=by_index, pos=pos, cands=cands, prob=prob, lang=lang)
        if note:
            label = (f"{years[r]}年度" if years[r] is not None else "今回") if lang == "ja" else \
                (f"FY{years[r]}" if years[r] is not None else "this round")
            warnings.append(f"{label}: {note}")
        summaries.append(RoundSummary(years[r], b, avail[r], spent[r], ids, got, cum, note))
    greedy_int = None if greedy_total is None else int(round(greedy_total))
    kinds_total = _largest_remainder([float(inp.w_raw[inp.kind == k].sum()) for k in range(len(KINDS))])
    covered_kinds = np.sum(pick_kind, axis=0) if len(sol.picks) else np.zeros(len(KINDS))
    return PlanResult(
        candidates=results, rounds=summaries, round_years=list(s.rounds), budget_yen=None if s.rounds else budgets[0],
        budget_per_round=s.budget_per_round if s.rounds else None, optimum=covered, covered=covered,
        greedy=greedy_int, gap_pct=None if greedy_int is None else
        round(100.0 * (covered - greedy_int) / covered, 2) if covered else 0.0,
        round_by_round=comparison, budget_used_yen=sum(spent), proven_optimal=sol.proven_optimal,
        demand_total=round(float(inp.w_raw.sum()), 1),
        demand_already_covered=round(float(inp.w_raw.sum() - inp.w.sum()), 1),
        demand_by_kind={KINDS[k]: v for k, v in enumerate(kinds_total) if v},
        covered_by_kind={KINDS[k]: v for k, v in enumerate(_largest_remainder(list(covered_kinds), covered)) if v},
        score_unit=SCORE_UNIT[lang], warnings=warnings, solver_notes=list(sol.notes), sensitivity_checked=s.sensitivity)


def _dist(r: CandidateResult) -> float:
    """Distance to the nearest existing AP; a site with none around is as far as can be."""
    return float("inf") if r.distance_to_nearest_ap_m is None else r.distance_to_nearest_ap_m


@dataclass(frozen=True)
class Room:
    """What the plan leaves for one more site: the money each round can still spend, counts and district caps.

    With carry-over, money spent in round r is money every later round no longer has, so a site added in round r
    must fit the smallest leftover of round r and every round after it, not round r's own leftover.
    """

    spendable: tuple[int, ...]  # per round: the most one more site may cost there
    capacity: int  # the most any site could cost with nothing else picked
    per_round: tuple[int, ...]  # picks per round
    count: int | None
    district_picks: Mapping[str, int]
    district_max: int | None
    carry_over: bool

    @staticmethod
    def of(p: Problem, cands: Sequence[Candidate], sol: Solution, money_left: Sequence[int],
           per_round: Sequence[int], s: Scenario) -> Room:
        spend = [min(money_left[r:]) if p.carry_over else money_left[r] for r in range(len(money_left))]
        cap = sum(p.round_budgets) if p.carry_over else max(p.round_budgets, default=0)
        districts: dict[str, int] = {}
        for j in sol.picks:
            if cands[j].district:
                districts[cands[j].district] = districts.get(cands[j].district, 0) + 1
        return Room(tuple(spend), int(cap), tuple(per_round), p.count, districts, s.district_max, p.carry_over)

    def money_ok(self, cost: int, r: int) -> bool:
        return cost <= self.spendable[r]

    def count_ok(self, r: int) -> bool:
        return self.count is None or self.per_round[r] < self.count

    def district_ok(self, c: Candidate) -> bool:
        return self.district_max is None or not c.district or self.district_picks.get(c.district, 0) < self.district_max

    def fits(self, c: Candidate, r: int) -> bool:
        """Adding c in round r to the plan breaks no constraint (forced sites, minimums, must-cover only gain)."""
        return self.money_ok(c.install_cost_yen, r) and self.count_ok(r) and self.district_ok(c)

    def rounds_fitting(self, c: Candidate) -> list[int]:
        return [r for r in range(len(self.spendable)) if self.fits(c, r)]


def _why_not(j: int, c: Candidate, p: Problem, gain: int, alone: float, raw_alone: float, room: Room) -> list[str]:
    """Codes that are each true of the plan: what stops adding the site, then what its demand is like."""
    if j in p.exclude:
        return ["excluded"]
    out: list[str] = []
    cost = c.install_cost_yen
    rounds = range(len(room.spendable))
    fits = room.rounds_fitting(c)
    money_rounds = [r for r in rounds if room.money_ok(cost, r)]
    if cost > room.capacity:
        out.append("over_budget")
    elif not money_rounds:
        out.append("no_money_left")
    elif not fits and not any(room.count_ok(r) for r in money_rounds):
        out.append("count_limit")  # every round with the money for it is at the count limit
    if not fits and not room.district_ok(c):
        out.append("district_cap")
    if raw_alone > 0 and alone <= 1e-9:
        out.append("covered_by_existing")
    elif alone > 0 and gain <= (1 - COVERED_BY_PICKS_SHARE) * alone:
        out.append("covered_by_picks")
    if fits and gain > 0:
        out.append("low_demand")  # it fits the plan, yet adds too little to change it (within the solver's ties)
    if raw_alone <= 0:
        out.append("no_demand")
    return out


def _round_note(r: int, ids: Sequence[str], room: Room, results_by_index: Sequence[CandidateResult],
                pos: Mapping[int, int], cands: Sequence[Candidate], prob: Problem, lang: str) -> str:
    """Why a round funds nothing, in words that hold for the plan (carry-over, district caps included)."""
    if ids:
        return ""
    ja = lang == "ja"
    rest = [j for j in range(len(cands)) if j not in pos and j not in prob.exclude]
    fitting = [j for j in rest if room.fits(cands[j], r)]
    if fitting:
        most = max(results_by_index[j].newly_covered_visitors for j in fitting)
        if most <= 0:
            return ("この年度に追加できる候補地はあるが、どれも追加カバーがない" if ja else
                    "candidates fit this round, but none adds coverage")
        return (f"この年度に追加できる候補地はあるが、追加カバーは最大{most:,}人/年" if ja else
                f"candidates fit this round, but add at most {most:,} visitors a year")
    money = _money_words(room, r, lang)
    if not any(room.money_ok(cands[j].install_cost_yen, r) for j in rest):
        return (f"{money}で整備できる候補地はない" if ja else f"no remaining candidate fits {money}")
    return (f"{money}で整備できる候補地は、地区の上限（{room.district_max}箇所）に達した地区にしかない" if ja else
            f"the candidates that fit {money} are all in districts at their cap of {room.district_max}")


def _money_words(room: Room, r: int, lang: str) -> str:
    m = room.spendable[r]
    if lang == "ja":
        return (f"使える残額{m:,}円（繰越のため後の年度に必要な額を除く）" if room.carry_over else f"残額{m:,}円")
    return (f"the {m:,} yen this round can spend (carry-over: keeping what later rounds need)" if room.carry_over
            else f"the {m:,} yen left this round")


def _overlapping_picks(j: int, sol: Solution, inp: _Inputs, cands: Sequence[Candidate]) -> list[str]:
    """The picks that reach some of the same demand points as candidate j (one sparse product)."""
    if not sol.picks:
        return []
    a = inp.cover.astype(np.int32)
    shared = np.asarray((a[:, [j]].T @ a[:, list(sol.picks)]).todense()).ravel()
    return [cands[k].id for k, n in zip(sol.picks, shared, strict=True) if n > 0]


def _rationale(inv: Inventory, r: CandidateResult, s: Scenario, cands: Sequence[Candidate], sol: Solution,
               inp: _Inputs, j: int, room: Room) -> str:
    ja = s.lang == "ja"
    names = {c.id: (c.name_ja if ja else c.name_en) for c in cands}
    if r.nearest_site is None or r.distance_to_nearest_ap_m is None:
        where = "既存APなし" if ja else "no existing AP"
    else:
        site = inv.site(r.nearest_site)
        d = fmt_distance(r.distance_to_nearest_ap_m, s.lang)
        where = (f"{site.name_ja}の{len(site.aps)}APから{d}離れ" if ja else
                 f"{d} from the {len(site.aps)} AP{'s' if len(site.aps) != 1 else ''} of {site.name_en}")
    given = (f"年間来訪者{_fmt_people(r.annual_visitors, 'ja')}人" if ja else
             f"{r.annual_visitors:,} visitors a year")
    if r.event_day_visitors:
        c = cands[j]
        given += (f"、イベント日来訪者{_fmt_people(r.event_day_visitors, 'ja')}人（{c.event_days}日×"
                  f"{_fmt_people(c.event_visitors_per_day, 'ja')}人、重み{s.weights.event_day:g}）" if ja else
                  f" and {r.event_day_visitors:,} event-day visitors ({c.event_days} days x "
                  f"{c.event_visitors_per_day:,}, weight {s.weights.event_day:g})")
    label_ja = {"candidate": "年間来訪者", "event": "イベント日", "mesh": "住民", "shelter": "避難所",
                "spill": "混雑する既存APからの需要", "csv": "追加需要"}
    label_en = {"candidate": "annual visitors", "event": "event days", "mesh": "residents", "shelter": "shelters",
                "spill": "overflow from busy existing APs", "csv": "extra demand"}
    parts = [f"{(label_ja if ja else label_en)[k]} {v:,}" for k, v in r.gain_by_kind.items()]
    split = f"（{'、'.join(parts)}）" if ja and len(parts) > 1 else (f" ({', '.join(parts)})" if len(parts) > 1 else "")
    if r.selected:
        text = (f"{where}。{given}。新たにカバー {r.newly_covered_visitors:,}人/年{split}" if ja else
                f"{where}; {given}; newly covers {r.newly_covered_visitors:,} visitors a year{split}")
        if r.cost_per_visitor_yen is not None:
            text += (f"。{r.life_years}年間の総費用{r.life_cost_yen:,}円（運用{r.running_cost_yen_per_year:,}円/年）、"
                     f"1人あたり約{fmt_yen(r.cost_per_visitor_yen)}円" if ja else
                     f"; {r.life_years}-year cost {r.life_cost_yen:,} yen (running {r.running_cost_yen_per_year:,} "
                     f"yen a year), about {fmt_yen(r.cost_per_visitor_yen)} yen per visitor")
        for u in r.unstable:
            rep = "、".join(names[i] for i in u["replaced_by"]) if ja else ", ".join(names[i] for i in u["replaced_by"])
            text += (f"。{u['variation']}では外れ、代わりに{rep or 'なし'}" if ja else
                     f"; dropped under {u['variation']}, replaced by {rep or 'nothing'}")
        return text
    why = []
    c = cands[j]
    for code in r.why_not:
        if code == "excluded":
            why.append("シナリオで除外" if ja else "excluded by the scenario")
        elif code == "over_budget":
            cost, cap = c.install_cost_yen, room.capacity
            if s.carry_over:
                why.append(f"費用{cost:,}円が全年度の予算の合計{cap:,}円を超える" if ja else
                           f"its {cost:,} yen exceed all rounds' budgets together ({cap:,} yen)")
            else:
                why.append(f"費用{cost:,}円がどの年度の予算（最大{cap:,}円）も超える" if ja else
                           f"its {cost:,} yen exceed every round's budget (at most {cap:,} yen)")
        elif code == "no_money_left":
            most = max(room.spendable, default=0)
            keep_ja = "、繰越のため後の年度に必要な額を除く" if s.carry_over else ""
            keep_en = ", keeping what later rounds need under carry-over" if s.carry_over else ""
            if len(room.spendable) == 1:
                why.append(f"費用{c.install_cost_yen:,}円が選定地点の後の残額{most:,}円を超える" if ja else
                           f"its {c.install_cost_yen:,} yen exceed the {most:,} yen left after the picks")
            else:
                why.append(f"費用{c.install_cost_yen:,}円が、選定地点の後にどの年度でも使える残額（最大{most:,}円"
                           f"{keep_ja}）を超える" if ja else
                           f"its {c.install_cost_yen:,} yen exceed what any round can still spend after the picks "
                           f"(at most {most:,} yen{keep_en})")
        elif code == "count_limit":
            why.append(f"予算の残る年度はどれも箇所数の上限（{s.count}）に達している" if ja else
                       f"every round with the money for it is at the limit of {s.count} sites")
        elif code == "district_cap":
            why.append(f"{c.district}地区は上限{s.district_max}箇所に達している" if ja else
                       f"district {c.district} is at its cap of {s.district_max}")
        elif code == "covered_by_existing":
            why.append("需要は既存APでカバー済み" if ja else "existing APs already cover its demand")
        elif code == "covered_by_picks":
            over = [names[i] for i in _overlapping_picks(j, sol, inp, cands)]
            share = 100 - int(round(100 * r.newly_covered_visitors / max(r.standalone_visitors, 1)))
            why.append(f"需要の{share}%は選定地点（{'、'.join(over)}）でカバーされる" if ja else
                       f"{share}% of its demand is covered by the picks ({', '.join(over)})")
        elif code == "low_demand":
            why.append(f"計画に追加できるが、追加カバーが{r.newly_covered_visitors:,}人/年と少ない" if ja else
                       f"it fits the plan but adds only {r.newly_covered_visitors:,} visitors a year")
        elif code == "no_demand":
            why.append("到達範囲に需要がない" if ja else "no demand within its reach")
    adds = (f"計画に加えると {r.newly_covered_visitors:,}人/年{split}" if ja else
            f"would add {r.newly_covered_visitors:,} visitors a year to the plan{split}")
    return (f"{where}。{given}。{adds}。選ばれない理由: {'、'.join(why)}" if ja else
            f"{where}; {given}; {adds}; not picked: {'; '.join(why)}")


def plan(inv: Inventory, observed: Mapping[str, ApDemand] | None = None, budget_yen: int | None = None,
         count: int | None = None, rounds: Sequence[int] | None = None, budget_per_round: int | None = None,
         extra_demand: Sequence[DemandPoint] = (), lang: str = "ja", sensitivity: bool = True,
         **more: Any) -> PlanResult:
    """Keyword shorthand for ``make_plan``; ``more`` takes any other Scenario field."""
    sc = Scenario(budget_yen=budget_yen, count=count, rounds=tuple(rounds or ()), budget_per_round=budget_per_round,
                  extra_demand=tuple(extra_demand), lang="en" if lang == "en" else "ja", sensitivity=sensitivity,
                  **more)
    return make_plan(inv, sc, observed)
