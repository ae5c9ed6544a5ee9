"""状況: every site and AP, refreshed in place by a small script at least once per heartbeat; searched, filtered
and sorted from the query string (so a view can be bookmarked and the refresh keeps it), and as CSV."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.response import Template

from collector.alerts import ack
from console.auth import logged_in, user_of
from console.downloads import csv_response
from console.render import page
from core.maintenance import JST
from core.state import RANK

MAX_SHOWN = 1000  # a search or sort lists at most this many rows (the CSV has them all)
SORTS = ("site", "name", "state", "clients", "since", "avail7", "avail30")
PROBLEMS = {"down", "degraded", "stale", "unknown", "maintenance"}
CSV_COLUMNS = ("site", "site_name", "device", "name", "role", "state", "reasons", "clients", "vendor", "since",
               "last_heartbeat_age_s", "availability_7d_pct", "availability_30d_pct", "open_incidents",
               "acknowledged")


@dataclass(frozen=True)
class View:
    """What 状況 shows, as typed in its query string."""

    q: str = ""
    state: str = ""
    site: str = ""
    vendor: str = ""
    problems: bool = False
    sort: str = "site"
    desc: bool = False

    @classmethod
    def of(cls, request: Request[Any, Any, Any]) -> View:
        p = request.query_params
        sort = p.get("sort", "site")
        return cls(q=p.get("q", "").strip()[:100], state=p.get("state", "")[:20], site=p.get("site", "")[:64],
                   vendor=p.get("vendor", "")[:64], problems=p.get("problems") in ("1", "on"),
                   sort=sort if sort in SORTS else "site", desc=p.get("dir") == "desc")

    def query(self, **change: Any) -> str:
        v = replace(self, **change) if change else self
        out = {"q": v.q, "state": v.state, "site": v.site, "vendor": v.vendor, "problems": "1" if v.problems else "",
               "sort": "" if v.sort == "site" else v.sort, "dir": "desc" if v.desc else ""}
        return urlencode({k: x for k, x in out.items() if x})

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.state or self.site or self.vendor or self.problems)

    def keeps(self, site: Any, d: Any) -> bool:
        if self.state and d.state != self.state:
            return False
        if self.problems and d.state not in PROBLEMS and not d.incidents:
            return False
        if self.site and site.id != self.site:
            return False
        if self.vendor and (d.vendor or "") != self.vendor:
            return False
        if self.q:
            q = self.q.casefold()
            return any(q in (x or "").casefold() for x in (d.id, d.name, site.id, site.name, d.vendor))
        return True


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


def refresh_ms(request: Request[Any, Any, Any]) -> int:
    """Half a heartbeat (at most 10 s), so a change confirmed by the daemon shows within one heartbeat."""
    hb = request.app.state.console.inventory().defaults.heartbeat_s
    return int(max(1.0, min(10.0, hb / 2)) * 1000)


def _fleet(request: Request[Any, Any, Any]) -> Any:
    ctx = request.app.state.console
    return ctx.fleet(user_of(request).lang)


def rows(fleet: Any, view: View, recent: dict[int, dict[str, Any]]) -> list[tuple[Any, Any]]:
    """(site, device) pairs the view keeps, in its order (site order, or sorted across the fleet)."""
    out = [(s, d) for s in fleet.sites for d in s.devices if view.keeps(s, d)]
    if view.sort == "site":
        return out[::-1] if view.desc else out

    def pct(days: int, d: Any) -> float:
        r = recent.get(days, {}).get(d.id)
        return r.pct if r is not None else -1.0

    key = {"name": lambda sd: (sd[1].name or sd[1].id).casefold(),
           "state": lambda sd: (-RANK.get(sd[1].state, 0), sd[1].name),
           "clients": lambda sd: sd[1].clients if sd[1].clients is not None else -1,
           "since": lambda sd: sd[1].since or 0.0,
           "avail7": lambda sd: pct(7, sd[1]), "avail30": lambda sd: pct(30, sd[1])}[view.sort]
    return sorted(out, key=key, reverse=view.desc)


def _context(request: Request[Any, Any, Any], limit: int | None = MAX_SHOWN) -> dict[str, Any]:
    ctx = request.app.state.console
    fleet = _fleet(request)
    view = View.of(request)
    recent = ctx.recent()
    with ctx.alerts.tx() as c:
        acks = ack.acks(c)
    vendors = sorted({d.vendor for s in fleet.sites for d in s.devices if d.vendor})
    n_devices = sum(len(s.devices) for s in fleet.sites)
    big = compact(fleet) if n_devices > getattr(ctx, "full_rows", FULL_ROWS) and not view.filtered \
        and view.sort == "site" else None
    shown = [] if big is not None else rows(fleet, view, recent)
    total = len(shown)
    if limit is not None:
        shown = shown[:limit]
    by_site: dict[str, list[Any]] = {}
    for site, d in shown:
        by_site.setdefault(site.id, []).append(d)
    return {"fleet": fleet, "compact": big, "view": view, "shown": shown, "total": total, "by_site": by_site,
            "recent": recent, "acks": acks, "vendors": vendors, "sorts": SORTS, "own_banner": True}


@get("/", guards=[logged_in], sync_to_thread=True)
def status_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "status.html", refresh_ms=refresh_ms(request), **_context(request))


@get("/fragment/status", guards=[logged_in], sync_to_thread=True)
def status_fragment(request: Request[Any, Any, Any]) -> Template:
    return page(request, "status_fleet.html", **_context(request))


@get("/status.csv", guards=[logged_in], sync_to_thread=True)
def status_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Every AP the view keeps, with its state, clients and 7/30-day availability (the same filters as 状況)."""
    c = _context(request, limit=None)
    if c["compact"] is not None:  # the CSV lists every row the view keeps, however large the fleet
        c["shown"] = rows(c["fleet"], c["view"], c["recent"])
    r7, r30 = c["recent"].get(7, {}), c["recent"].get(30, {})
    out = []
    for site, d in c["shown"]:
        a7, a30 = r7.get(d.id), r30.get(d.id)
        out.append([site.id, site.name, d.id, d.name, d.role, d.state, " ".join(d.reasons),
                    d.clients if d.clients is not None else "", d.vendor or "",
                    dt.datetime.fromtimestamp(d.since, JST).isoformat(timespec="seconds") if d.since else "",
                    round(d.age_s) if d.age_s is not None else "",
                    round(a7.pct, 2) if a7 else "", round(a30.pct, 2) if a30 else "",
                    " ".join(str(i.id) for i in d.incidents),
                    " ".join(str(i.id) for i in d.incidents if i.id in c["acks"])])
    return csv_response(CSV_COLUMNS, out, f"status-{dt.datetime.now(JST):%Y%m%d-%H%M%S}.csv")


handlers = [status_page, status_fragment, status_csv]
