"""整備計画: the ranked candidates with their reasons; what-if scenarios (A and B side by side) for planners;
a plan exported as CSV or JSON. Running a scenario is recorded in the audit log; the inventory never changes."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from analytics.planner.model import SolverError
from analytics.planner.plan import PlannerInputError, Scenario, make_plan
from console.auth import logged_in, user_of
from console.render import page
from console.scenario import INT_FIELDS, observed, parse_scenario
from core.escape import spreadsheet_cell

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
CSV_COLS = ("rank", "id", "name_ja", "name_en", "selected", "round", "score", "newly_covered_visitors", "cost_yen",
            "distance_to_nearest_ap_m", "stable", "rationale")


def _run(ctx: Any, s: Scenario) -> tuple[Any, str | None]:
    try:
        return make_plan(ctx.inventory(), s, observed(ctx)), None
    except (PlannerInputError, SolverError, ValueError) as e:
        return None, str(e)


@get("/planning", guards=[logged_in], sync_to_thread=True)
def planning_page(request: Request[Any, Any, Any]) -> Template:
    ctx = request.app.state.console
    lang = user_of(request).lang
    result, error = _run(ctx, Scenario(lang="en" if lang == "en" else "ja", sensitivity=False))
    return page(request, "planning.html", results={"a": result}, errors={"a": error}, form={},
                candidates=ctx.inventory().candidates, fields=INT_FIELDS, map_query="")


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
        results[p], errors[p] = _run(ctx, s)
    ctx.users.audit(user.name, "plan-scenario", "compare" if "b" in results else "a",
                    json.dumps({k: v for k, v in data.items() if v and k != "_csrf_token"}, ensure_ascii=False))
    export = data.get("export", "")
    if export in ("csv_a", "json_a", "csv_b", "json_b") and results.get(export[-1]) is not None:
        return _export(results[export[-1]], export[:-2], inv.municipality_code + f"_plan_{export[-1]}")
    map_query = urlencode({k: v for k, v in data.items() if k.startswith("a_") and v})
    return page(request, "planning.html", results=results, errors=errors, form=data, candidates=inv.candidates,
                fields=INT_FIELDS, map_query=map_query)


def _export(result: Any, kind: str, stem: str) -> Response[bytes]:
    data = result.to_json()
    if kind == "json":
        body, ctype, name = json.dumps(data, ensure_ascii=False, indent=1).encode(), "application/json", stem + ".json"
    else:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLS)
        for c in data["candidates"]:
            w.writerow([spreadsheet_cell(c.get(k)) for k in CSV_COLS])
        body, ctype, name = ("\ufeff" + buf.getvalue()).encode(), "text/csv; charset=utf-8", stem + ".csv"
    return Response(body, media_type=ctype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


handlers = [planning_page, run_scenarios]
