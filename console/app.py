"""The console's ASGI app: Litestar with server-side sessions, CSRF, a login rate limit and Jinja pages.

One app serves the pages and the machine endpoints (/healthz, /metrics, /status from collector.http),
so the daemon needs one port. Pages live in console/pages/*; this module wires them.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig

from collector.http import status_router
from console.auth import RotatingSessionConfig, client_address, current_user
from console.context import ConsoleContext
from console.i18n import STATE_KEYS, translator
from console.sessions import SqliteSessionStore, load_keys
from core.logs import kv
from core.maintenance import JST

log = logging.getLogger("wifiwatch.console")

HERE = Path(__file__).resolve().parent
MACHINE = ("/healthz", "/metrics", "/status")


def jst(ts: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts, JST).strftime(fmt)


def page(request: Request[Any, Any, Any], name: str, status_code: int = 200, **ctx: Any) -> Template:
    """A page with what every template needs: the user, their language's words, the city, the nav."""
    user = current_user(request)
    lang = user.lang if user is not None else "ja"
    inv = request.app.state.console.inventory()
    return Template(template_name=name, status_code=status_code, context={
        "user": user, "lang": lang, "t": translator(lang), "city": inv.city_ja if lang == "ja" else inv.city_en,
        "path": request.url.path, "state_key": STATE_KEYS, "jst": jst, **ctx})


def _not_authorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    if request.url.path in MACHINE:
        return Response("unauthorized\n", status_code=401, media_type="text/plain")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}" if request.method == "GET" and target != "/"
                    else "/login", status_code=303)


def _forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    return page(request, "error.html", status_code=403, message_key="forbidden", detail=str(exc.detail))


def _not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    if request.url.path in MACHINE or current_user(request) is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    return page(request, "error.html", status_code=404, message_key="not_found", detail=str(exc.detail))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug: logged with its traceback (the log, never the page, gets the details)."""
    log.error("console request failed", exc_info=exc, extra=kv(path=request.url.path, method=request.method))
    if request.url.path in MACHINE:
        return Response("internal error\n", status_code=500, media_type="text/plain")
    return page(request, "error.html", status_code=500, message_key="internal_error", detail="")


def _too_many(request: Request[Any, Any, Any], exc: TooManyRequestsException) -> Response[Any]:
    return page(request, "login.html", status_code=429, error="too_many", next="/")


# The console's own pages run no inline script (console.js is a file); the map page (folium) needs its inline one.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "frame-ancestors 'self'; form-action 'self'; base-uri 'none'")
MAP_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "script-src 'self' 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'")


async def _security_headers(response: Response[Any]) -> Response[Any]:
    if "content-security-policy" not in {k.lower() for k in response.headers}:
        response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def create_app(ctx: ConsoleContext) -> Litestar:
    from console.pages import admin, devices, incidents, login, maintenance, mapview, planning, reports, status

    settings = ctx.inventory().console
    idle_s = int(settings.idle_timeout_min * 60)
    sessions = RotatingSessionConfig(key="wifiwatch_session", max_age=idle_s, renew_on_access=True,
                                     secure=settings.secure_cookies, samesite="strict", httponly=True)
    keys = load_keys(Path(ctx.inventory().store.path))  # kept beside the store: a restart logs nobody out
    session_store = SqliteSessionStore(ctx.users, keys.session, settings.session_lifetime_h * 3600)
    csrf = CSRFConfig(secret=keys.csrf, cookie_name="wifiwatch_csrf", cookie_secure=
                      settings.secure_cookies, cookie_samesite="strict", exclude=list(MACHINE))
    limit = RateLimitConfig(rate_limit=("minute", settings.login_attempts_per_min), set_rate_limit_headers=False,
                            identifier_for_request=client_address,
                            check_throttle_handler=lambda r: r.method == "POST" and r.url.path == "/login")
    app = Litestar(
        route_handlers=[
            status_router(ctx.health or (lambda: {"ok": True}), ctx.status, ctx.token),
            create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False),
            *login.handlers, *status.handlers, *devices.handlers, *incidents.handlers, *maintenance.handlers,
            *reports.handlers, *planning.handlers, *mapview.handlers, *admin.handlers,
        ],
        middleware=[sessions.middleware, limit.middleware],
        csrf_config=csrf,
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, gzip_compress_level=6),
        stores={"sessions": session_store, "rate_limit": MemoryStore()},
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        exception_handlers={NotAuthorizedException: _not_authorized, PermissionDeniedException: _forbidden,
                            NotFoundException: _not_found, TooManyRequestsException: _too_many,
                            HTTP_500_INTERNAL_SERVER_ERROR: _internal},
        openapi_config=None,
        after_request=_security_headers,
        logging_config=None,  # the daemon's key=value logging (core.logs) stays in charge
        on_shutdown=[ctx.close],
    )
    app.state.console = ctx
    return app
