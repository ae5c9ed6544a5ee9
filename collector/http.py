"""``/healthz``, ``/status`` (collector.status) and Prometheus ``/metrics`` on an ASGI server (uvicorn) in its
own thread.

uvicorn serves every connection from one event loop (no thread per connection, which a few slow clients
could exhaust). A client on the LAN must not be able to take the server from the others or from the monitoring
system (issue 26.1): each whole request has a deadline and a body a minimum rate, one address holds a bounded
share of the connections, and a reserve beyond the pool answers only /healthz and /metrics. Refusals carry a
reason and the strict security headers; what one client makes the server log is rate-limited. The
endpoints are a Litestar router, so the web console (``console/``, a layer above) mounts the same router in
its app and the daemon serves both from one port. Off loopback a bearer token is required (the config
refuses a non-loopback bind without one), since the metrics name every AP and its error counts.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, MediaType, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.metrics import REGISTRY
from core.netbind import parse_bind

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 200  # the pool every request may use; beyond it only RESERVED_PATHS are answered
RESERVE = 24  # connections beyond MAX_CONNECTIONS kept for the monitoring system's scrapes
RESERVED_PATHS = frozenset({"/healthz", "/metrics"})
PER_ADDRESS = 32  # one client address's share of all connections (a browser opens 6; a few behind one NAT fit)
RESERVE_PER_ADDRESS = 2  # one address's share of the reserve (a monitoring system scrapes with one or two)
KEEPALIVE_S = 5
HEADER_TIMEOUT_S = 10.0  # a request (head and body) not complete this long after it began: closed
RESERVE_HEAD_TIMEOUT_S = 2.0  # the same for a connection accepted into the reserve (a scrape is one short head)
MIN_BODY_RATE = 2048.0  # bytes/s a request body must average once its head is in (after a second's grace)
LOG_LINES_PER_MIN = 6  # per client address: what one client can add to the log

# Every response carries these unless it sets its own (console/app.py sets its CSP on its pages).
STRICT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"))


def add_headers(headers: list[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...]) -> None:
    """Add each of ``extra`` that ``headers`` (an ASGI response's, lower-case names) does not set itself."""
    have = {k.lower() for k, _ in headers}
    headers.extend((k, v) for k, v in extra if k not in have)


def _canned(status: int, reason: str, text: str) -> bytes:
    """A whole refusal, written before any request is read: the client gets a reason, not a reset."""
    body = text.encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: text/plain; charset=utf-8", f"content-length: {len(body)}",
            "connection: close", "retry-after: 5", *(f"{k.decode()}: {v.decode()}" for k, v in STRICT_HEADERS)]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


BUSY_TEXT = "混雑しています。しばらくしてから再度お試しください。 (busy, try again shortly)\n"
BUSY = _canned(503, "Service Unavailable", BUSY_TEXT)
TOO_MANY_CONNECTIONS = _canned(429, "Too Many Requests",
                               "この端末からの接続が多すぎます。 (too many connections from this address)\n")


class LogBudget:
    """At most ``per_min`` log lines per client address and minute; the rest are counted and mentioned once.

    A client's mistakes (a disconnect mid-body, a malformed request, a bad form) are logged for the operator,
    but one client must not be able to fill the disk or drown the lines that matter. At most ``max_clients``
    addresses are tracked; beyond that the table starts over.
    """

    def __init__(self, per_min: int = LOG_LINES_PER_MIN, max_clients: int = 4096):
        self.per_min, self.max_clients = per_min, max_clients
        self._seen: dict[str, tuple[float, int, int]] = {}  # address -> (window start, lines, suppressed)
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> tuple[bool, int]:
        """(may log now, lines suppressed in this address's previous window, to mention once)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if client not in self._seen and len(self._seen) >= self.max_clients:
                self._seen.clear()
            start, lines, dropped = self._seen.get(client, (now, 0, 0))
            earlier = 0
            if now - start >= 60.0:
                start, lines, earlier, dropped = now, 0, dropped, 0
            ok = lines < self.per_min
            self._seen[client] = (start, lines + ok, dropped + (not ok))
            return ok, earlier

    def log(self, logger: logging.Logger, level: int, client: str, msg: str, *args: Any, **kw: Any) -> None:
        ok, earlier = self.allow(client)
        if ok:
            if earlier:
                msg, args = msg + " (%d earlier lines from %s suppressed)", (*args, earlier, client)
            logger.log(level, msg, *args, **kw)


LOG_BUDGET = LogBudget()


class _ClientLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """uvicorn's log lines about one connection ("Invalid HTTP request received.", an app that raised), within
    that client's budget and without a traceback: what a client did needs one line, not a stack."""

    def __init__(self, logger: logging.Logger, client: str):
        super().__init__(logger, {})
        self.client = client

    @property
    def level(self) -> int:  # uvicorn reads logger.level
        return self.logger.level

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        exc = kwargs.pop("exc_info", None)
        text = str(msg) % args if args else str(msg)
        if isinstance(exc, BaseException):
            text = f"{text} {type(exc).__name__}: {str(exc)[:200]}"
        LOG_BUDGET.log(self.logger, level, self.client, "%s (client %s)", text, self.client)


@dataclass
class Slots:
    """Who holds the server's connections: how many per address, and which were accepted into the reserve.

    Touched only from the server's event loop thread."""

    limit: int = MAX_CONNECTIONS
    reserve: int = RESERVE
    per_address: int = PER_ADDRESS
    reserve_per_address: int = RESERVE_PER_ADDRESS
    by_address: dict[str, int] = field(default_factory=dict)
    in_reserve: set[tuple[str, int]] = field(default_factory=set)
    total: int = 0
    # Addresses without a per-address share: a reverse proxy (the console's trusted_proxies) brings every
    # client from one address, so it must limit each client itself (nginx: limit_conn, client_body_timeout).
    exempt: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        nets = []
        for e in self.exempt:
            try:
                nets.append(ipaddress.ip_network(e, strict=False))
            except ValueError:
                continue
        self._exempt_nets = tuple(nets)

    def _shared(self, host: str) -> bool:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(addr in n for n in self._exempt_nets)

    def take(self, peer: tuple[str, int]) -> bytes | None:
        """Count a new connection, or return the refusal to write instead."""
        if self.by_address.get(peer[0], 0) >= self.per_address and self._shared(peer[0]):
            return TOO_MANY_CONNECTIONS
        if self.total >= self.limit + self.reserve:
            return BUSY
        if self.total >= self.limit and sum(p[0] == peer[0] for p in self.in_reserve) >= self.reserve_per_address:
            return BUSY
        self.total += 1
        self.by_address[peer[0]] = self.by_address.get(peer[0], 0) + 1
        if self.total > self.limit:
            self.in_reserve.add(peer)
        return None

    def give_back(self, peer: tuple[str, int]) -> None:
        self.total -= 1
        left = self.by_address.get(peer[0], 1) - 1
        if left > 0:
            self.by_address[peer[0]] = left
        else:
            self.by_address.pop(peer[0], None)
        self.in_reserve.discard(peer)


def guarded_protocol(slots: Slots, timeout_s: float = HEADER_TIMEOUT_S,
                     min_body_rate: float = MIN_BODY_RATE) -> type[Any]:
    """uvicorn's HTTP/1.1 protocol with a deadline for each whole request, a minimum body rate and a per-address
    share of the connections (``slots``).

    uvicorn times out idle keep-alive connections but not a client that sends a request head or body slowly;
    230 connections each sending a POST head and a byte every 5 s held every slot. Here a request (head and
    body) must be complete within ``timeout_s`` of its first byte (of connecting, or of the previous response),
    a body must average ``min_body_rate`` bytes/s after its first second (unless the app is not reading it), and
    one address holds at most ``slots.per_address`` connections: more are refused at once with 429. The time
    the app takes to answer is not limited (a report may take long): only what the client owes.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _peer: tuple[str, int] | None = None
        _began = 0.0
        _head_done = 0.0
        _body_bytes = 0

        def _arm(self, after: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(max(0.05, after), self._check)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _check(self) -> None:
            self._timer = None
            if self.transport.is_closing() or self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
                return  # nothing owed: the request is in (the app's time is its own) or the connection ends
            if self.conn.their_state is h11.IDLE and self.cycle is not None and not self.cycle.response_complete:
                return  # idle between requests only once the previous response is out (uvicorn's keep-alive)
            now = self.loop.time()
            deadline = RESERVE_HEAD_TIMEOUT_S if self._peer in slots.in_reserve else timeout_s
            body_for = now - self._head_done - 1.0
            slow_body = (self.conn.their_state is h11.SEND_BODY and not self.flow.read_paused and body_for > 0
                         and self._body_bytes < min_body_rate * body_for)
            if now - self._began >= deadline or slow_body:
                self.transport.close()  # an app reading the body sees http.disconnect
                return
            self._arm(min(1.0, self._began + deadline - now))

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            got = transport.get_extra_info("peername")
            peer = (str(got[0]), int(got[1])) if isinstance(got, tuple) else ("?", id(self))
            self.logger = _ClientLogger(self.logger, peer[0])  # type: ignore[assignment]
            refusal = slots.take(peer)
            if refusal is not None:
                transport.write(refusal)
                transport.close()
                return
            self._peer = peer
            self._began = self.loop.time()
            self._arm(min(1.0, RESERVE_HEAD_TIMEOUT_S))

        def data_received(self, data: bytes) -> None:
            idle = self.conn.their_state is h11.IDLE
            if idle and self._timer is None and not self.transport.is_closing():
                self._began = self.loop.time()  # the next request on a kept-alive connection begins
                self._arm(1.0)
            super().data_received(data)
            if self.conn.their_state is h11.SEND_BODY:
                if idle:
                    self._head_done, self._body_bytes = self.loop.time(), 0
                else:
                    self._body_bytes += len(data)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._peer is not None:
                self._began = self.loop.time()
                self._arm(1.0)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._peer is not None:
                slots.give_back(self._peer)
                self._peer = None
            super().connection_lost(exc)

    return GuardedH11


def header_timeout_protocol(timeout_s: float = HEADER_TIMEOUT_S) -> type[Any]:
    """The guarded protocol with a pool of its own."""
    return guarded_protocol(Slots(), timeout_s)


class Admission:
    """ASGI wrapper: on a connection accepted into the reserve, only RESERVED_PATHS are served (503 otherwise),
    so a full pool still leaves the monitoring system its /healthz and /metrics. Every response it passes on
    gets STRICT_HEADERS where the app set none of its own."""

    def __init__(self, app: Any, slots: Slots):
        self.app, self.slots = app, slots

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if scope["path"] not in RESERVED_PATHS and client is not None and \
                (str(client[0]), int(client[1])) in self.slots.in_reserve:
            body = BUSY_TEXT.encode()
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"), (b"retry-after", b"5"), *STRICT_HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                add_headers(headers, STRICT_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def server_config(app: Any, timeout_s: float = HEADER_TIMEOUT_S, slots: Slots | None = None,
                  min_body_rate: float = MIN_BODY_RATE, **kw: Any) -> Any:
    """The one uvicorn configuration the daemon and ``wifiwatch web`` serve with: the guarded protocol and
    admission above, the keep-alive timeout, no access log (the console audits what matters), no server header."""
    import uvicorn

    slots = slots or Slots()
    return uvicorn.Config(Admission(app, slots), log_config=None, access_log=False, lifespan="on",
                          http=guarded_protocol(slots, timeout_s, min_body_rate), limit_concurrency=None,
                          timeout_keep_alive=KEEPALIVE_S, server_header=False, **kw)


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
                 header_timeout_s: float = HEADER_TIMEOUT_S, slots: Slots | None = None,
                 min_body_rate: float = MIN_BODY_RATE):
        import uvicorn

        self.sock = bind_socket(bind, port)  # bound here, so a busy port fails the caller, not the thread
        self.app = app if app is not None else status_app(health, status, token)
        self.slots = slots or Slots()
        config = server_config(self.app, header_timeout_s, self.slots, min_body_rate, timeout_graceful_shutdown=3)
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
