"""The planner's words are true (issue 23 point 8): every reason a site was not picked, every round note and every
comparison is checked against the plan itself under random mixes of carry-over, count limits, district limits,
forced and excluded sites and must-cover shelters. The checks use model.violations (exact integer arithmetic),
not the code that wrote the words. And `rank --format json` prints JSON only, whatever HiGHS writes to fd 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import sparse

from analytics.planner.demand import offset
from analytics.planner.model import Group, Problem, violations
from analytics.planner.plan import PlannerInputError, PlanResult, Scenario, make_plan
from analytics.planner.shelters import Shelter
from tests.test_planner_v2 import FAR, ROOT, cand, inventory

FIT_CODES = {"over_budget", "no_money_left", "count_limit", "district_cap"}
DEMAND_CODES = {"covered_by_existing", "covered_by_picks", "no_demand"}


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(3, 7))
    cands = []
    for j in range(n):
        # a 3x3 grid 60 m apart (radius 50 m): neighbours overlap, so picks cover each other's demand
        at = offset(*FAR, 60.0 * (j % 3), 60.0 * (j // 3)) if draw(st.booleans()) else offset(*FAR, 2000.0 * j, 900)
        cands.append(cand(f"c{j}", at, annual_visitors=draw(st.sampled_from([0, 300, 1000, 2500, 7000])),
                          install_cost_yen=draw(st.integers(300_000, 2_600_000)),
                          district=draw(st.sampled_from(["", "宮中", "大野"]))))
    n_rounds = draw(st.integers(1, 3))
    budgets = tuple(draw(st.integers(0, 3_500_000)) for _ in range(n_rounds))
    ids = [c["id"] for c in cands]
    force = frozenset(draw(st.lists(st.sampled_from(ids), max_size=1)))
    exclude = frozenset(draw(st.lists(st.sampled_from(ids), max_size=1))) - force
    shelters: tuple[Shelter, ...] = ()
    if draw(st.booleans()) and draw(st.booleans()):
        k = draw(st.integers(0, n - 1))
        shelters = (Shelter("試験避難所", float(cands[k]["lat"]), float(cands[k]["lon"]), 100),)  # type: ignore[arg-type]
    district_max = draw(st.sampled_from([None, None, 1, 2]))
    district_min = draw(st.sampled_from([0, 0, 0, 1]))
    if district_max is not None:
        district_min = min(district_min, district_max)
    sc = Scenario(rounds=tuple(2027 + 2 * r for r in range(n_rounds)) if n_rounds > 1 else (),
                  round_budgets_yen=budgets, carry_over=draw(st.booleans()),
                  count=draw(st.sampled_from([None, None, 1, 2])), force=force, exclude=exclude,
                  shelters=shelters, shelter_mode="must_cover" if shelters else "weight",
                  district_min=district_min, district_max=district_max, lang="en", sensitivity=False)
    return cands, sc


def _problem(cands: list[dict[str, object]], s: Scenario) -> tuple[Problem, dict[str, int]]:
    """The plan's constraints, rebuilt from the scenario (must-cover left out: adding a site never breaks it)."""
    idx = {str(c["id"]): j for j, c in enumerate(cands)}
    groups = []
    if s.district_min or s.district_max is not None:
        by: dict[str, list[int]] = {}
        for j, c in enumerate(cands):
            if c["district"]:
                by.setdefault(str(c["district"]), []).append(j)
        groups = [Group(d, tuple(m), min(s.district_min, len(m)), s.district_max) for d, m in sorted(by.items())]
    costs = np.array([int(c["install_cost_yen"]) for c in cands], dtype=np.int64)  # type: ignore[call-overload]
    p = Problem(np.zeros(1), sparse.csc_matrix((1, len(cands)), dtype=bool), costs, s.round_budgets_yen,
                s.carry_over, s.count, frozenset(idx[i] for i in s.force), frozenset(idx[i] for i in s.exclude),
                None, tuple(groups))
    return p, idx


def _plan(r: PlanResult, idx: dict[str, int]) -> tuple[list[int], list[int]]:
    picks = [c for c in r.candidates if c.selected]
    return [idx[c.id] for c in picks], [c.round_index or 0 for c in picks]


def _broken(p: Problem, picks: list[int], rounds: list[int], j: int, r: int) -> list[str]:
    return violations(p, [*picks, j], [*rounds, r])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_reason_round_note_and_comparison_is_true_of_the_plan(case) -> None:  # type: ignore[no-untyped-def]
    cands, s = case
    inv = inventory(cands)
    try:
        r = make_plan(inv, s)
    except PlannerInputError:
        assume(False)
        return
    p, idx = _problem(cands, s)
    picks, rounds = _plan(r, idx)
    assert violations(p, picks, rounds) == []
    n_rounds = len(s.round_budgets_yen)
    for c in r.candidates:
        if c.selected:
            continue
        j = idx[c.id]
        codes = set(c.why_not)
        if j in p.exclude:
            assert c.why_not == ["excluded"]
            continue
        broken = {k: _broken(p, picks, rounds, j, k) for k in range(n_rounds)}
        fits = [k for k in range(n_rounds) if not broken[k]]
        if fits:
            # it could be added without breaking anything, so the plan (proven optimal) gains nothing from it
            assert not codes & FIT_CODES, (c.id, c.why_not, c.rationale)
            assert c.newly_covered_visitors == 0 or "low_demand" in codes
            if r.proven_optimal:
                assert c.newly_covered_visitors == 0, c.rationale
            assert codes & (DEMAND_CODES | {"low_demand"}), c.why_not
        else:
            assert codes & FIT_CODES, (c.id, c.why_not, c.rationale, broken)
            assert "low_demand" not in codes
        money = [k for k in range(n_rounds) if not any("yen spent" in v for v in broken[k])]
        if "no_money_left" in codes or "over_budget" in codes:
            assert not money, (c.id, c.rationale, broken)  # "adds little for its cost" never hides a money limit
        if "over_budget" in codes:
            alone = replace_force(p)
            assert all(any("yen spent" in v for v in violations(alone, [j], [k])) for k in range(n_rounds))
        if "count_limit" in codes:
            assert money and all(any("at most" in v for v in broken[k]) for k in money)
        if "district_cap" in codes:
            assert all(any("district" in v for v in broken[k]) for k in range(n_rounds))
        if "no_money_left" in codes and n_rounds > 1:
            assert "what any round can still spend" in c.rationale
            assert ("keeping what later rounds need" in c.rationale) == s.carry_over
        elif "no_money_left" in codes:
            assert "left after the picks" in c.rationale
    # round notes
    unpicked = [idx[c.id] for c in r.candidates if not c.selected and idx[c.id] not in p.exclude]
    gain = {idx[c.id]: c.newly_covered_visitors for c in r.candidates}
    for k, rs in enumerate(r.rounds):
        if rs.picks:
            assert rs.note == ""
            continue
        fitting = [j for j in unpicked if not _broken(p, picks, rounds, j, k)]
        if rs.note.startswith("candidates fit this round, but none adds coverage"):
            assert fitting and all(gain[j] == 0 for j in fitting)
        elif rs.note.startswith("candidates fit this round, but add at most"):
            assert fitting and not r.proven_optimal
        elif rs.note.startswith("no remaining candidate fits"):
            assert all(any("yen spent" in v for v in _broken(p, picks, rounds, j, k)) for j in unpicked), rs.note
        elif rs.note.startswith("the candidates that fit"):
            assert not fitting
            assert all(any("district" in v for v in _broken(p, picks, rounds, j, k)) for j in unpicked
                       if not any("yen spent" in v for v in _broken(p, picks, rounds, j, k)))
        else:
            raise AssertionError(f"unexpected round note {rs.note!r}")
    # comparisons: like for like, or not made
    hard = bool(s.force or s.shelters or any(g.min_picks for g in p.groups))  # shelters sit far from the AP
    if hard:
        assert r.greedy is None and r.gap_pct is None and r.round_by_round is None
        assert any("no greedy or round-by-round comparison" in w for w in r.warnings)
    else:
        assert r.greedy is not None and r.greedy <= r.covered and (r.gap_pct or 0) >= 0
        if n_rounds > 1:
            assert r.round_by_round is not None and r.round_by_round.joint_minus_round_by_round >= 0
            year = {y: i for i, y in enumerate(s.rounds)}
            rp = [idx[i] for i, _ in r.round_by_round.picks]
            rr = [year[y] for _, y in r.round_by_round.picks]  # type: ignore[index]
            assert violations(p, rp, rr) == []


def replace_force(p: Problem) -> Problem:
    """The same budgets with no other constraint: what a site alone can be paid from."""
    return Problem(p.weights, p.cover, p.costs, p.round_budgets, p.carry_over)


def test_the_issue_carry_over_case_says_money_not_little_for_its_cost() -> None:
    """Two rounds with carry-over: round 1's leftover is needed by round 2's pick, so it cannot be spent in round
    1 although round 1 alone has it (the reason used to read "adds little for its cost")."""
    cands = [cand("big", FAR, annual_visitors=9000, install_cost_yen=2_000_000),
             cand("cheap", offset(*FAR, 0, 3000), annual_visitors=150, install_cost_yen=1_000_000)]
    inv = inventory(cands)
    r = make_plan(inv, Scenario(rounds=(2027, 2029), round_budgets_yen=(1_000_000, 1_000_000), carry_over=True,
                                lang="en", sensitivity=False))
    by = {c.id: c for c in r.candidates}
    assert by["big"].selected and not by["cheap"].selected
    assert by["cheap"].why_not == ["no_money_left"]
    assert "adds little" not in by["cheap"].rationale
    assert "at most 0 yen, keeping what later rounds need under carry-over" in by["cheap"].rationale
    assert r.rounds[0].available_yen == 1_000_000 and r.rounds[0].picks == []
    assert r.rounds[0].note.startswith("no remaining candidate fits the 0 yen this round can spend")
    ja = make_plan(inv, Scenario(rounds=(2027, 2029), round_budgets_yen=(1_000_000, 1_000_000), carry_over=True,
                                 sensitivity=False))
    assert "2027年度: 使える残額0円（繰越のため後の年度に必要な額を除く）で整備できる候補地はない" in ja.warnings


def test_district_cap_shows_in_the_empty_round_note() -> None:
    cands = [cand("a1", FAR, annual_visitors=3000, district="宮中"),
             cand("a2", offset(*FAR, 0, 3000), annual_visitors=2900, district="宮中")]
    r = make_plan(inventory(cands), Scenario(rounds=(2027, 2029), budget_per_round=1_000_000, district_max=1,
                                             lang="en", sensitivity=False))
    assert r.rounds[1].picks == []
    assert "districts at their cap of 1" in r.rounds[1].note
    assert {c.id: c for c in r.candidates}["a2"].why_not == ["district_cap"]
    assert r.round_by_round is not None and r.round_by_round.joint_minus_round_by_round >= 0  # caps obeyed
    assert len(r.round_by_round.picks) == 1


def test_forced_site_prints_no_negative_comparison() -> None:
    cands = [cand("good", FAR, annual_visitors=9000), cand("weak", offset(*FAR, 0, 3000), annual_visitors=100)]
    r = make_plan(inventory(cands), Scenario(rounds=(2027, 2029), budget_per_round=1_000_000,
                                             force=frozenset({"weak"}), sensitivity=False))
    assert r.greedy is None and r.round_by_round is None
    from wifiwatch.commands.plan import summary_lines

    text = "\n".join(summary_lines(r, "ja"))
    assert "貪欲法（" not in text and "年度ごとに順に決めた場合" not in text and "-" not in text.split("注意")[0]


# -- JSON only ----------------------------------------------------------------------------------------------

def test_solver_output_on_fd1_goes_to_stderr(tmp_path: Path) -> None:
    """HiGHS writes to fd 1 from C (its log with disp=True, and the stray transformNewIntegerFeasibleSolution
    printf whatever the options): inside the guard, none of it reaches stdout, all of it reaches stderr."""
    script = tmp_path / "solve.py"
    script.write_text(textwrap.dedent("""
        import ctypes, os, numpy as np
        from scipy.optimize import milp, LinearConstraint, Bounds
        from analytics.planner.model import solver_output_to_stderr
        print("before", flush=True)
        with solver_output_to_stderr():
            milp(-np.arange(1, 6.0), constraints=[LinearConstraint(np.ones((1, 5)), 0, 2.5)],
                 integrality=np.ones(5), bounds=Bounds(0, 1), options={"disp": True})
            ctypes.CDLL(None).printf(b"C printf inside the solve\\n")  # buffered by C stdio, flushed by the guard
            os.write(1, b"raw fd 1 inside the solve\\n")
        print("after", flush=True)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["before", "after"]
    assert "C printf inside the solve" in out.stderr and "raw fd 1 inside the solve" in out.stderr
    assert "HiGHS" in out.stderr or "Running" in out.stderr  # the solver's own log went there too


SOLVE_CASE = textwrap.dedent("""
    import contextlib, json, sys
    import numpy as np
    from scipy import sparse
    import analytics.planner.model as m
    if sys.argv[2] == "unguarded":
        m.solver_output_to_stderr = contextlib.nullcontext  # what the planner did before
    d = json.load(open(sys.argv[1], encoding="utf-8"))
    rows, cols = zip(*d["cover"])
    cover = sparse.csc_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(d["n_demand"], d["n_cand"]))
    p = m.Problem(np.array(d["weights"]), cover, np.array(d["costs"], dtype=np.int64), tuple(d["round_budgets"]),
                  d["carry_over"])
    s = m.solve_plan(p)
    print(json.dumps({"picks": list(s.picks), "proven": s.proven_optimal}))
""")


def test_highs_printf_case_prints_nothing_to_stdout(tmp_path: Path) -> None:
    """A covering instance on which HiGHS printf()s its transformNewIntegerFeasibleSolution line: without the
    guard it leads stdout (the JSON broke); with it, stdout is the JSON alone and the line is on stderr."""
    script = tmp_path / "solve_case.py"
    script.write_text(SOLVE_CASE)
    case = str(ROOT / "tests" / "data" / "planner" / "highs_printf_case.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = {mode: subprocess.run([sys.executable, str(script), case, mode], capture_output=True, text=True,
                                 timeout=120, cwd=ROOT, env=env) for mode in ("unguarded", "guarded")}
    assert all(r.returncode == 0 for r in runs.values()), runs
    assert "tmpSolver.run()" in runs["unguarded"].stdout  # the case does reproduce the line
    assert json.loads(runs["guarded"].stdout)["proven"] is True  # stdout is exactly the JSON
    assert "tmpSolver.run()" in runs["guarded"].stderr


def test_rank_json_is_json_only(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    cfg = str(ROOT / "config" / "sites.toml")
    out = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "rank", "--config", cfg, "--rounds", "2029,2031",
                          "--budget-per-round", "3000000", "--carry-over", "--format", "json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # the whole of stdout, nothing before or after
    assert data["candidates"] and data["summary"]["covered"] > 0
