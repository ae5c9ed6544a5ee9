"""地図: the coverage map (maps/, drawn by folium) with the APs' live states and the default plan's candidates;
its scripts and tiles come from this server (vendored assets, the tile archive), never from a CDN.

The default plan is what everyone sees; a what-if scenario (the 整備計画 page's ``a_*`` fields) is a planner
computation like ``POST /planning/run``: it needs the planner role and is written to the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Template

from console.auth import logged_in, user_of
from console.render import page


def _tiles(request: Request[Any, Any, Any]) -> Any:
    """The tile archive beside the store (``wifiwatch tiles``), opened once; None when there is none."""
    from maps.tiles import TileCache, TileError, default_tile_file, refused

    state = request.app.state
    if "tile_cache" not in state:
        path = Path(default_tile_file(state.console.inventory()))
        try:
            state.tile_cache = TileCache(path) if path.exists() else None
        except TileError as e:  # checked against the limits once; one log line, and the map has no background
            refused(path, e)
            state.tile_cache = None
    return state.tile_cache


@get("/map", guards=[logged_in], sync_to_thread=False)
def map_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "map.html")


@get("/map/view", guards=[logged_in], sync_to_thread=True)
def map_view(request: Request[Any, Any, Any]) -> Response[str]:
    from analytics.planner.plan import Scenario
    from console.scenario import parse_scenario, run_plan
    from maps.coverage_map import cache_background, map_html, plan_markers, snapshot_note, snapshot_statuses

    ctx = request.app.state.console
    inv = ctx.inventory()
    user = user_of(request)
    lang = user.lang
    query = {k: v for k, v in request.query_params.items() if k.startswith(("a_", "b_")) or k == "compare"}
    if query:  # a scenario: the same role and the same audit entry as the planning page's run
        if not user.can("plan"):
            raise PermissionDeniedException(f"role {user.role} may not plan", extra={"role": user.role, "need": "plan"})
        ctx.users.audit(user.name, "plan-scenario", "map",
                        json.dumps({k: v for k, v in query.items() if v}, ensure_ascii=False))
    snap = ctx.fleet(lang)
    figures = ctx.map_figures()  # 30-day availability and usage heat, cached with 状況's 7/30-day figures
    statuses = snapshot_statuses(snap, figures["availability"], lang)
    cands: Any = []
    info: Any = None
    compare: Any = None
    try:  # the planning page shows its scenarios here (same fields, read only: nothing is saved)
        scenario = parse_scenario(query, "a", inv, lang) if query else Scenario(
            lang="en" if lang == "en" else "ja", sensitivity=False)
        a, _ = run_plan(ctx, scenario)
        if a is not None:
            cands, info = plan_markers(a)
        if query.get("compare"):
            b, _ = run_plan(ctx, parse_scenario(query, "b", inv, lang))
            compare = plan_markers(b) if b is not None else None
    except Exception:  # noqa: BLE001 - a plan that cannot be made still leaves the map of the APs
        pass
    cache = _tiles(request)
    background = cache_background(cache, "/map/tiles/{z}/{x}/{y}.png", lang) if cache is not None else None
    html = map_html(inv, statuses, figures["heat"], cands, lang, background, info, asset_url="/map/assets/",
                    data_note=snapshot_note(snap, lang), compare=compare)
    from console.render import MAP_CSP

    return Response(html, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": MAP_CSP})


@get("/map/assets/{name:str}", guards=[logged_in], sync_to_thread=False)
def map_asset(name: str) -> Response[bytes]:
    from maps.assets import asset_path

    try:
        path = asset_path(name)
    except KeyError:
        raise NotFoundException("no such asset") from None
    kind = "text/css" if name.endswith(".css") else ("text/javascript" if name.endswith(".js") else
                                                     "application/octet-stream")
    return Response(path.read_bytes(), media_type=kind, headers={"Cache-Control": "max-age=3600"})


@get("/map/tiles/{z:int}/{x:int}/{y:str}", guards=[logged_in], sync_to_thread=True)
def map_tile(request: Request[Any, Any, Any], z: int, x: int, y: str) -> Response[bytes]:
    cache = _tiles(request)
    try:
        yy = int(y.split(".", 1)[0])
    except ValueError:
        raise NotFoundException("no such tile") from None
    body = cache.get(z, x, yy) if cache is not None else None
    if body is None:
        raise NotFoundException("no such tile")
    return Response(body, media_type=cache.media_type, headers={"Cache-Control": "max-age=86400"})


handlers = [map_page, map_view, map_asset, map_tile]
