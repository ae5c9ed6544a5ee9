"""Who is asking: the session (Litestar's server-side sessions), optional trusted-header single sign-on,
and the guards that turn "not logged in" into a redirect to /login and "not allowed" into 403.

Nothing here hashes, signs or compares secrets by hand: sessions, CSRF and rate limits are Litestar's,
password hashes argon2's (console/users.py). The one addition is rotating the session id at login
(session fixation): the library keeps an id for as long as its cookie lives, so on login the old id's
data is deleted and a fresh random id (the library's generator) is issued.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, ScopeSession

from console.users import User

SESSION_USER = "user"
_ROTATE = "wifiwatch.rotate_session"
_NEW_ID = "wifiwatch.new_session_id"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id changes when :func:`rotate_session` was called during the request."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        scope = cast(dict[str, Any], connection.scope)
        if scope.get(_ROTATE):
            if _NEW_ID not in scope:
                scope[_NEW_ID] = self.generate_session_id()
            return str(scope[_NEW_ID])
        return super().get_session_id(connection)

    async def store_in_message(self, scope_session: ScopeSession, message: Message,
                               connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        scope = cast(dict[str, Any], connection.scope)
        old = connection.cookies.get(self.config.key)
        if scope.get(_ROTATE) and old and old != "null":
            await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    cast(dict[str, Any], connection.scope)[_ROTATE] = True


def _trusted(peer: str | None, proxies: list[str]) -> bool:
    if not peer:
        return False
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for p in proxies:
        try:
            if addr in ipaddress.ip_network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who is asking, for the login rate limit: the peer, or behind a trusted proxy the address it appended to
    X-Forwarded-For (else every user behind the proxy would share one limit)."""
    peer = connection.client.host if connection.client else ""
    forwarded = connection.headers.get("x-forwarded-for")
    if forwarded and _trusted(peer, connection.app.state.console.inventory().console.trusted_proxies):
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The logged-in user, or one named by the trusted SSO header from a trusted proxy (then logged in)."""
    ctx = connection.app.state.console
    session = connection.scope.get("session")
    name = session.get(SESSION_USER) if isinstance(session, dict) else None
    if name:
        return cast(User | None, ctx.users.get(name))  # a removed user is logged out at the next request
    settings = ctx.inventory().console
    if settings.trusted_header:
        claimed = connection.headers.get(settings.trusted_header)
        peer = connection.client.host if connection.client else None
        if claimed and _trusted(peer, settings.trusted_proxies):
            user = ctx.users.get(claimed.strip())
            if user is not None:
                rotate_session(connection)
                connection.set_session({SESSION_USER: user.name})
                ctx.users.audit(user.name, "login-sso", detail=f"header {settings.trusted_header} from {peer}")
                return cast(User, user)
    return None


def logged_in(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: a user is logged in, and may do what the handler's ``opt["can"]`` names (if anything)."""
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("login required")
    cast(dict[str, Any], connection.scope)["wifiwatch.user"] = user
    need = handler.opt.get("can")
    if need and not user.can(need):
        raise PermissionDeniedException(f"role {user.role} may not {need}")


def user_of(connection: ASGIConnection[Any, Any, Any, Any]) -> User:
    return cast(User, cast(dict[str, Any], connection.scope)["wifiwatch.user"])
