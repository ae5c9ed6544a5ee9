"""``wifiwatch map``: the coverage map as one HTML file (plus its background tiles beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wifiwatch.commands.plan import (
    BudgetOpt,
    BudgetPerRoundOpt,
    CarryOverOpt,
    CountOpt,
    DemandCsvOpt,
    ExcludeOpt,
    ForceOpt,
    RoundBudgetsOpt,
    RoundsOpt,
)
from wifiwatch.common import ConfigOpt, UserError, console, load_inventory

TILES_HELP = ("auto (the tile archive if there is one, else no background), cache (require it), none, "
              "or an online service: gsi (国土地理院), osm, an https:// URL template (default: [map] tiles, auto)")


def plan_for_options(inv: Any, budget: int | None, count: int | None, rounds: str | None,
                     budget_per_round: int | None, round_budgets: str | None, carry_over: bool, force: str | None,
                     exclude: str | None, demand_csv: Path | None, lang: str) -> Any:
    """The plan for rank's budget and round options, checked as rank checks them (planner's public API)."""
    from analytics.planner.demand import DemandCsvError, load_demand_csv
    from analytics.planner.plan import Scenario
    from wifiwatch.commands.plan import _ids, _ints, plan_scenario

    years = _ints("--rounds", rounds)
    budgets = _ints("--round-budgets", round_budgets)
    if years and budget_per_round is None and not budgets:
        raise UserError("--rounds needs --budget-per-round or --round-budgets")
    try:
        extra = tuple(load_demand_csv(demand_csv)) if demand_csv else ()
    except DemandCsvError as e:
        raise UserError(str(e)) from None
    return plan_scenario(inv, Scenario(
        budget_yen=budget, rounds=years, budget_per_round=budget_per_round, round_budgets_yen=budgets,
        carry_over=carry_over, count=count, force=_ids(force), exclude=_ids(exclude), extra_demand=extra,
        lang="en" if lang == "en" else "ja"))


def check_tiles(tiles: str | None) -> None:
    from core.inventory import tiles_choice_problem

    problem = tiles_choice_problem(tiles) if tiles is not None else None
    if problem:
        raise UserError(f"--tiles {problem}")


def register(app: typer.Typer) -> None:
    @app.command("map")
    def map_(
        config: ConfigOpt = None,
        out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("var/map.html"),
        tiles: Annotated[str | None, typer.Option("--tiles", help=TILES_HELP)] = None,
        tile_file: Annotated[Path | None, typer.Option(
            "--tile-file", help="Tile archive from `wifiwatch tiles fetch` (default: background.pmtiles beside "
                                "the store)")] = None,
        budget: BudgetOpt = None,
        count: CountOpt = None,
        rounds: RoundsOpt = None,
        budget_per_round: BudgetPerRoundOpt = None,
        round_budgets: RoundBudgetsOpt = None,
        carry_over: CarryOverOpt = False,
        force: ForceOpt = None,
        exclude: ExcludeOpt = None,
        demand_csv: DemandCsvOpt = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        offline: Annotated[bool, typer.Option("--offline", hidden=True,
                                              help="Kept for old scripts: every map is offline now")] = True,
    ) -> None:
        """Coverage map: AP state, coverage, usage heat and the candidate sites of a plan for a budget.

        The budget and round options are rank's. For rank's demand options (population, shelters, seasons,
        districts), `wifiwatch rank ... --map FILE` draws the same map.
        """
        from maps.assets import UnvendoredAsset
        from maps.tiles import TileError
        from wifiwatch.views import write_current_map

        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        check_tiles(tiles)
        inv = load_inventory(config)
        plan = plan_for_options(inv, budget, count, rounds, budget_per_round, round_budgets, carry_over, force,
                                exclude, demand_csv, lang) if inv.candidates else None
        try:
            console.print(str(write_current_map(inv, out, lang, tiles, tile_file=tile_file, plan=plan)))
        except (TileError, UnvendoredAsset) as e:
            raise UserError(str(e)) from None
