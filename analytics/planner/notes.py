"""What a plan says in words beside its table, written once for every place that shows a plan.

``wifiwatch rank`` prints these lines under its table and the console's 整備計画 lists the same lines, so the
two never disagree: each round, the total, the like-for-like comparisons, the unstable picks, and every warning,
including what the observed demand rests on (模擬データ, 参考値, no data), which ``make_plan_with_notes`` adds.
``compare_plans`` is the A − B difference of two scenarios (the console's table and its export).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from analytics.planner.demand import ApDemand
from analytics.planner.observed import coverage_note
from analytics.planner.plan import PlanResult, Scenario, make_plan
from core.inventory import Inventory


def make_plan_with_notes(inv: Inventory, scenario: Scenario,
                         observed: Mapping[str, ApDemand] | None) -> PlanResult:
    """``make_plan`` plus the note on what the observed demand rests on, as the CLI and the console show it."""
    result = make_plan(inv, scenario, observed)
    note = coverage_note(observed, inv.reports.min_share, scenario.lang)
    if note:
        result.warnings.append(note)
    return result


def _people(v: int, lang: str) -> str:
    return f"{v:,}人/年" if lang == "ja" else f"{v:,} visitors/yr"


def _note(note: str, ja: bool) -> str:
    return "" if not note else f"（{note}）" if ja else f" ({note})"


KIND_LABELS = {"candidate": ("年間来訪者", "annual visitors"), "event": ("イベント日", "event days"),
               "mesh": ("住民", "residents"), "shelter": ("避難所", "shelters"),
               "spill": ("混雑する既存APからの需要", "overflow of busy APs"), "csv": ("追加需要", "extra demand")}


def plan_notes(result: PlanResult, lang: str) -> list[tuple[str, str]]:
    """(kind, line) pairs: kind is round, total, compare, kinds, unstable (one unstable pick), stability (all
    stable, or not checked) or warning."""
    s = result
    ja = lang == "ja"
    out: list[tuple[str, str]] = []
    name = {c.id: (c.name_ja if ja else c.name_en) for c in s.candidates}
    for r in s.rounds:
        label = (f"{r.year}年度" if ja else f"FY{r.year}") if r.year is not None else ("今回" if ja else "this round")
        names = ("、" if ja else ", ").join(name[i] for i in r.picks) or ("なし" if ja else "none")
        out.append(("round", f"{label}: {names} / " + (f"{r.spent_yen:,}円 / 予算{r.available_yen:,}円 / 新規カバー"
                                                        if ja else f"{r.spent_yen:,} yen of {r.available_yen:,} / "
                                                        "covers ") + _people(r.covered, lang) + _note(r.note, ja)))
    proven = ("最適性を証明済み" if s.proven_optimal else "最適性は未証明") if ja else \
        ("proven optimal" if s.proven_optimal else "NOT proven optimal")
    out.append(("total", f"合計: 新規カバー {_people(s.covered, lang)}、使用予算 {s.budget_used_yen:,}円（{proven}）"
                if ja else f"total: covers {_people(s.covered, lang)}, budget used {s.budget_used_yen:,} yen "
                f"({proven})"))
    if s.round_by_round is not None:
        c = s.round_by_round
        out.append(("compare", f"年度ごとに順に決めた場合: {_people(c.covered, lang)}"
                    f"（一括計画が {c.joint_minus_round_by_round:+,}人/年、{c.joint_gain_pct:+.2f}%）" if ja else
                    f"round by round instead: {_people(c.covered, lang)} (the joint plan "
                    f"{c.joint_minus_round_by_round:+,}, {c.joint_gain_pct:+.2f}%)"))
    if s.greedy is not None:
        out.append(("compare", f"貪欲法（費用対効果順）: {_people(s.greedy, lang)}（差 {s.gap_pct}%）" if ja else
                    f"greedy (best per yen first): {_people(s.greedy, lang)} (gap {s.gap_pct}%)"))
    if s.covered_by_kind:
        parts = [f"{KIND_LABELS[k][0 if ja else 1]} {v:,}" for k, v in s.covered_by_kind.items()]
        out.append(("kinds", ("内訳: " if ja else "by kind: ") + ("、" if ja else ", ").join(parts)))
    out += [("unstable" if line.startswith(("不安定", "unstable")) else "stability", line)
            for line in stability_lines(result, lang)]
    out += [("warning", ("注意: " if ja else "note: ") + w) for w in s.warnings]
    return out


def stability_lines(result: PlanResult, lang: str) -> list[str]:
    """One line per unstable pick (the variation that drops it and what replaces it), or that none is, or that
    the check was not run."""
    ja = lang == "ja"
    if not result.sensitivity_checked:
        return ["安定性: 感度分析を実行していない（選定の安定性は未確認）" if ja else
                "stability: no sensitivity check was run (whether the picks are stable is not known)"]
    name = {c.id: (c.name_ja if ja else c.name_en) for c in result.candidates}
    out = []
    for c in result.candidates:
        for u in c.unstable if c.selected else []:
            rep = ("、" if ja else ", ").join(name[i] for i in u["replaced_by"]) or ("なし" if ja else "nothing")
            out.append(f"不安定な選定: {name[c.id]}（{u['variation']}では外れ、代わりに{rep}）" if ja else
                       f"unstable pick: {name[c.id]} (dropped under {u['variation']}, replaced by {rep})")
    if not out and any(c.selected for c in result.candidates):
        out.append("安定性: すべての選定が感度分析（電波到達半径±20%、来訪者数±20%）でも選ばれる" if ja else
                   "stability: every pick survives the sensitivity check (radius ±20%, visitors ±20%)")
    return out


def summary_lines(result: PlanResult, lang: str) -> list[str]:
    """Every round, the total, the comparisons, the unstable picks and the warnings, in words (rank's summary)."""
    return [line for _, line in plan_notes(result, lang)]


@dataclass
class DiffRow:
    id: str
    name: str
    a_selected: bool
    a_round: int | None
    a_newly_covered: int  # what the site contributes to plan A: its figure when picked, else 0
    b_selected: bool
    b_round: int | None
    b_newly_covered: int
    a_minus_b: int  # the rows add up to the plans' covered_a_minus_b
    changed: bool  # picked in one scenario only, or in another round


@dataclass
class PlanDiff:
    rows: list[DiffRow]  # in A's order
    a_covered: int
    b_covered: int
    covered_a_minus_b: int
    a_budget_used: int
    b_budget_used: int
    budget_a_minus_b: int
    a_picks: int
    b_picks: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare_plans(a: PlanResult, b: PlanResult, lang: str) -> PlanDiff:
    """Scenario A minus scenario B, per candidate and in total.

    A row's figure is what the site contributes to each plan: a pick's marginal gain (the picks' gains add up to
    the plan's coverage), 0 for a site not picked; so the rows add up to the difference of the totals."""
    ja = lang == "ja"
    bb = {c.id: c for c in b.candidates}
    rows = []
    for c in a.candidates:
        o = bb.get(c.id)
        if o is None:
            continue
        ga = c.newly_covered_visitors if c.selected else 0
        gb = o.newly_covered_visitors if o.selected else 0
        rows.append(DiffRow(c.id, c.name_ja if ja else c.name_en, c.selected, c.round, ga, o.selected, o.round, gb,
                            ga - gb, c.selected != o.selected or (c.selected and c.round != o.round)))
    return PlanDiff(rows, a.covered, b.covered, a.covered - b.covered, a.budget_used_yen, b.budget_used_yen,
                    a.budget_used_yen - b.budget_used_yen, sum(c.selected for c in a.candidates),
                    sum(c.selected for c in b.candidates))
