"""状況: every site and AP, refreshed in place by a small script at least once per heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.response import Template

from console.auth import logged_in, user_of
from console.render import page


def refresh_ms(request: Request[Any, Any, Any]) -> int:
    """Half a heartbeat (at most 10 s), so a change confirmed by the daemon shows within one heartbeat."""
    hb = request.app.state.console.inventory().defaults.heartbeat_s
    return int(max(1.0, min(10.0, hb / 2)) * 1000)


FULL_ROWS = 1000  # up to this many devices 状況 lists every one; beyond, the ones that need attention


@dataclass
class Compact:
    """状況 for a large fleet: each site with a device that is not up, with those devices (the same rows as the
    full page), and the quiet sites as one line of links. When monitoring stopped, every device is stale and the
    banner says so once: the sites are listed by their state, not their 10,000 stale rows."""

    attention: list[tuple[Any, list[Any]]]
    quiet: list[Any]


def compact(fleet: Any) -> Compact:
    attention, quiet = [], []
    for site in fleet.sites:
        rows = [d for d in site.devices if d.state != "up" and (fleet.live or d.state != "stale")]
        if rows:
            attention.append((site, rows))
        else:
            quiet.append(site)
    return Compact(attention, quiet)


def _fleet(request: Request[Any, Any, Any]) -> dict[str, Any]:
    ctx = request.app.state.console
    fleet = ctx.fleet(user_of(request).lang)
    limit = getattr(ctx, "full_rows", FULL_ROWS)
    return {"fleet": fleet, "compact": compact(fleet) if sum(len(s.devices) for s in fleet.sites) > limit else None}


@get("/", guards=[logged_in], sync_to_thread=True)
def status_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "status.html", refresh_ms=refresh_ms(request), own_banner=True, **_fleet(request))


@get("/fragment/status", guards=[logged_in], sync_to_thread=True)
def status_fragment(request: Request[Any, Any, Any]) -> Template:
    return page(request, "status_fleet.html", own_banner=True, **_fleet(request))


handlers = [status_page, status_fragment]
