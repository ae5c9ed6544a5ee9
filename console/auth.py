"""Who is asking: the session (Litestar's server-side sessions), optional trusted-header single sign-on,
and the guards that turn "not logged in" into a redirect to /login and "not allowed" into 403.

Sessions, CSRF and rate limits are Litestar's, password hashes argon2's (console/users.py). Two additions:
rotating the session id at login (session fixation): the library keeps an id for as long as its cookie lives,
so on login the old id's data is deleted and a fresh random id (the library's generator) is issued; and the
session's own record of who it belongs to (user id, credential version, when it was made: console/sessions.py),
checked at every request, so a password or role change, a removal or the absolute lifetime ends it at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from litestar.concurrency import sync_to_thread
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
        raise PermissionDeniedException(f"role {user.role} may not {need}", extra={"role": user.role, "need": need})


def user_of(connection: ASGIConnection[Any, Any, Any, Any]) -> User:
    return cast(User, cast(dict[str, Any], connection.scope)["wifiwatch.user"])


# -- a global bound on password hashing (issue 26.7) ----------------------------------------------------
# argon2 verifications at once: each takes 64 MiB and about 0.17 CPU s (four lanes, so it can fill two cores).
# One: a small collector has two cores and polling must keep its share; one at a time still verifies several
# logins a second, more than a city's staff ever send.
HASH_SLOTS = 1
HASH_QUEUE = 8  # logins waiting for the slot (on the event loop, holding no thread); beyond it: 503 at once
BACKOFF_AFTER = 5  # failed logins for one user name before each further try must wait
BACKOFF_MAX_S = 300.0


class LoginRefused(Exception):
    """A login not even tried: ``key`` names the message (console/i18n.py), ``status`` the HTTP status."""

    def __init__(self, key: str, status: int):
        super().__init__(key)
        self.key, self.status = key, status


class HashGate:
    """At most ``slots`` password verifications at once in the whole process, ``queue`` more waiting, and a
    per-account back-off: after ``BACKOFF_AFTER`` failures for one user name, each further try waits 1, 2, 4 ...
    s (at most ``BACKOFF_MAX_S``), refused without hashing before then.

    The login rate limit is per address, so 40 addresses at once cost 40 x 64 MiB and 6.6 CPU s. Here any
    number cost at most ``slots`` x 64 MiB at a time; ``queue`` more wait, the rest are refused at once. Waiting
    happens on the event loop: a login waiting in a worker thread would hold one of the few threads that every
    other page of the console runs in (Litestar's sync handlers share asyncio's default executor, 6 threads on
    two cores), and 100 logins then stalled the whole console for 17 s. The back-off applies to names whether
    they exist or not (it must not tell which do); a success clears it. The name table is bounded.
    """

    def __init__(self, slots: int = HASH_SLOTS, queue: int = HASH_QUEUE, max_names: int = 10_000):
        self.slots, self.queue, self.max_names = slots, queue, max_names
        self._sem: asyncio.Semaphore | None = None  # made on the server's loop at the first login
        self._waiting = 0
        self.active = self.peak = 0  # verifications running now, and the most at once (bench, tests)
        self._fails: OrderedDict[str, tuple[int, float]] = OrderedDict()  # name -> (failures, not before)

    async def verify(self, check: Callable[[str, str], Any], name: str, password: str) -> Any:
        """``check(name, password)`` (console.users.UserStore.verify, in a worker thread) within the bounds;
        LoginRefused when the queue is full or the name is backing off."""
        key = name.casefold()[:64]
        if time.monotonic() < self._fails.get(key, (0, 0.0))[1]:
            raise LoginRefused("login_backoff", 429)
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.slots)
        if self._sem.locked() and self._waiting >= self.queue:
            raise LoginRefused("login_busy", 503)
        self._waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self._waiting -= 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            user = await sync_to_thread(check, name, password)
        finally:
            self.active -= 1
            self._sem.release()
        if user is not None:
            self._fails.pop(key, None)
        else:
            n = self._fails.pop(key, (0, 0.0))[0] + 1
            wait = min(BACKOFF_MAX_S, 2.0 ** (n - BACKOFF_AFTER)) if n >= BACKOFF_AFTER else 0.0
            self._fails[key] = (n, time.monotonic() + wait)
            while len(self._fails) > self.max_names:
                self._fails.popitem(last=False)
        return user


async def verify_login(connection: ASGIConnection[Any, Any, Any, Any], name: str, password: str) -> User | None:
    """The user for this name and password through the app's HashGate; LoginRefused when it is busy or the
    name is backing off."""
    ctx = connection.app.state.console
    gate: HashGate = connection.app.state.hash_gate
    return cast(User | None, await gate.verify(ctx.users.verify, name, password))
