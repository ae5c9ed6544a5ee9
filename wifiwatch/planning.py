"""The plan a CLI command or an output file shows: the store's observed demand, the planner, and its notes.

It sits below ``wifiwatch/commands`` so that ``views`` and ``outputs`` (the map, the demo's ranking files) can
ask for a plan without importing a command module (``commands/plan`` <-> ``views`` was an import circle).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.inventory import Inventory
from wifiwatch.common import UserError

if TYPE_CHECKING:
    from analytics.planner.plan import PlanResult, Scenario


def observed_from_store(inv: Inventory, days: int = 30, now_ns: int | None = None) -> Any:
    """Observed demand from the embedded store over the ``days`` before now, or None when there is no store yet."""
    from analytics.planner.observed import observed_from_store as load

    return load(inv, days, now_ns)


def plan_scenario(inv: Inventory, scenario: Scenario, now_ns: int | None = None) -> PlanResult:
    """The plan for a scenario with the store's observed demand; user mistakes become UserError.

    The plan's warnings say what the observed demand rests on (hours, share, 参考値, 模擬データ, none): the
    console adds the same note through the same ``notes.make_plan_with_notes``."""
    from analytics.planner.model import SolverError
    from analytics.planner.notes import make_plan_with_notes
    from analytics.planner.plan import PlannerInputError

    observed = observed_from_store(inv, now_ns=now_ns)
    try:
        return make_plan_with_notes(inv, scenario, observed)
    except (PlannerInputError, SolverError) as e:
        raise UserError(str(e)) from None


def plan_for(inv: Inventory, budget: int | None = None, count: int | None = None, rounds: list[int] | None = None,
             budget_per_round: int | None = None, demand_csv: Path | None = None, lang: str = "ja") -> Any:
    """Shorthand for the map view and the demo's files: the plan for a budget (or rounds) with observed demand."""
    from analytics.planner.demand import DemandCsvError, load_demand_csv
    from analytics.planner.plan import Scenario

    try:
        extra = tuple(load_demand_csv(demand_csv)) if demand_csv else ()
    except DemandCsvError as e:
        raise UserError(str(e)) from None
    return plan_scenario(inv, Scenario(budget_yen=budget, count=count, rounds=tuple(rounds or ()),
                                       budget_per_round=budget_per_round, extra_demand=extra,
                                       lang="en" if lang == "en" else "ja"))
