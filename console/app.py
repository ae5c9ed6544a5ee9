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
    HTTPException,
    InternalServerException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from collector.http import LOG_BUDGET, add_headers, status_router
from console.auth import HashGate, RotatingSessionConfig, client_address, current_user
from console.context import ConsoleContext
from console.i18n import translator
from console.render import CSP, MAP_CSP, jst, page
from console.sessions import SqliteSessionStore, load_keys
from core.logs import kv

__all__ = ["CSP", "MAP_CSP", "create_app", "jst", "page"]  # page, jst: console.render (kept importable here)

log = logging.getLogger("wifiwatch.console")

HERE = Path(__file__).resolve().parent
MACHINE = ("/healthz", "/metrics", "/status")
# Every console form (login, maintenance, rota, users) is far below this and no route takes an upload, so one
# limit holds for all: Litestar checks it from Content-Length and again while streaming, whoever reads the body
# first (the CSRF middleware reads the form before any guard: 190 x 10 MB unauthenticated POSTs took 1.6 GB).
FORM_MAX_BYTES = 16 * 1024
DISCONNECTED = "client disconnected prematurely"  # Litestar's detail when the client leaves mid-body


def _not_authorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    if request.url.path in MACHINE:
        return Response("unauthorized\n", status_code=401, media_type="text/plain")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}" if request.method == "GET" and target != "/"
                    else "/login", status_code=303)


def _forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    """The refusal in the user's words: which role may not do what (the guards put both in ``extra``)."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    user = current_user(request)
    t = translator(user.lang if user is not None else "ja")
    detail = (t("forbidden_detail").format(role=t(f"role_{extra['role']}"), need=t(f"can_{extra['need']}"))
              if "role" in extra and "need" in extra else "")
    return page(request, "error.html", status_code=403, message_key="forbidden", detail=detail)


def _not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    user = current_user(request)
    if request.url.path in MACHINE or user is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    # the handlers' details are English ("no AP 'x'"): shown to an English reader only
    return page(request, "error.html", status_code=404, message_key="not_found",
                detail=str(exc.detail) if user.lang == "en" else "")


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "-"


def _refusal(request: Request[Any, Any, Any], status_code: int, key: str, detail: str = "",
             headers: dict[str, str] | None = None) -> Response[Any]:
    """A client's mistake: the error page for a logged-in user, one plain line otherwise (no session needed)."""
    user = current_user(request) if request.url.path not in MACHINE else None
    if user is None:
        text = translator("ja")(key) + (f" {detail}" if detail else "")
        return Response(text + "\n", status_code=status_code, media_type="text/plain; charset=utf-8",
                        headers=headers)
    resp = page(request, "error.html", status_code=status_code, message_key=key, detail=detail)
    resp.headers.update(headers or {})
    return resp


def _bad_request(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    LOG_BUDGET.log(log, logging.INFO, _client(request), "refused a malformed request", extra=kv(
        path=request.url.path[:200], method=request.method, client=_client(request)))
    return _refusal(request, 400, "bad_request")


def _method_not_allowed(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _refusal(request, 405, "method_not_allowed", headers=exc.headers)


def _too_large(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """413 before the body is read past the limit; the connection closes, so the rest is never read."""
    LOG_BUDGET.log(log, logging.INFO, _client(request), "refused a request body over the limit", extra=kv(
        path=request.url.path[:200], method=request.method, client=_client(request),
        length=request.headers.get("content-length", "-")[:20]))
    text = translator("ja")("too_large").format(limit=f"{FORM_MAX_BYTES // 1024} KB")  # no session read for it
    return Response(text + "\n", status_code=413, media_type="text/plain; charset=utf-8",
                    headers={"Connection": "close"})


def _out_of_range(request: Request[Any, Any, Any], exc: OverflowError) -> Response[Any]:
    """A number in the path or form past what the store holds (SQLite raises OverflowError): no such thing."""
    LOG_BUDGET.log(log, logging.INFO, _client(request), "refused an out-of-range number", extra=kv(
        path=request.url.path[:200], method=request.method, client=_client(request)))
    return _refusal(request, 404, "not_found")


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug: logged with its traceback (the log, never the page, gets the details), within the client's log
    budget. A client that left mid-body is no bug: one short line, and nobody to answer."""
    if isinstance(exc, InternalServerException) and exc.detail == DISCONNECTED:
        LOG_BUDGET.log(log, logging.INFO, _client(request), "client left mid-request", extra=kv(
            path=request.url.path[:200], method=request.method, client=_client(request)))
        return Response("", status_code=400, headers={"Connection": "close"})
    LOG_BUDGET.log(log, logging.ERROR, _client(request), "console request failed", exc_info=exc,
                   extra=kv(path=request.url.path[:200], method=request.method))
    if request.url.path in MACHINE:
        return Response("internal error\n", status_code=500, media_type="text/plain")
    return page(request, "error.html", status_code=500, message_key="internal_error", detail="")


def _too_many(request: Request[Any, Any, Any], exc: TooManyRequestsException) -> Response[Any]:
    return page(request, "login.html", status_code=429, error="too_many", next="/")


_PAGE_HEADERS = ((b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"SAMEORIGIN"))


def _security_headers(message: Message, scope: Scope) -> None:
    """Litestar's before_send hook sees every response the app sends (pages, redirects, files and the ones
    exception handlers make: 403, 404, 405, 413, 429, 500), unlike an after_request hook, which error pages
    bypass. A response that sets its own CSP (the map, a report file) keeps it."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers") or [])
        add_headers(headers, _PAGE_HEADERS)
        message["headers"] = headers


def create_app(ctx: ConsoleContext) -> Litestar:
    from console.pages import (
        admin,
        alert_settings,
        cluster,  # 収集グループ (issue 25): 404 unless [cluster] redis
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
            *visitors.handlers, *cluster.handlers,
        ],
        middleware=[sessions.middleware, limit.middleware],
        csrf_config=csrf,
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, gzip_compress_level=6),
        stores={"sessions": session_store, "rate_limit": MemoryStore()},
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        exception_handlers={NotAuthorizedException: _not_authorized, PermissionDeniedException: _forbidden,
                            NotFoundException: _not_found, TooManyRequestsException: _too_many,
                            HTTP_400_BAD_REQUEST: _bad_request, HTTP_405_METHOD_NOT_ALLOWED: _method_not_allowed,
                            HTTP_413_REQUEST_ENTITY_TOO_LARGE: _too_large, OverflowError: _out_of_range,
                            HTTP_500_INTERNAL_SERVER_ERROR: _internal},
        request_max_body_size=FORM_MAX_BYTES,
        openapi_config=None,
        before_send=[_security_headers],
        logging_config=None,  # the daemon's key=value logging (core.logs) stays in charge
        on_shutdown=[ctx.close],
    )
    app.state.console = ctx
    app.state.hash_gate = HashGate()  # one bound on password hashing for the whole process
    return app
