"""Rendering a console page: the template context every page needs (user, words, city, nav, state words and
colours from core.state, the monitor's data age). Pages import this module, never console.app, so the app
(which wires the pages) and the pages import one way only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request
from litestar.response import Template

from console.auth import current_user
from console.i18n import STATE_KEYS, translator
from core import state as st
from core.maintenance import JST

# The console's own pages run no inline script (console.js is a file); the map page (folium) needs its inline one.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "frame-ancestors 'self'; form-action 'self'; base-uri 'none'")
MAP_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "script-src 'self' 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'")


def jst(ts: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts, JST).strftime(fmt)


def page(request: Request[Any, Any, Any], name: str, status_code: int = 200, **ctx: Any) -> Template:
    """A page with what every template needs: the user, their language's words, the city, the nav, and (for a
    logged-in user) whether the monitor's data is live, so every page says so when it is not."""
    user = current_user(request)
    lang = user.lang if user is not None else "ja"
    console = request.app.state.console
    inv = console.inventory()
    monitor = console.monitor() if user is not None and hasattr(console, "monitor") else None
    return Template(template_name=name, status_code=status_code, context={
        "user": user, "lang": lang, "t": translator(lang), "city": inv.city_ja if lang == "ja" else inv.city_en,
        "path": request.url.path, "state_key": STATE_KEYS, "jst": jst, "st": st, "monitor": monitor,
        "group_nav": inv.cluster.redis is not None, **ctx})
