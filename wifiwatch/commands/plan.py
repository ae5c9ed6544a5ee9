"""``wifiwatch rank``: candidate hotspot sites ranked, with reasons, one joint plan over rounds, and the totals."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from core.escape import spreadsheet_cell
from wifiwatch.common import ConfigOpt, UserError, console, err, load_inventory
from wifiwatch.planning import observed_from_store, plan_for, plan_scenario

__all__ = ["observed_from_store", "plan_for", "plan_scenario", "summary_lines"]  # their home moved; kept here

if TYPE_CHECKING:
    from analytics.planner.plan import PlanResult


# The options that choose a plan's budget and rounds; `wifiwatch map` takes the same ones.
BudgetOpt = Annotated[int | None, typer.Option("--budget", help="Yen for one round (default 5,000,000)")]
CountOpt = Annotated[int | None, typer.Option("--count", help="At most K sites per round")]
RoundsOpt = Annotated[str | None, typer.Option("--rounds", help="Fiscal years, e.g. 2029,2031")]
BudgetPerRoundOpt = Annotated[int | None, typer.Option("--budget-per-round", help="Yen each round")]
RoundBudgetsOpt = Annotated[str | None, typer.Option("--round-budgets", help="Yen per round, e.g. 3000000,5000000")]
CarryOverOpt = Annotated[bool, typer.Option("--carry-over", help="Unspent money moves to the next round")]
ForceOpt = Annotated[str | None, typer.Option("--force", help="Candidate ids to fund in any case")]
ExcludeOpt = Annotated[str | None, typer.Option("--exclude", help="Candidate ids never to fund")]
DemandCsvOpt = Annotated[Path | None, typer.Option("--demand-csv", help="Extra demand: lat,lon,weight,label")]


def _ints(opt: str, text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{opt}: '{text}' is not a comma-separated list of whole numbers") from None


def _floats(opt: str, text: str | None) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in (text or "").split(",") if v.strip())
    except ValueError:
        raise UserError(f"{opt}: '{text}' is not a comma-separated list of numbers") from None


def _ids(text: str | None) -> frozenset[str]:
    return frozenset(v.strip() for v in (text or "").split(",") if v.strip())


def load_season(path: Path) -> dict[str, tuple[float, ...]]:
    """CSV: id, then 12 monthly visitor shares (January first); any scale, they are normalised."""
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}:1: (file): cannot read: {e}") from None
    out: dict[str, tuple[float, ...]] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            vals = tuple(float(v) for v in row[1:13])
            if len(vals) != 12 or any(v < 0 or v != v for v in vals):
                raise ValueError
            out[row[0].strip()] = vals
        except ValueError:
            problems.append(f"{path}:{line}: months: needs 12 non-negative numbers after the id")
    if problems:
        raise UserError("\n".join(problems))
    return out


def summary_lines(result: PlanResult, lang: str) -> list[str]:
    """The plan's notes (analytics.planner.notes, which the console shows too); imported late, as scipy is."""
    from analytics.planner.notes import summary_lines as lines

    return lines(result, lang)


def register(app: typer.Typer) -> None:
    @app.command("rank")
    def rank(
        config: ConfigOpt = None,
        budget: BudgetOpt = None,
        count: CountOpt = None,
        rounds: RoundsOpt = None,
        budget_per_round: BudgetPerRoundOpt = None,
        round_budgets: RoundBudgetsOpt = None,
        carry_over: CarryOverOpt = False,
        force: ForceOpt = None,
        exclude: ExcludeOpt = None,
        population: Annotated[Path | None, typer.Option("--population",
                                                        help="e-Stat census mesh CSV (JIS X 0410 codes)")] = None,
        shelters: Annotated[Path | None, typer.Option("--shelters",
                                                      help="指定緊急避難場所/指定避難所 open-data CSV")] = None,
        shelter_mode: Annotated[str, typer.Option("--shelter-mode", help="weight or must_cover")] = "weight",
        month_weights: Annotated[str | None, typer.Option("--month-weights",
                                                          help="12 weights for tourist months, Jan first")] = None,
        event_weight: Annotated[float | None, typer.Option("--event-weight", help="Weight of an event-day visitor")]
        = None,
        season: Annotated[Path | None, typer.Option("--season", help="CSV: id + 12 monthly shares")] = None,
        district_min: Annotated[int, typer.Option("--district-min", help="At least N sites in each 地区")] = 0,
        district_max: Annotated[int | None, typer.Option("--district-max", help="At most N sites in any 地区")]
        = None,
        demand_csv: DemandCsvOpt = None,
        map_out: Annotated[Path | None, typer.Option("--map", help="Also draw the plan on a map (HTML)")] = None,
        sensitivity: Annotated[bool, typer.Option("--sensitivity/--no-sensitivity",
                                                  help="Re-solve with radii and visitors varied")] = True,
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Rank candidate sites for new hotspots: one exact plan over all rounds, figures that add up."""
        from analytics.planner.demand import DemandCsvError, DemandWeights, load_demand_csv
        from analytics.planner.plan import Scenario
        from analytics.planner.population import PopulationCsvError, load_population_mesh
        from analytics.planner.shelters import ShelterCsvError, load_shelters

        if fmt not in ("table", "csv", "json"):
            raise UserError("--format must be table, csv or json")
        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        if shelter_mode not in ("weight", "must_cover"):
            raise UserError("--shelter-mode must be weight or must_cover")
        years = _ints("--rounds", rounds)
        budgets = _ints("--round-budgets", round_budgets)
        if years and budget_per_round is None and not budgets:
            raise UserError("--rounds needs --budget-per-round or --round-budgets")
        months = _floats("--month-weights", month_weights)
        if month_weights is not None and len(months) != 12:
            raise UserError(f"--month-weights: needs 12 numbers (January first), got {len(months)}")
        inv = load_inventory(config)
        if not inv.candidates:
            raise UserError("the inventory has no [[candidates]] to rank")
        weights = DemandWeights()
        if months:
            weights = DemandWeights(weights.event_day, months, weights.resident, weights.shelter, weights.overflow)
        if event_weight is not None:
            weights = DemandWeights(event_weight, weights.month, weights.resident, weights.shelter, weights.overflow)
        try:
            extra = tuple(load_demand_csv(demand_csv)) if demand_csv else ()
            pop = tuple(load_population_mesh(population)) if population else ()
            shel = tuple(load_shelters(shelters)) if shelters else ()
        except (DemandCsvError, PopulationCsvError, ShelterCsvError) as e:
            raise UserError(str(e)) from None
        scenario = Scenario(
            budget_yen=budget, rounds=years, budget_per_round=budget_per_round, round_budgets_yen=budgets,
            carry_over=carry_over, count=count, force=_ids(force), exclude=_ids(exclude), weights=weights,
            season=load_season(season) if season else {}, population=pop, shelters=shel,
            shelter_mode="must_cover" if shelter_mode == "must_cover" else "weight", district_min=district_min,
            district_max=district_max, extra_demand=extra, lang="en" if lang == "en" else "ja",
            sensitivity=sensitivity)
        result = plan_scenario(inv, scenario)
        if map_out is not None:
            from wifiwatch.views import write_current_map

            write_current_map(inv, map_out, lang, plan=result)  # the same map as `wifiwatch map`, this plan
            err.print(("地図: " if lang == "ja" else "map: ") + str(map_out), highlight=False)
        if fmt == "json":
            console.print_json(json.dumps(result.to_json(), ensure_ascii=False))
            return
        rows = result.to_json()["candidates"]
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf)
            cols = ["rank", "id", "name_ja", "selected", "round", "pick_order", "score", "newly_covered_visitors",
                    "standalone_visitors", "annual_visitors", "event_day_visitors", "distance_to_nearest_ap_m",
                    "observed_nearby_demand", "cost_yen", "life_cost_yen", "cost_per_visitor_yen", "stable",
                    "why_not", "rationale"]
            w.writerow(cols)
            for r in rows:
                w.writerow([spreadsheet_cell(";".join(r[c]) if isinstance(r[c], list) else r[c]) for c in cols])
            console.out(buf.getvalue(), end="")
            return
        print_table(result, lang)


NUMBER_COLS = frozenset({0, 3, 4, 5, 6, 7})  # columns of figures: never wrapped, the table shrinks names instead


def plan_table(result: PlanResult, lang: str, width: int) -> Table:
    """The ranked table (figures only). Figures never wrap: their columns are no_wrap and the headers break at
    chosen points, so at 80 columns only names wrap (「480,0/00」 was split before). Below about 100 columns the
    frame drops its outer edge and padding to leave the names room; below about 72, the nearest-AP, per-visitor
    and score columns go (in that order; the reasons under the table still give them), never a name."""
    from rich import box
    from rich.cells import cell_len

    from analytics.planner.plan import fmt_distance, fmt_yen

    ja = lang == "ja"
    multi = any(r.year is not None for r in result.rounds)
    caption = ("得点 = 新規カバー来訪者(人/年) ÷ 設置費用(百万円)、単位 人/年/百万円。1人あたり = (設置費 + 運用費 × "
               "耐用年数) ÷ (新規カバー来訪者 × 耐用年数)" if ja else
               "score = newly covered visitors a year / install cost in million yen, unit visitors/yr per million "
               "yen. Yen per visitor = (install + running cost x life years) / (new visitors a year x life years)")
    narrow = width < 100
    table = Table(title="整備候補地の優先順位" if ja else "Candidate sites, ranked", caption=caption,
                  box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD, show_edge=not narrow,
                  padding=(0, 0 if narrow else 1), collapse_padding=narrow, pad_edge=not narrow)
    headers = (("順位", "候補地", "選定" + ("\n(年度)" if multi else ""), "得点\n(人/年/\n百万円)",
                "新規\nカバー\n(人/年)", "費用\n(円)", "1人\nあたり\n(円)", "最寄り\nAP", "安定") if ja else
               ("#", "site", "pick" + ("\n(round)" if multi else ""), "score\n(per\nM yen)", "new\nvisitors\n/yr",
                "cost\n(yen)", "yen\nper\nvisitor", "nearest\nAP", "stable"))
    rows = []
    for c in result.candidates:
        d = "-" if c.distance_to_nearest_ap_m is None else fmt_distance(c.distance_to_nearest_ap_m, lang)
        pick = ("✔" + (f" {c.round}" if c.round else "")) if c.selected else ""
        rows.append((str(c.rank), c.name_ja if ja else c.name_en, pick, f"{c.score:,.0f}",
                     f"{c.newly_covered_visitors:,}", f"{c.cost_yen:,}",
                     "-" if c.cost_per_visitor_yen is None else fmt_yen(c.cost_per_visitor_yen), d,
                     "✔" if c.stable else ("" if c.selected else "-")))
    keep = list(range(len(headers)))

    def fixed_width(cols: list[int]) -> int:
        """Cells the unwrappable columns need, with one separator each, and at least 10 for the names."""
        return sum(max(cell_len(x) for x in [*headers[k].split("\n"), *(r[k] for r in rows)]) + 1
                   for k in cols if k != 1) + 10
    for optional in (7, 6, 3):  # nearest AP, yen per visitor, score: each is in the reasons below as well
        if fixed_width(keep) <= width:
            break
        keep.remove(optional)
    for k in keep:
        if k in NUMBER_COLS or k in (2, 8):
            table.add_column(headers[k], no_wrap=True, justify="right" if k in NUMBER_COLS else "left")
        else:
            table.add_column(headers[k], overflow="fold", ratio=1, min_width=4)
    for r in rows:
        table.add_row(*(r[k] for k in keep))
    return table


def print_table(result: PlanResult, lang: str) -> None:
    """The ranked table (figures only) and, under it, every site's reasons in full: wrapped, never cut."""
    ja = lang == "ja"
    table = plan_table(result, lang, console.width)
    console.print(table)
    console.print("理由" if ja else "Reasons", style="bold")
    for c in result.candidates:
        for line in wrap_text(f"{c.rank}. {c.name_ja if ja else c.name_en}: {c.rationale}", console.width, "  "):
            console.print(line, highlight=False, soft_wrap=True)
    for text in summary_lines(result, lang):
        for line in wrap_text(text, err.width, "  "):
            err.print(line, highlight=False, soft_wrap=True)


_NUMBERISH = re.compile(r"[0-9,.+\-]")
_CLOSING = "、。，．）」』】〕)]%,.:;!?・ー"


def _phrases(text: str) -> list[str]:
    """Unbreakable pieces: BudouX's Japanese phrases (its default model), split again at spaces, with any
    boundary between two characters of a figure (digits, separators) or before closing punctuation glued."""
    pieces: list[str] = []
    for phrase in _ja_parser().parse(text):
        pieces += [p for p in re.split(r"(?<= )", phrase) if p]
    out: list[str] = []
    for p in pieces:
        if out and (p[0] in _CLOSING or p[0] == "/" or (_NUMBERISH.match(out[-1][-1]) and _NUMBERISH.match(p[0]))):
            out[-1] += p
        else:
            out.append(p)
    return out


@functools.lru_cache(maxsize=1)
def _ja_parser() -> Any:
    import budoux

    return budoux.load_default_japanese_parser()


def wrap_text(text: str, width: int, indent: str = "") -> list[str]:
    """Lines of at most ``width`` terminal cells, broken between phrases or words and never inside a figure
    (「480,0/00」 used to happen); a piece longer than a whole line is the only thing ever cut."""
    from rich.cells import cell_len

    width = max(width, 20)
    lines: list[str] = []
    cur = ""
    for piece in _phrases(text):
        if cur and cell_len(cur + piece.rstrip()) > width:
            lines.append(cur.rstrip())
            cur = indent + piece.lstrip()
        else:
            cur += piece
        while cell_len(cur) > width:  # one piece wider than the line: cut it, the only choice left
            cut = len(cur)
            while cut > 1 and cell_len(cur[:cut]) > width:
                cut -= 1
            lines.append(cur[:cut])
            cur = indent + cur[cut:]
    if cur.strip():
        lines.append(cur.rstrip())
    return lines
