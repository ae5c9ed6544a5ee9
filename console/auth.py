"""Who is asking: the session (Litestar's server-side sessions), optional trusted-header single sign-on,
and the guards that turn "not logged in" into a redirect to /login and "not allowed" into 403.

Sessions, CSRF and rate limits are Litestar's, password hashes argon2's (console/users.py). Two additions:
rotating the session id at login (session fixation): the library keeps an id for as long as its cookie lives,
so on login the old id's data is deleted and a fresh random id (the library's generator) is issued; and the
session's own record of who it belongs to (user id, credential version, when it was made: console/sessions.py),
checked at every request, so a password or role change, a removal or the absolute lifetime ends it at once.
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

from console.sessions import new_session, session_user
from console.users import User

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
    settings = ctx.inventory().console
    session = connection.scope.get("session")
    if isinstance(session, dict) and session:
        user = session_user(ctx.users, session, settings.session_lifetime_h * 3600)
        if user is not None:
            return cast(User, user)
        connection.clear_session()  # removed, changed or too old: the row goes and the cookie is emptied
    if settings.trusted_header:
        claimed = connection.headers.get(settings.trusted_header)
        peer = connection.client.host if connection.client else None
        if claimed and _trusted(peer, settings.trusted_proxies):
            user = ctx.users.get(claimed.strip())
            if user is not None:
                rotate_session(connection)
                connection.set_session(new_session(user, client_address(connection)))
                ctx.users.audit(user.name, "login-sso", detail=f"header {settings.trusted_header} from {peer}")
                return cast(User, user)
    return None


def log_in(connection: ASGIConnection[Any, Any, Any, Any], user: User) -> None:
    """Start a session for ``user`` under a fresh id (after a successful password check)."""
    connection.app.state.console.users.prune_sessions()  # expired and revoked rows go now and then
    rotate_session(connection)
    connection.set_session(new_session(user, client_address(connection)))


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
