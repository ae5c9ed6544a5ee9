"""``/healthz``, ``/status`` (collector.status) and Prometheus ``/metrics`` on an ASGI server (uvicorn) in its
own thread.

uvicorn serves every connection from one event loop (no thread per connection, which a few slow clients
could exhaust), with a connection limit, a keep-alive timeout and a deadline for each request head. The
endpoints are a Litestar router, so the web console (``console/``, a layer above) mounts the same router in
its app and the daemon serves both from one port. Off loopback a bearer token is required (the config
refuses a non-loopback bind without one), since the metrics name every AP and its error counts.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from litestar import Litestar, MediaType, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.metrics import REGISTRY
from core.netbind import parse_bind

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 200  # beyond this uvicorn answers 503 at once instead of queueing
KEEPALIVE_S = 5
HEADER_TIMEOUT_S = 10.0  # a request head not complete this long after connecting (or the last response): closed


def header_timeout_protocol(timeout_s: float = HEADER_TIMEOUT_S) -> type[Any]:
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head.

    uvicorn times out idle keep-alive connections but not a client that sends a request head slowly (slowloris);
    such clients would fill the connection limit. This closes a connection whose head is not complete within
    ``timeout_s`` of connecting or of its previous response; the rest is uvicorn's.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadlineH11(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(timeout_s, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadDeadlineH11


def status_router(health: Callable[[], dict[str, object]], status: Callable[[], dict[str, Any]] | None = None,
                  token: str | None = None) -> Router:
    """The machine endpoints: ``/healthz`` (200 or 503 with JSON), ``/metrics`` and, when given, ``/status``."""

    def bearer(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if token is None:
            return
        got = connection.headers.get("Authorization", "")
        if not hmac.compare_digest(got.encode(), f"Bearer {token}".encode()):
            raise NotAuthorizedException("unauthorized")

    @get("/healthz", sync_to_thread=False)
    def healthz() -> Response[dict[str, object]]:
        body = health()
        return Response(body, status_code=200 if body.get("ok") else 503, media_type=MediaType.JSON)

    @get("/metrics", sync_to_thread=False)
    def metrics() -> Response[bytes]:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    handlers: list[Any] = [healthz, metrics]
    if status is not None:
        @get("/status", sync_to_thread=True)
        def status_json() -> Response[dict[str, Any]]:
            try:
                return Response(status(), media_type=MediaType.JSON)
            except Exception as e:  # noqa: BLE001 - e.g. a damaged store: say so, /healthz says more
                log.warning("status unavailable: %s", e)
                return Response({"error": f"status unavailable: {type(e).__name__}: {e}"}, status_code=503,
                                media_type=MediaType.JSON)

        handlers.append(status_json)
    return Router(path="/", route_handlers=handlers, guards=[bearer], include_in_schema=False)


def status_app(health: Callable[[], dict[str, object]], status: Callable[[], dict[str, Any]] | None = None,
               token: str | None = None) -> Litestar:
    """The endpoints alone (daemon without the console, tests)."""
    return Litestar(route_handlers=[status_router(health, status, token)], openapi_config=None,
                    logging_config=None)


def bind_socket(bind: str, port: int) -> socket.socket:
    """A listening TCP socket for ``bind`` (IPv4 or IPv6 literal, or a name) and ``port``; OSError if it cannot,
    core.netbind.BindError (a ValueError) if ``bind`` is no address."""
    where = parse_bind(bind)  # the same parsing as check-config; an IPv6 address gets an IPv6 socket
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the socket says it is TCP;
    # without it Nagle meets the client's delayed ACK and every kept-alive request after the first waits 40 ms.
    sock = socket.socket(where.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((where.listen_host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class StatusServer:
    """An ASGI app on uvicorn in a background thread; ``app`` defaults to the machine endpoints alone."""

    def __init__(self, bind: str, port: int, health: Callable[[], dict[str, object]], token: str | None = None,
                 status: Callable[[], dict[str, Any]] | None = None, app: Any = None,
                 header_timeout_s: float = HEADER_TIMEOUT_S):
        import uvicorn

        self.sock = bind_socket(bind, port)  # bound here, so a busy port fails the caller, not the thread
        self.app = app if app is not None else status_app(health, status, token)
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="on",
                                http=header_timeout_protocol(header_timeout_s),
                                limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=KEEPALIVE_S,
                                timeout_graceful_shutdown=3, server_header=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except Exception:
            log.exception("HTTP server stopped with an error")

    def start(self) -> None:
        """Returns at once: the socket already listens, so early connections wait in its backlog."""
        self._thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(5.0)
        self.sock.close()
