"""``wifiwatch rank``: candidate hotspot sites ranked, with reasons, picks within budget, optional rounds."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.escape import spreadsheet_row
from core.inventory import Inventory
from wifiwatch.common import ConfigOpt, UserError, console, err, load_inventory


def observed_from_store(inv: Inventory, days: int = 30) -> dict[str, Any] | None:
    """Observed demand from the embedded store over the last ``days``, or None when there is no store yet."""
    path = Path(inv.store.path)
    if not path.exists():
        return None
    from analytics.planner.observed import observed_demand
    from core.store.sqlite_store import SqliteStore

    store = SqliteStore(path, inv.store)
    try:
        end = time.time_ns()
        return observed_demand(inv, store, end - days * 86400 * 10**9, end)
    finally:
        store.close()


def plan_for(inv: Inventory, budget: int | None = None, count: int | None = None, rounds: list[int] | None = None,
             budget_per_round: int | None = None, demand_csv: Path | None = None, lang: str = "ja") -> Any:
    from analytics.planner.demand import DemandCsvError, load_demand_csv
    from analytics.planner.model import SolverError
    from analytics.planner.plan import PlannerInputError, plan

    try:
        extra = load_demand_csv(demand_csv) if demand_csv else []
        return plan(inv, observed_from_store(inv), budget, count, rounds, budget_per_round, extra, lang)
    except (DemandCsvError, PlannerInputError, SolverError) as e:
        raise UserError(str(e)) from None


def register(app: typer.Typer) -> None:
    @app.command("rank")
    def rank(
        config: ConfigOpt = None,
        budget: Annotated[int | None, typer.Option("--budget", help="Yen for one round (default 5,000,000)")] = None,
        count: Annotated[int | None, typer.Option("--count", help="At most K sites per round")] = None,
        rounds: Annotated[str | None, typer.Option("--rounds", help="Years, e.g. 2029,2031")] = None,
        budget_per_round: Annotated[int | None, typer.Option("--budget-per-round", help="Yen per round")] = None,
        demand_csv: Annotated[Path | None, typer.Option("--demand-csv", help="Extra demand: lat,lon,weight,label")]
        = None,
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Rank candidate sites for new hotspots (budgeted maximal covering, exact MIP vs greedy)."""
        if fmt not in ("table", "csv", "json"):
            raise UserError("--format must be table, csv or json")
        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        years: list[int] | None = None
        if rounds:
            try:
                years = [int(y) for y in rounds.split(",") if y.strip()]
            except ValueError:
                raise UserError(f"--rounds: '{rounds}' is not a comma-separated list of years") from None
            if budget_per_round is None:
                raise UserError("--rounds needs --budget-per-round")
        inv = load_inventory(config)
        if not inv.candidates:
            raise UserError("the inventory has no [[candidates]] to rank")
        result = plan_for(inv, budget, count, years, budget_per_round, demand_csv, lang)
        if fmt == "json":
            console.print_json(json.dumps(result.to_json(), ensure_ascii=False))
            return
        rows = result.to_json()["candidates"]
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf)
            cols = ["rank", "id", "name_ja", "selected", "round", "score", "newly_covered_visitors",
                    "distance_to_nearest_ap_m", "observed_nearby_demand", "cost_yen", "cost_per_visitor_yen",
                    "stable", "rationale"]
            w.writerow(cols)
            for r in rows:
                w.writerow(spreadsheet_row(r[c] for c in cols))
            console.out(buf.getvalue(), end="")
            return
        title = "整備候補地の優先順位" if lang == "ja" else "Candidate sites, ranked"
        table = Table(title=title)
        headers = (("順位", "候補地", "選定", "整備年度", "得点", "新規カバー来訪者/年", "費用(円)", "安定", "理由")
                   if lang == "ja" else
                   ("#", "site", "pick", "round", "score", "new visitors/yr", "cost ¥", "stable", "why"))
        for col in headers:
            table.add_column(col)
        for r in rows:
            table.add_row(str(r["rank"]), r["name_ja"] if lang == "ja" else r["name_en"],
                          "✔" if r["selected"] else "", str(r["round"] or ""), f"{r['score']:,.0f}",
                          f"{r['newly_covered_visitors']:,}", f"{r['cost_yen']:,}", "✔" if r["stable"] else "",
                          r["rationale"])
        console.print(table)
        s = result.to_json()["summary"]
        if lang == "ja":
            err.print(f"最適解 {s['optimum']:,.0f} 人/年、貪欲法 {s['greedy']:,.0f} 人/年（差 {s['gap_pct']}%）、"
                      f"使用予算 {s['budget_used_yen']:,} 円", highlight=False)
        else:
            err.print(f"optimum {s['optimum']:,.0f} visitors/yr, greedy {s['greedy']:,.0f} (gap {s['gap_pct']}%), "
                      f"budget used ¥{s['budget_used_yen']:,}", highlight=False)
