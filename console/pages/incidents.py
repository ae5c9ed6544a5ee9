"""障害: incidents with filters, acknowledgement with a note (operator, admin), and the on-duty rota."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from collector.alerts import ack, rota, timeline
from collector.alerts.engine import fmt_duration, fmt_time
from collector.alerts.wording import cause_text
from console.auth import logged_in, user_of
from console.downloads import csv_response
from console.i18n import translator
from console.render import page
from core.maintenance import JST

log = logging.getLogger("wifiwatch.console")
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
KINDS = ("down", "site_down", "degraded", "flapping", "monitoring_lost")
MAX_ROWS = 500
CSV_COLUMNS = ("id", "site", "site_name", "device", "device_name", "kind", "cause", "start", "end", "duration_s",
               "open", "suppressed_by", "notified", "reminders", "acknowledged_by", "acknowledged_at", "ack_note")


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
    from core.maintenance import with_added_windows

    try:
        inv = with_added_windows(ctx.inventory(), ctx.alerts.maintenance())  # as the reports set them aside
        rows = stored_outages(inv, ctx.store, start, end, site, ctx.alerts.incidents(since=start - 86400),
                              simulated_until(ctx.store))
    except Exception:  # noqa: BLE001 - the live incidents (the duty's page) never fail with the history's read
        log.exception("outages from stored history not listed")
        return []
    return [o for o in rows if devices is None or o.device in devices]


@dataclass(frozen=True)
class Filters:
    """What 障害 shows, from its query string (kept in the URL, shared by the page and its CSV)."""

    state: str = "all"
    site: str = ""
    kind: str = ""
    days: int = 30

    @classmethod
    def of(cls, state: str, site: str, kind: str, days: int) -> Filters:
        return cls(state if state in ("all", "open", "closed") else "all", site[:64], kind if kind in KINDS else "",
                   max(1, min(days, 400)))

    def query(self) -> str:
        return urlencode({"state": self.state, "site": self.site, "kind": self.kind, "days": self.days})


def _rows(ctx: Any, f: Filters) -> list[Any]:
    rows = ctx.alerts.incidents(open_only=f.state == "open", since=time.time() - f.days * 86400)
    if f.state == "closed":
        rows = [i for i in rows if i.end is not None]
    if f.site:
        rows = [i for i in rows if i.site == f.site]
    if f.kind:
        rows = [i for i in rows if i.kind == f.kind]
    return sorted(rows, key=lambda i: -i.start)[:MAX_ROWS]


def _duration(i: Any, now: float) -> float:
    return (i.end if i.end is not None else now) - i.start


@get("/incidents", guards=[logged_in], sync_to_thread=True)
def incidents_page(request: Request[Any, Any, Any], which: Annotated[str, Parameter(query="state")] = "all",
                   site: str = "", kind: str = "", days: int = 30, msg: str = "") -> Template:
    ctx = request.app.state.console
    inv = ctx.inventory()
    user = user_of(request)
    f = Filters.of(which, site, kind, days)
    rows = _rows(ctx, f)
    with ctx.alerts.tx() as c:
        acks = ack.acks(c)
        shifts = rota.shifts(c)
    sites, devs = _names(inv, user.lang)
    a = inv.alerts
    outages = []
    if f.state != "open" and f.kind in ("", "down"):  # the reports' outages the live incidents do not cover
        outages = history_outages(ctx, time.time() - f.days * 86400, time.time(), f.site or None)
    now = time.time()
    return page(request, "incidents.html", incidents=rows, acks=acks, durations={i.id: _duration(i, now) for i in rows},
                sites=sites, devs=devs, kinds=KINDS, f=f, csv_url="/incidents.csv?" + f.query(),
                shifts=shifts, channels=[ch.name for ch in a.channels], weekdays=rota.WEEKDAYS,
                escalation=(a.escalate_after_min, a.escalate_channel), msg=msg, now=now,
                outages=outages[:500], fmt_duration=fmt_duration, cause_text=cause_text)


@get("/incidents.csv", guards=[logged_in], sync_to_thread=True)
def incidents_csv(request: Request[Any, Any, Any], which: Annotated[str, Parameter(query="state")] = "all",
                  site: str = "", kind: str = "", days: int = 30) -> Response[bytes]:
    """The incidents the page shows with the same filters, one row each, for the office's own records."""
    ctx = request.app.state.console
    lang = user_of(request).lang
    sites, devs = _names(ctx.inventory(), lang)
    f = Filters.of(which, site, kind, days)
    rows = _rows(ctx, f)
    with ctx.alerts.tx() as c:
        acks = ack.acks(c)
    now = time.time()
    out = []
    for i in rows:
        a = acks.get(i.id)
        out.append([i.id, i.site, sites.get(i.site, i.site), i.device, devs.get(i.device, i.device), i.kind,
                    cause_text(i.cause, lang), fmt_time(i.start), fmt_time(i.end) if i.end is not None else "",
                    round(_duration(i, now)), "yes" if i.end is None else "no", i.suppressed_by or "",
                    "yes" if i.notified else "no", i.reminders, a.user if a else "", fmt_time(a.at) if a else "",
                    a.note if a else ""])
    return csv_response(CSV_COLUMNS, out, f"incidents-{dt.datetime.now(JST):%Y%m%d-%H%M%S}.csv")


@get("/incidents/{iid:int}", guards=[logged_in], sync_to_thread=True)
def incident_page(request: Request[Any, Any, Any], iid: int, msg: str = "") -> Template:
    ctx = request.app.state.console
    lang = user_of(request).lang
    inc = next((i for i in ctx.alerts.incidents() if i.id == iid), None) if 0 < iid < 2**62 else None
    if inc is None:
        raise NotFoundException(f"no incident {iid}")
    with ctx.alerts.tx() as c:
        a = ack.acks(c).get(iid)
        msgs = timeline.messages(c, iid)
        notes = timeline.comments(c, iid)
    sites, devs = _names(ctx.inventory(), lang)
    evs = timeline.events(inc, (a.user, a.at, a.note) if a else None, msgs, notes)
    return page(request, "incident.html", i=inc, ack=a, events=evs, messages=msgs, sites=sites, devs=devs,
                duration=_duration(inc, time.time()), fmt_duration=fmt_duration, cause_text=cause_text, msg=msg)


@post("/incidents/{iid:int}/comment", guards=[logged_in], opt={"can": "ack"}, sync_to_thread=True)
def comment(request: Request[Any, Any, Any], iid: int, data: Form) -> Redirect:
    ctx = request.app.state.console
    user = user_of(request)
    text = data.get("text", "")
    with ctx.alerts.tx() as c:
        done = timeline.add_comment(c, iid, user.name, text, time.time()) if 0 < iid < 2**62 else False
    if done:
        ctx.users.audit(user.name, "comment", f"incident {iid}", text.strip()[:200])
    return Redirect(f"/incidents/{iid}?msg={'commented' if done else 'comment_refused'}#timeline", status_code=303)


@post("/incidents/ack", guards=[logged_in], opt={"can": "ack"}, sync_to_thread=True)
def acknowledge_many(request: Request[Any, Any, Any], data: Annotated[dict[str, Any], Body(
        media_type=RequestEncodingType.URL_ENCODED)]) -> Redirect:
    """Several open incidents acknowledged at once with one note (a storm from one cause)."""
    ctx = request.app.state.console
    user = user_of(request)
    raw = data.get("ids", [])
    ids = sorted({int(x) for x in (raw if isinstance(raw, list) else [raw]) if str(x).isdigit() and len(str(x)) < 12})
    note = str(data.get("note", "")).strip()
    done = []
    with ctx.alerts.tx() as c:
        for iid in ids[:MAX_ROWS]:
            if ack.acknowledge(c, iid, user.name, note, time.time()):
                done.append(iid)
    for iid in done:
        ctx.users.audit(user.name, "ack", f"incident {iid}", note)
    msg = "acked_many" if done else "ack_refused"
    return Redirect(f"/incidents?msg={msg}&detail={len(done)}", status_code=303)


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
        done = ack.acknowledge(c, iid, user.name, note, time.time()) if 0 < iid < 2**62 else False
    if done:
        ctx.users.audit(user.name, "ack", f"incident {iid}", note)
    back = f"/incidents/{iid}" if data.get("back") == "incident" else "/incidents"
    return Redirect(f"{back}?msg={'acked' if done else 'ack_refused'}#i{iid}", status_code=303)


def _rota_bad(detail: str) -> Redirect:
    return Redirect(f"/incidents?{urlencode({'msg': 'rota_bad', 'detail': detail})}#rota", status_code=303)


@post("/rota", guards=[logged_in], opt={"can": "ack"}, sync_to_thread=True)
def add_shift(request: Request[Any, Any, Any], data: Form) -> Redirect:
    ctx = request.app.state.console
    inv = ctx.inventory()
    user = user_of(request)
    channel, target = data.get("channel", ""), data.get("target", "*") or "*"
    t = translator(user.lang)
    # each refusal in the user's words (the parsers' own English, e.g. "unconverted data remains", never shown)
    if channel not in {c.name for c in inv.alerts.channels}:
        return _rota_bad(t("rota_err_channel").format(channel[:64]))
    if target != "*" and target not in {s.id for s in inv.sites}:
        return _rota_bad(t("rota_err_site").format(target[:64]))
    picked = ",".join(v for k, v in data.items() if k.startswith("day_"))
    try:
        if not picked and "weekdays" not in data:  # every box unticked: no day, not every day
            raise ValueError("no weekday")
        days = rota.parse_weekdays(picked or data["weekdays"])
    except ValueError:
        return _rota_bad(t("rota_err_weekdays"))
    try:
        start, end = dt.time.fromisoformat(data.get("start", "")), dt.time.fromisoformat(data.get("end", ""))
    except ValueError:
        return _rota_bad(t("rota_err_time"))
    if start == end:
        return _rota_bad(t("rota_err_same"))
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


handlers = [incidents_page, incidents_csv, incident_page, comment, acknowledge_many, acknowledge, add_shift,
            remove_shift]
