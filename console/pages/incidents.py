"""障害: incidents with filters, acknowledgement with a note (operator, admin), and the on-duty rota."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from collector.alerts import ack, rota
from console.auth import logged_in, user_of
from console.render import page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
KINDS = ("down", "site_down", "degraded", "flapping", "monitoring_lost")


def _names(inv: Any, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    sites = {s.id: s.name_ja if lang == "ja" else s.name_en for s in inv.sites}
    devs: dict[str, str] = {}
    for s in inv.sites:
        if s.uplink:
            devs[s.uplink.id] = s.uplink.id
        for a in s.aps:
            devs[a.id] = (a.name_ja if lang == "ja" else a.name_en) or a.id
    return sites, devs


def history_outages(ctx: Any, start: float, end: float, site: str | None = None,
                    devices: set[str] | None = None) -> list[Any]:
    """Outages in the stored history that no recorded incident covers (analytics.outages: the reports' own), for
    障害 and the site and AP timelines."""
    from analytics.outages import simulated_until, stored_outages

    rows = stored_outages(ctx.inventory(), ctx.store, start, end, site, ctx.alerts.incidents(since=start - 86400),
                          simulated_until(ctx.store))
    return [o for o in rows if devices is None or o.device in devices]


@get("/incidents", guards=[logged_in], sync_to_thread=True)
def incidents_page(request: Request[Any, Any, Any], which: Annotated[str, Parameter(query="state")] = "all",
                   site: str = "", kind: str = "", days: int = 30, msg: str = "") -> Template:
    ctx = request.app.state.console
    inv = ctx.inventory()
    user = user_of(request)
    days = max(1, min(days, 400))
    rows = ctx.alerts.incidents(open_only=which == "open", since=time.time() - days * 86400)
    if which == "closed":
        rows = [i for i in rows if i.end is not None]
    if site:
        rows = [i for i in rows if i.site == site]
    if kind:
        rows = [i for i in rows if i.kind == kind]
    with ctx.alerts.tx() as c:
        acks = ack.acks(c)
        shifts = rota.shifts(c)
    sites, devs = _names(inv, user.lang)
    a = inv.alerts
    outages = []
    if which != "open" and kind in ("", "down"):  # the reports' outages the live incidents do not cover
        outages = history_outages(ctx, time.time() - days * 86400, time.time(), site or None)
    return page(request, "incidents.html", incidents=sorted(rows, key=lambda i: -i.start)[:500], acks=acks,
                sites=sites, devs=devs, kinds=KINDS, f={"state": which, "site": site, "kind": kind, "days": days},
                shifts=shifts, channels=[ch.name for ch in a.channels], weekdays=rota.WEEKDAYS,
                escalation=(a.escalate_after_min, a.escalate_channel), msg=msg, now=time.time(),
                outages=outages[:500])


def _known_id(n: int) -> None:
    """Ids are SQLite integers: one past their range is no such row (SQLite would raise OverflowError, a 500)."""
    if not 0 < n < 2**63:
        raise NotFoundException("no such id")


@post("/incidents/{iid:int}/ack", guards=[logged_in], opt={"can": "ack"}, sync_to_thread=True)
def acknowledge(request: Request[Any, Any, Any], iid: int, data: Form) -> Redirect:
    _known_id(iid)
    ctx = request.app.state.console
    user = user_of(request)
    note = data.get("note", "").strip()
    with ctx.alerts.tx() as c:
        done = ack.acknowledge(c, iid, user.name, note, time.time())
    if done:
        ctx.users.audit(user.name, "ack", f"incident {iid}", note)
    return Redirect(f"/incidents?msg={'acked' if done else 'ack_refused'}#i{iid}", status_code=303)


@post("/rota", guards=[logged_in], opt={"can": "ack"}, sync_to_thread=True)
def add_shift(request: Request[Any, Any, Any], data: Form) -> Redirect:
    ctx = request.app.state.console
    inv = ctx.inventory()
    user = user_of(request)
    channel, target = data.get("channel", ""), data.get("target", "*") or "*"
    try:
        if channel not in {c.name for c in inv.alerts.channels}:
            raise ValueError(f"no alert channel {channel!r}")
        if target != "*" and target not in {s.id for s in inv.sites}:
            raise ValueError(f"no site {target!r}")
        days = rota.parse_weekdays(",".join(v for k, v in data.items() if k.startswith("day_")) or
                                   data.get("weekdays", "*"))
        start, end = dt.time.fromisoformat(data.get("start", "")), dt.time.fromisoformat(data.get("end", ""))
        if start == end:
            raise ValueError("start and end are the same time")
    except ValueError as e:
        return Redirect(f"/incidents?msg=rota_bad&detail={str(e)[:200]}#rota", status_code=303)
    person = data.get("person", "").strip()[:100]
    with ctx.alerts.tx() as c:
        sid = rota.add_shift(c, channel, target, days, start, end, person)
    ctx.users.audit(user.name, "rota-add", f"shift {sid}",
                    f"{channel} {target} {','.join(days)} {start}-{end} {person}")
    return Redirect("/incidents?msg=rota_added#rota", status_code=303)


@post("/rota/{sid:int}/remove", guards=[logged_in], opt={"can": "ack"}, sync_to_thread=True)
def remove_shift(request: Request[Any, Any, Any], sid: int) -> Redirect:
    _known_id(sid)
    ctx = request.app.state.console
    with ctx.alerts.tx() as c:
        done = rota.remove_shift(c, sid)
    if done:
        ctx.users.audit(user_of(request).name, "rota-remove", f"shift {sid}")
    return Redirect("/incidents#rota", status_code=303)


handlers = [incidents_page, acknowledge, add_shift, remove_shift]
