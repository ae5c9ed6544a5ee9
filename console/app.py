"""The console's ASGI app: Litestar with server-side sessions, CSRF, a login rate limit and Jinja pages.

One app serves the pages and the machine endpoints (/healthz, /metrics, /status from collector.http),
so the daemon needs one port. Pages live in console/pages/*; this module wires them.
"""

from __future__ import annotations

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
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig

from collector.http import status_router
from console.auth import RotatingSessionConfig, client_address, current_user
from console.context import ConsoleContext
from console.render import CSP, MAP_CSP, jst, page
from console.sessions import SqliteSessionStore, load_keys
from core.logs import kv

__all__ = ["CSP", "MAP_CSP", "create_app", "jst", "page"]  # page, jst: console.render (kept importable here)

log = logging.getLogger("wifiwatch.console")

HERE = Path(__file__).resolve().parent
MACHINE = ("/healthz", "/metrics", "/status")


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


async def _security_headers(response: Response[Any]) -> Response[Any]:
    if "content-security-policy" not in {k.lower() for k in response.headers}:
        response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def create_app(ctx: ConsoleContext) -> Litestar:
    from console.pages import (
        admin,
        alert_settings,
        devices,
        incidents,
        login,
        maintenance,
        mapview,
        planning,
        reports,
        status,
        visitors,  # 利用分析 (issue 24)
    )

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
            *reports.handlers, *planning.handlers, *mapview.handlers, *admin.handlers, *alert_settings.handlers,
            *visitors.handlers,
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
