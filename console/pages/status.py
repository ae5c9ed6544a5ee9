"""状況: every site and AP, refreshed in place by a small script at least once per heartbeat."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from console.auth import logged_in, user_of
from console.render import page


def refresh_ms(request: Request[Any, Any, Any]) -> int:
    """Half a heartbeat (at most 10 s), so a change confirmed by the daemon shows within one heartbeat."""
    hb = request.app.state.console.inventory().defaults.heartbeat_s
    return int(max(1.0, min(10.0, hb / 2)) * 1000)


def _fleet(request: Request[Any, Any, Any]) -> Any:
    ctx = request.app.state.console
    return ctx.fleet(user_of(request).lang)


@get("/", guards=[logged_in], sync_to_thread=True)
def status_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "status.html", fleet=_fleet(request), refresh_ms=refresh_ms(request), own_banner=True)


@get("/fragment/status", guards=[logged_in], sync_to_thread=True)
def status_fragment(request: Request[Any, Any, Any]) -> Template:
    return page(request, "status_fleet.html", fleet=_fleet(request), own_banner=True)


handlers = [status_page, status_fragment]
