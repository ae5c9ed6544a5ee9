"""整備計画: the ranked candidates with their reasons; what-if scenarios (A and B side by side, with the A − B
difference) for planners; both scenarios on the map and in the export. Each plan is made as `wifiwatch rank`
makes it and shows the same notes (analytics.planner.notes). Running a scenario is recorded in the audit log;
the inventory never changes."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from analytics.planner.notes import PlanDiff, compare_plans, plan_notes
from analytics.planner.plan import PlanResult, Scenario
from console.auth import logged_in, user_of
from console.downloads import attachment, csv_bytes
from console.render import page
from console.scenario import INT_FIELDS, parse_scenario, run_plan

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
CSV_COLS = ("rank", "id", "name_ja", "name_en", "selected", "round", "score", "newly_covered_visitors", "cost_yen",
            "distance_to_nearest_ap_m", "stable", "rationale")
AB_COLS = ("id", "name_ja", "name_en", "a_selected", "a_round", "a_newly_covered_visitors", "b_selected", "b_round",
           "b_newly_covered_visitors", "a_minus_b_newly_covered_visitors", "changed", "a_rationale", "b_rationale")
EXPORTS = ("csv_a", "json_a", "csv_b", "json_b", "csv_ab", "json_ab")


def _notes(results: dict[str, PlanResult | None], lang: str) -> dict[str, list[tuple[str, str]]]:
    return {p: plan_notes(r, lang) for p, r in results.items() if r is not None}


@get("/planning", guards=[logged_in], sync_to_thread=True)
def planning_page(request: Request[Any, Any, Any]) -> Template:
    ctx = request.app.state.console
    lang = user_of(request).lang
    result, error = run_plan(ctx, Scenario(lang="en" if lang == "en" else "ja"))
    results = {"a": result}
    return page(request, "planning.html", results=results, errors={"a": error}, form={},
                notes=_notes(results, lang), diff=None, candidates=ctx.inventory().candidates, fields=INT_FIELDS,
                map_query="")


@post("/planning/run", guards=[logged_in], opt={"can": "plan"}, sync_to_thread=True)
def run_scenarios(request: Request[Any, Any, Any], data: Form) -> Template | Response[bytes]:
    ctx = request.app.state.console
    inv = ctx.inventory()
    user = user_of(request)
    results: dict[str, Any] = {}
    errors: dict[str, str | None] = {}
    for p in ("a", "b"):
        if p == "b" and not data.get("compare"):
            continue
        try:
            s = parse_scenario(data, p, inv, user.lang)
        except ValueError as e:
            results[p], errors[p] = None, str(e)
            continue
        results[p], errors[p] = run_plan(ctx, s)
    ctx.users.audit(user.name, "plan-scenario", "compare" if "b" in results else "a",
                    json.dumps({k: v for k, v in data.items() if v and k != "_csrf_token"}, ensure_ascii=False))
    diff = compare_plans(results["a"], results["b"], user.lang) \
        if results.get("a") is not None and results.get("b") is not None else None
    export = data.get("export", "")
    stem = inv.municipality_code + "_plan_"
    if export in ("csv_ab", "json_ab") and diff is not None:
        return _export_ab(results["a"], results["b"], diff, export[:-3], stem + "a_b")
    if export in EXPORTS and results.get(export[-1]) is not None:
        return _export(results[export[-1]], export[:-2], stem + export[-1])
    keep = ("a_", "b_") if "b" in results else ("a_",)
    map_query = urlencode({k: v for k, v in data.items() if k.startswith(keep) and v}
                          | ({"compare": "1"} if "b" in results else {}))
    return page(request, "planning.html", results=results, errors=errors, form=data, notes=_notes(results, user.lang),
                diff=diff, candidates=inv.candidates, fields=INT_FIELDS, map_query=map_query)


def _export(result: PlanResult, kind: str, stem: str) -> Response[bytes]:
    data = result.to_json()
    if kind == "json":
        return attachment(json.dumps(data, ensure_ascii=False, indent=1).encode(), "application/json",
                           stem + ".json")
    return attachment(csv_bytes(CSV_COLS, [[c.get(k) for k in CSV_COLS] for c in data["candidates"]]),
                       "text/csv; charset=utf-8", stem + ".csv")


def _export_ab(a: PlanResult, b: PlanResult, diff: PlanDiff, kind: str, stem: str) -> Response[bytes]:
    """Both scenarios and their difference in one file: JSON with a, b and a_minus_b; CSV one row per site."""
    if kind == "json":
        body = {"a": a.to_json(), "b": b.to_json(), "a_minus_b": diff.to_json()}
        return attachment(json.dumps(body, ensure_ascii=False, indent=1).encode(), "application/json",
                           stem + ".json")
    ca = {c.id: c for c in a.candidates}
    cb = {c.id: c for c in b.candidates}
    rows = [[r.id, ca[r.id].name_ja, ca[r.id].name_en, r.a_selected, r.a_round, r.a_newly_covered, r.b_selected,
             r.b_round, r.b_newly_covered, r.a_minus_b, r.changed, ca[r.id].rationale, cb[r.id].rationale]
            for r in diff.rows]
    rows.append(["total", "合計", "total", diff.a_picks, "", diff.a_covered, diff.b_picks, "", diff.b_covered,
                 diff.covered_a_minus_b, "", "", ""])
    return attachment(csv_bytes(AB_COLS, rows), "text/csv; charset=utf-8", stem + ".csv")


handlers = [planning_page, run_scenarios]
