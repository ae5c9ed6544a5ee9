"""保守: maintenance windows. The config file's are shown as they are; windows added here (or with
``wifiwatch maintenance add``) can be edited, ended early or cancelled; the daemon reads them every heartbeat."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from pydantic import ValidationError

from console.auth import logged_in, user_of
from console.i18n import translator
from console.render import page
from core.inventory import Maintenance
from core.maintenance import JST, MaintenanceError, end_window, remove_window

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


class WindowError(ValueError):
    """A form mistake, named by an i18n key (``maint_err_*``) and the offending value, if any."""

    def __init__(self, key: str, value: str = "") -> None:
        super().__init__(key)
        self.key, self.value = key, value[:60]

    def text(self, t: Any) -> str:
        return t(self.key) + (f" ({self.value})" if self.value else "")


def _name(obj: Any, lang: str) -> str:
    return str(getattr(obj, "name_ja" if lang == "ja" else "name_en", None) or obj.id)


def _targets(inv: Any, lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """What a window may silence, grouped by site: the site as a whole, then each of its APs (by name).
    The whole city is offered apart, in the form, behind a confirmation."""
    groups = []
    for s in inv.sites:
        whole = ("施設全体: " if lang == "ja" else "whole site: ") + _name(s, lang)
        opts = [(s.id, whole)] + [(a.id, _name(a, lang)) for a in s.aps]
        if s.uplink:
            opts.append((s.uplink.id, ("上位回線: " if lang == "ja" else "uplink: ") + _name(s.uplink, lang)))
        groups.append((_name(s, lang), opts))
    return groups


def target_names(inv: Any, lang: str) -> dict[str, str]:
    """Every window target's name as staff know it ("*" is the whole city)."""
    names = {"*": "市内全域" if lang == "ja" else "whole city"}
    for s in inv.sites:
        names[s.id] = _name(s, lang)
        for a in s.aps:
            names[a.id] = f"{_name(s, lang)} / {_name(a, lang)}"
        if s.uplink:
            names[s.uplink.id] = f"{_name(s, lang)} / {_name(s.uplink, lang)}"
    return names


def _local(text: str, field: str) -> dt.datetime:
    """A datetime-local form value (JST unless it carries an offset)."""
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(f"maint_err_{field}", text) from None
    return t if t.tzinfo else t.replace(tzinfo=JST)


def _window(inv: Any, wid: str, data: dict[str, str]) -> Maintenance:
    target = data.get("target", "").strip()
    known = {s.id for s in inv.sites} | {a.id for _, a in inv.aps()} | {s.uplink.id for s in inv.sites if s.uplink}
    if not target:
        raise WindowError("maint_err_no_target")
    if target == "*" and data.get("confirm_city") != "1":
        raise WindowError("maint_err_city_unconfirmed")
    if target != "*" and target not in known:
        raise WindowError("maint_err_target", target)
    start, end = _local(data.get("start", ""), "start"), _local(data.get("end", ""), "end")
    if end <= start:
        raise WindowError("maint_err_order")
    try:
        return Maintenance(id=wid, target=target, start=start, end=end, reason=data.get("reason", "").strip()[:300])
    except ValidationError:
        raise WindowError("maint_err_reason") from None


def _back(msg: str, detail: str = "") -> Redirect:
    return Redirect(f"/maintenance?msg={msg}" + (f"&detail={quote(detail[:200])}" if detail else ""), status_code=303)


@get("/maintenance", guards=[logged_in], sync_to_thread=True)
def maintenance_page(request: Request[Any, Any, Any], msg: str = "", detail: str = "", edit: str = "") -> Template:
    ctx = request.app.state.console
    inv = ctx.inventory()
    now = time.time()
    added = []
    for wid, target, s, e, reason in ctx.alerts.maintenance():
        t0, t1 = _local(s, "start"), _local(e, "end")
        state = "planned" if t0.timestamp() > now else ("active" if t1.timestamp() > now else "over")
        added.append({"id": wid, "target": target, "start": t0, "end": t1, "reason": reason, "state": state})
    default_start = dt.datetime.fromtimestamp(now, JST).replace(second=0, microsecond=0)
    lang = user_of(request).lang
    return page(request, "maintenance.html", config_windows=inv.maintenance, added=added,
                targets=_targets(inv, lang), names=target_names(inv, lang), msg=msg, detail=detail, edit=edit,
                default_start=default_start, default_end=default_start + dt.timedelta(hours=2))


@post("/maintenance/add", guards=[logged_in], opt={"can": "maintenance"}, sync_to_thread=True)
def add_window(request: Request[Any, Any, Any], data: Form) -> Redirect:
    ctx = request.app.state.console
    inv = ctx.inventory()
    wid = f"web-{dt.datetime.now(JST):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    try:
        w = _window(inv, wid, data)
    except WindowError as e:
        return _back("maint_bad", e.text(translator(user_of(request).lang)))
    assert w.start is not None and w.end is not None
    ctx.alerts.add_maintenance(wid, w.target, w.start.isoformat(), w.end.isoformat(), w.reason)
    ctx.users.audit(user_of(request).name, "maintenance-add", wid, f"{w.target} {w.start} - {w.end} {w.reason}")
    return _back("maint_added")


@post("/maintenance/{wid:str}/edit", guards=[logged_in], opt={"can": "maintenance"}, sync_to_thread=True)
def edit_window(request: Request[Any, Any, Any], wid: str, data: Form) -> Redirect:
    ctx = request.app.state.console
    inv = ctx.inventory()
    try:
        w = _window(inv, wid, data)
        remove_window(ctx.alerts, [c.id for c in inv.maintenance], wid)  # refuses the config file's windows
    except WindowError as e:
        return _back("maint_bad", e.text(translator(user_of(request).lang)))
    except MaintenanceError as e:
        return _back("maint_bad", str(e))
    assert w.start is not None and w.end is not None
    ctx.alerts.add_maintenance(wid, w.target, w.start.isoformat(), w.end.isoformat(), w.reason)
    ctx.users.audit(user_of(request).name, "maintenance-edit", wid, f"{w.target} {w.start} - {w.end} {w.reason}")
    return _back("maint_saved")


@post("/maintenance/{wid:str}/end", guards=[logged_in], opt={"can": "maintenance"}, sync_to_thread=True)
def end_now(request: Request[Any, Any, Any], wid: str) -> Redirect:
    ctx = request.app.state.console
    inv = ctx.inventory()
    config_ids = [c.id for c in inv.maintenance]
    try:
        row = [r for r in ctx.alerts.maintenance() if r[0] == wid]
        if row and _local(row[0][2], "start").timestamp() > time.time():
            remove_window(ctx.alerts, config_ids, wid)  # not begun: ending it means cancelling it
            action = "maintenance-cancel"
        else:
            end_window(ctx.alerts, config_ids, wid, time.time())
            action = "maintenance-end"
    except MaintenanceError as e:
        return _back("maint_bad", str(e))
    ctx.users.audit(user_of(request).name, action, wid)
    return _back("maint_ended")


handlers = [maintenance_page, add_window, edit_window, end_now]
