"""通知設定 (admin): the alert channels, thresholds and escalation as the inventory file declares them, edited
here through core.config_edit (validated as the daemon loads it, written atomically, the daemon reloaded), and
a test message through any channel with its result shown. Secrets are shown and taken as references only."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from collector.alerts import rota
from console.auth import logged_in, user_of
from console.render import page
from core.config_edit import SECRET_FIELDS, THRESHOLDS, EditError, remove_channel, set_thresholds, upsert_channel
from core.logs import kv
from core.secrets import SecretResolver

log = logging.getLogger("wifiwatch.console")
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
MAX_FIELD = 500


def _back(msg: str, detail: str = "", anchor: str = "") -> Redirect:
    q = f"/admin/alerts?msg={msg}" + (f"&detail={quote(detail[:300])}" if detail else "")
    return Redirect(q + (f"#{anchor}" if anchor else ""), status_code=303)


def _config_path(request: Request[Any, Any, Any]) -> Path | None:
    return getattr(request.app.state.console, "config_path", None)


def _refused(request: Request[Any, Any, Any], e: EditError) -> Redirect:
    lang = user_of(request).lang
    return _back("alerts_bad", " / ".join(f"{p.field}: {p.text(lang).split(': ', 3)[-1]}" for p in e.problems[:3]))


def _applied(request: Request[Any, Any, Any]) -> str:
    """Have the daemon re-read the file; ``wifiwatch web`` has none in its process, and says so."""
    reload = getattr(request.app.state.console, "reload", None)
    if reload is None:
        return "alerts_saved_file"
    reload()
    return "alerts_saved"


def _form(data: dict[str, str]) -> dict[str, str]:
    return {k: v[:MAX_FIELD] for k, v in data.items() if not k.startswith("_")}


@get("/admin/alerts", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def alert_settings_page(request: Request[Any, Any, Any], msg: str = "", detail: str = "", edit: str = "") -> Template:
    ctx = request.app.state.console
    a = ctx.inventory().alerts
    with ctx.alerts.tx() as c:
        shifts = rota.shifts(c)
    channels = [{"name": ch.name, "type": ch.type, "lang": ch.lang, "min_severity": ch.min_severity,
                 "site_kinds": [k.value for k in ch.site_kinds], "to": ch.to, "smtp_host": ch.smtp_host,
                 "smtp_port": ch.smtp_port, "sender": ch.sender, "starttls": ch.starttls, "verify_tls": ch.verify_tls,
                 # a reference names where the secret lives (env:NAME, file:KEY); the value is never read here
                 **{f: (str(getattr(ch, f)) if getattr(ch, f) is not None else "") for f in SECRET_FIELDS}}
                for ch in a.channels]
    current = next((c for c in channels if c["name"] == edit), None)
    return page(request, "alert_settings.html", alerts=a, thresholds=[(k, getattr(a, k)) for k in THRESHOLDS],
                channels=channels, current=current, shifts=shifts, editable=_config_path(request) is not None,
                msg=msg, detail=detail)


@post("/admin/alerts/thresholds", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def save_thresholds(request: Request[Any, Any, Any], data: Form) -> Redirect:
    path = _config_path(request)
    if path is None:
        return _back("alerts_readonly")
    try:
        changed = set_thresholds(path, _form(data))
    except EditError as e:
        return _refused(request, e)
    request.app.state.console.users.audit(user_of(request).name, "alert-thresholds", "alerts",
                                          ", ".join(f"{k} {o} -> {n}" for k, (o, n) in changed.items()))
    return _back(_applied(request))


@post("/admin/alerts/channels", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def save_channel(request: Request[Any, Any, Any], data: Form) -> Redirect:
    path = _config_path(request)
    if path is None:
        return _back("alerts_readonly")
    form = _form(data)
    try:
        created = upsert_channel(path, form)
    except EditError as e:
        return _refused(request, e)
    name = form.get("name", "")
    # the audit names the fields set, never their values: a reference is not secret, but a slip would be
    request.app.state.console.users.audit(user_of(request).name, "channel-add" if created else "channel-edit", name,
                                          ", ".join(sorted(k for k, v in form.items() if v and k != "name")))
    return _back(_applied(request), anchor="channels")


@post("/admin/alerts/channels/{name:str}/remove", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def delete_channel(request: Request[Any, Any, Any], name: str) -> Redirect:
    path = _config_path(request)
    if path is None:
        return _back("alerts_readonly")
    try:
        remove_channel(path, name[:64])
    except EditError as e:
        return _refused(request, e)
    request.app.state.console.users.audit(user_of(request).name, "channel-remove", name[:64])
    return _back(_applied(request), anchor="channels")


@post("/admin/alerts/channels/{name:str}/test", guards=[logged_in], opt={"can": "users"}, sync_to_thread=True)
def test_channel(request: Request[Any, Any, Any], name: str) -> Redirect:
    from collector.alerts.engine import AlertEngine
    from collector.alerts.notify import DeliveryError

    ctx = request.app.state.console
    inv = ctx.inventory()
    name = name[:64]
    if name not in {c.name for c in inv.alerts.channels}:
        return _back("alerts_bad", name, anchor="channels")
    resolver = getattr(ctx, "resolver", None) or SecretResolver(inv.secrets_file)
    eng = AlertEngine(inv, Path(inv.store.path), resolver)
    try:
        eng.send_test(name)
        outcome, detail = "alerts_test_ok", name
    except DeliveryError as e:
        outcome, detail = "alerts_test_failed", f"{name}: {e}"
        log.warning("test alert not delivered", extra=kv(channel=name, error=str(e)[:200]))
    finally:
        eng.close()
    ctx.users.audit(user_of(request).name, "alert-test", name, "sent" if outcome == "alerts_test_ok" else "failed")
    return _back(outcome, detail, anchor="channels")


handlers = [alert_settings_page, save_thresholds, save_channel, delete_channel, test_channel]
