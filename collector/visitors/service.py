"""The daemon's visitor part: the RADIUS and syslog receivers, idle expiry and retention, in one thread.

One thread with a selector over the (at most two) UDP sockets: a datagram is read, handled and answered
before the next, so work per datagram is bounded by the handler and nothing queues without bound (the
kernel's socket buffer drops what a flood brings beyond it). At most :data:`BATCH` datagrams are taken
per wake-up before housekeeping gets its turn: closing sessions idle longer than ``idle_timeout_min``
every minute, and deleting sessions older than ``session_retention_days`` (after rolling them into daily
aggregates) every six hours.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.visitors.apindex import ApIndex
from core.inventory import Inventory, split_host_port
from core.logs import kv
from core.secrets import SecretResolver
from core.visitors.keys import KeyRing
from core.visitors.store import VisitorStore

log = logging.getLogger("wifiwatch.visitors")

BATCH = 256
EXPIRE_EVERY_S = 60.0
PRUNE_EVERY_S = 6 * 3600.0
FIRST_PRUNE_AFTER_S = 600.0
RCVBUF = 4 * 1024 * 1024


def key_file(inv: Inventory) -> Path:
    """``[visitors] key_file``, or visitor-keys.json beside the store file."""
    if inv.visitors.key_file:
        return Path(inv.visitors.key_file)
    return Path(inv.store.path).parent / "visitor-keys.json"


def _udp(bind: str) -> socket.socket:
    host, port = split_host_port(bind)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.bind(addr)
    sock.setblocking(False)
    return sock


class VisitorService:
    def __init__(self, inv: Inventory, resolver: SecretResolver, store: VisitorStore | None = None,
                 clock: Callable[[], float] = time.time):
        self.inv = inv
        self.settings = inv.visitors
        self.clock = clock
        self.store = store if store is not None else VisitorStore(inv.store.path)
        self.keys = KeyRing(key_file(inv), returning=self.settings.returning)
        self.index = ApIndex(inv)
        self._secret = (resolver.resolve(self.settings.radius_secret).reveal().encode()
                        if self.settings.radius_secret else b"")
        self._sel = selectors.DefaultSelector()
        self._socks: list[socket.socket] = []
        self._handlers: dict[int, Callable[[bytes, tuple[Any, ...]], bytes | None]] = {}
        self.radius: Any = None
        self.syslog: Any = None
        self._last_expire = 0.0
        # The first retention pass 10 min after start, not at once: a restart is when NASes resend, and a
        # long prune would hold the receiver just then.
        self._last_prune = clock() - PRUNE_EVERY_S + FIRST_PRUNE_AFTER_S

    # -- set-up -------------------------------------------------------------------------------------
    def start(self) -> VisitorService:
        """Bind the configured sockets (so a test learns its ports before :meth:`run`)."""
        s = self.settings
        if s.radius_bind:
            from collector.visitors.radius import RadiusAccounting

            self.radius = RadiusAccounting(self.index, self._secret, self.store, self.keys,
                                           rate_per_client=s.max_packets_per_s_per_client, clock=self.clock)
            self._add(_udp(s.radius_bind), self.radius.handle)
        if s.syslog_bind:
            from collector.visitors.syslog_events import SyslogEvents

            self.syslog = SyslogEvents(self.index, self.store, self.keys,
                                       rate_per_client=s.max_packets_per_s_per_client, clock=self.clock)
            self._add(_udp(s.syslog_bind), self.syslog.handle)
        log.info("visitor sources listening", extra=kv(radius=self.port("radius"), syslog=self.port("syslog"),
                                                       visitor_ids=len(self.index)))
        return self

    def _add(self, sock: socket.socket, handler: Callable[[bytes, tuple[Any, ...]], bytes | None]) -> None:
        self._socks.append(sock)
        self._handlers[sock.fileno()] = handler
        self._sel.register(sock, selectors.EVENT_READ, handler)

    def port(self, which: str) -> int | None:
        handler = self.radius if which == "radius" else self.syslog
        if handler is None:
            return None
        for sock in self._socks:
            if self._handlers[sock.fileno()] == handler.handle:
                return int(sock.getsockname()[1])
        return None

    # -- the loop -----------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set (the daemon's background-thread contract)."""
        if not self._socks:
            self.start()
        try:
            while not stop.is_set():
                for key, _ in self._sel.select(timeout=0.5):
                    self._drain(key.fileobj, key.data)  # type: ignore[arg-type]
                self.housekeeping()
        finally:
            self.close()

    def _drain(self, sock: socket.socket, handler: Callable[[bytes, tuple[Any, ...]], bytes | None]) -> None:
        for _ in range(BATCH):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                reply = handler(data, addr)
            except Exception:  # a bug on one datagram must not stop the receiver
                log.exception("visitor message handling failed")
                continue
            if reply is not None:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, addr)

    def housekeeping(self, force: bool = False) -> None:
        now = self.clock()
        if force or now - self._last_expire >= EXPIRE_EVERY_S:
            self._last_expire = now
            n = self.store.expire(now - self.settings.idle_timeout_min * 60)
            if n:
                log.info("visitor sessions closed after silence", extra=kv(sessions=n))
        if force or now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            n = self.store.prune(now - self.settings.session_retention_days * 86400)
            if n:
                log.info("visitor sessions past retention deleted (daily aggregates kept)", extra=kv(sessions=n))

    def reload(self, inv: Inventory) -> None:
        """SIGHUP: new visitor_ids and timings take effect at once; a changed bind or secret needs a restart."""
        index = ApIndex(inv)
        for handler in (self.radius, self.syslog):
            if handler is not None:
                handler.index = index  # one reference swap: a datagram in flight uses the old or the new
        self.index, self.inv = index, inv
        old, new = self.settings, inv.visitors
        if (old.radius_bind, old.radius_secret, old.syslog_bind) != (new.radius_bind, new.radius_secret,
                                                                     new.syslog_bind):
            log.warning("visitor sources: a changed radius_bind, radius_secret or syslog_bind takes effect at the "
                        "next restart")
        self.settings = new.model_copy(update={"radius_bind": old.radius_bind, "radius_secret": old.radius_secret,
                                               "syslog_bind": old.syslog_bind})
        log.info("visitor sources reloaded", extra=kv(visitor_ids=len(index)))

    def open_counts(self) -> dict[str, int]:
        return self.store.open_counts(self.clock(), self.settings.idle_timeout_min * 60)

    def close(self) -> None:
        for sock in self._socks:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(sock)
            sock.close()
        self._socks.clear()
