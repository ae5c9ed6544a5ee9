"""Async SNMP client on one shared pysnmp engine: GET of scalars, GETBULK walks of several columns at once.

One engine (one UDP socket, one USM table) serves the whole fleet, so a poll cycle costs no per-AP set-up.
Every request is bounded by the target's timeout and retries; failures come back as :class:`SnmpError`
with a ``kind`` the poller can count and a message that never holds a community or key.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_AUTH_NONE,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CBC168_3DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES_BLUMENTHAL,
    USM_PRIV_CFB256_AES_BLUMENTHAL,
    USM_PRIV_NONE,
    CommunityData,
    ContextData,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
)
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import errind, rfc1902, rfc1905

from collector.snmp import gufo_wire
from collector.snmp.types import (
    AUTH_FAILED,
    END_OF_MIB,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    V3,
    ErrorKind,
    Missing,
    Oid,
    PduCounter,
    SnmpError,
    Target,
    V2c,
    Var,
    digest,
)
from collector.snmp.v2c import ERROR_STATUS, BerError, V2cTimeout, V2cTransport

__all__ = ["AUTH_FAILED", "END_OF_MIB", "NO_SUCH_INSTANCE", "NO_SUCH_OBJECT", "V3", "ErrorKind", "Missing", "Oid",
           "PduCounter", "SnmpError", "Target", "V2c", "Var", "digest"]

AUTH_PROTOCOLS = {
    "none": USM_AUTH_NONE,
    "md5": USM_AUTH_HMAC96_MD5,
    "sha": USM_AUTH_HMAC96_SHA,
    "sha224": USM_AUTH_HMAC128_SHA224,
    "sha256": USM_AUTH_HMAC192_SHA256,
    "sha384": USM_AUTH_HMAC256_SHA384,
    "sha512": USM_AUTH_HMAC384_SHA512,
}
# AES-192/256 follow the Blumenthal draft, as net-snmp's AES-192/AES-256 do (Cisco's "-C" variant differs).
PRIV_PROTOCOLS = {
    "none": USM_PRIV_NONE,
    "des": USM_PRIV_CBC56_DES,
    "3des": USM_PRIV_CBC168_3DES,
    "aes": USM_PRIV_CFB128_AES,
    "aes128": USM_PRIV_CFB128_AES,
    "aes192": USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": USM_PRIV_CFB256_AES_BLUMENTHAL,
}

# Kernel memory one queued answer takes (a ~1 KiB datagram's skb on loopback is ~2-4 KiB): 8 KiB is ample.
RCVBUF_PER_REQUEST = 8192
V2C_WIRE_ENV = "WIFIWATCH_SNMP_V2C_WIRE"
V3_WIRE_ENV = "WIFIWATCH_SNMP_V3_WIRE"

def parse_oid(text: str) -> Oid:
    return tuple(int(p) for p in text.strip().strip(".").split("."))


def oid_str(oid: Oid) -> str:
    return ".".join(str(p) for p in oid)


_INT_TYPES = ("Integer32", "Integer", "Counter32", "Counter64", "Gauge32", "Unsigned32", "TimeTicks")


def decode(value: Any) -> Var:
    """pysnmp value -> :class:`Var`; never raises (unknown types keep their pretty form)."""
    if isinstance(value, Var):  # already decoded by the v2c wire path
        return value
    if isinstance(value, rfc1905.NoSuchObject):
        return Var("noSuchObject", NO_SUCH_OBJECT)
    if isinstance(value, rfc1905.NoSuchInstance):
        return Var("noSuchInstance", NO_SUCH_INSTANCE)
    if isinstance(value, rfc1905.EndOfMibView):
        return Var("endOfMibView", END_OF_MIB)
    name = type(value).__name__
    try:
        if isinstance(value, rfc1902.IpAddress):
            return Var("IpAddress", ".".join(str(b) for b in value.asOctets()))
        if isinstance(value, univ.ObjectIdentifier):
            return Var("ObjectIdentifier", oid_str(tuple(value)))
        if isinstance(value, univ.Integer):
            return Var(name if name in _INT_TYPES else "Integer32", int(value))
        if isinstance(value, univ.OctetString):
            return Var("OctetString", bytes(value.asOctets()))
        if isinstance(value, univ.Null):
            return Var("Null", None)
    except Exception:  # a malformed value decodes to "bad" rather than breaking the whole response
        return Var("bad", None)
    return Var(name, str(value.prettyPrint()) if hasattr(value, "prettyPrint") else None)


def as_text(value: int | str | bytes | Missing | None) -> str | None:
    """Display strings are bytes on the wire; labels must be printable text."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        return "".join(c for c in text if c.isprintable()).strip() or None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


_HOLDS_SLOT: contextvars.ContextVar[bool] = contextvars.ContextVar("wifiwatch_snmp_slot", default=False)


@dataclass
class ClientStats:
    """Totals since start, for the daemon's metrics."""

    requests: int = 0
    timeouts: int = 0
    auth_errors: int = 0
    engines: int = 1
    rcvbuf: int = 0  # the UDP receive buffer the kernel granted (bytes)


class SnmpClient:
    """Shared engine, bounded concurrency, cached transports and auth data per target.

    v2c requests go over :mod:`collector.snmp.v2c` (direct BER, ~50x less CPU per response than
    pysnmp's pyasn1 path); ``v2c_wire="pysnmp"`` (or WIFIWATCH_SNMP_V2C_WIRE=pysnmp) sends them through
    pysnmp, ``"gufo"`` through gufo-snmp. SNMPv3 goes over gufo-snmp (:mod:`collector.snmp.gufo_wire`,
    ~20x less CPU than pysnmp) except 3DES and context names, which stay on pysnmp;
    ``v3_wire="pysnmp"`` (or WIFIWATCH_SNMP_V3_WIRE=pysnmp) sends all of v3 through pysnmp.
    """

    def __init__(self, max_concurrency: int = 256, v2c_wire: str | None = None, v3_wire: str | None = None):
        self.engine = SnmpEngine()
        # USM keys users by name: a second key set for the same user name needs its own engine.
        self._v3_engines: dict[str, SnmpEngine] = {}
        self._v3_owner: dict[str, str] = {}
        self._sem = asyncio.Semaphore(max_concurrency)
        self.max_concurrency = max_concurrency
        self._transports: dict[tuple[str, int, float, int], UdpTransportTarget] = {}
        self._auth: dict[tuple[Any, ...], tuple[SnmpEngine, CommunityData | UsmUserData]] = {}
        self.stats = ClientStats()
        self._tuned: set[int] = set()
        wire = v2c_wire or os.environ.get(V2C_WIRE_ENV, "native")
        if wire not in ("native", "pysnmp", "gufo"):
            raise ValueError(f"{V2C_WIRE_ENV}: expected 'native', 'gufo' or 'pysnmp', got {wire!r}")
        self.v2c_native = wire == "native"
        v3 = v3_wire or os.environ.get(V3_WIRE_ENV, "gufo")
        if v3 not in ("gufo", "pysnmp"):
            raise ValueError(f"{V3_WIRE_ENV}: expected 'gufo' or 'pysnmp', got {v3!r}")
        self.v2c_gufo = wire == "gufo"
        self.v3_gufo = v3 == "gufo"
        self._gufo = gufo_wire.GufoWire()
        self._v2c = V2cTransport(RCVBUF_PER_REQUEST * max_concurrency)
        self._addrs: dict[tuple[str, int], tuple[tuple[Any, ...], int]] = {}

    # -- concurrency ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of ``max_concurrency`` slots; nested use (a poll's several PDUs) takes only one."""
        if _HOLDS_SLOT.get():
            yield
            return
        async with self._sem:
            token = _HOLDS_SLOT.set(True)
            try:
                yield
            finally:
                _HOLDS_SLOT.reset(token)

    @contextlib.contextmanager
    def unmetered(self) -> Any:
        """Requests inside skip the concurrency slots: a trap's probe must not queue behind a poll cycle."""
        token = _HOLDS_SLOT.set(True)
        try:
            yield
        finally:
            _HOLDS_SLOT.reset(token)

    # -- set-up ----------------------------------------------------------------------------------
    def _auth_for(self, target: Target) -> tuple[SnmpEngine, CommunityData | UsmUserData]:
        creds = target.credentials
        if creds is None:
            raise SnmpError("config", f"{target.label}: no SNMP credentials")
        if isinstance(creds, V2c):
            key: tuple[Any, ...] = ("v2c", creds.community.ref, digest(creds.community.reveal()))
            hit = self._auth.get(key)
            if hit is None:
                # communityIndex names the community in the engine's tables without containing it.
                index = "c" + key[2]
                hit = (self.engine, CommunityData(index, creds.community.reveal(), mpModel=1))
                self._auth[key] = hit
            return hit
        if creds.auth_protocol not in AUTH_PROTOCOLS:
            raise SnmpError("config", f"unknown SNMPv3 auth protocol '{creds.auth_protocol}'")
        if creds.priv_protocol not in PRIV_PROTOCOLS:
            raise SnmpError("config", f"unknown SNMPv3 privacy protocol '{creds.priv_protocol}'")
        auth_key = creds.auth_key.reveal() if creds.auth_key and creds.auth_protocol != "none" else ""
        priv_key = creds.priv_key.reveal() if creds.priv_key and creds.priv_protocol != "none" else ""
        if creds.auth_protocol != "none" and len(auth_key) < 8:
            raise SnmpError("config", "SNMPv3 auth key is shorter than 8 characters (RFC 3414 minimum)")
        if creds.priv_protocol != "none" and len(priv_key) < 8:
            raise SnmpError("config", "SNMPv3 privacy key is shorter than 8 characters (RFC 3414 minimum)")
        fingerprint = digest(creds.auth_protocol, auth_key, creds.priv_protocol, priv_key)
        key = ("v3", creds.user, fingerprint)
        hit = self._auth.get(key)
        if hit is None:
            owner = self._v3_owner.setdefault(creds.user, fingerprint)
            if owner == fingerprint:
                engine = self.engine
            else:
                engine = self._v3_engines.get(fingerprint + creds.user)
                if engine is None:
                    engine = self._v3_engines[fingerprint + creds.user] = SnmpEngine()
                    self.stats.engines += 1
            kwargs: dict[str, Any] = {
                "authProtocol": AUTH_PROTOCOLS[creds.auth_protocol],
                "privProtocol": PRIV_PROTOCOLS[creds.priv_protocol],
            }
            if auth_key:
                kwargs["authKey"] = auth_key
            if priv_key:
                kwargs["privKey"] = priv_key
            hit = (engine, UsmUserData(creds.user, **kwargs))
            self._auth[key] = hit
        return hit

    async def _transport(self, target: Target) -> UdpTransportTarget:
        key = (target.host, target.port, target.timeout_s, target.retries)
        tr = self._transports.get(key)
        if tr is None:
            try:
                tr = await UdpTransportTarget.create(
                    (target.host, target.port), timeout=target.timeout_s, retries=target.retries
                )
            except Exception as e:
                raise SnmpError("unreachable", f"{target.label}: cannot resolve host: {e}") from None
            self._transports[key] = tr
        return tr

    # -- requests ------------------------------------------------------------------------------
    def _check(self, target: Target, err_ind: Any, err_status: Any, err_index: Any) -> None:
        if err_ind:
            err = classify(err_ind, target)
            if err.kind == "timeout":
                self.stats.timeouts += 1
            elif err.kind == "auth":
                self.stats.auth_errors += 1
            raise err
        if err_status and int(err_status) != 0:
            if isinstance(err_status, int) and 0 <= err_status < len(ERROR_STATUS):
                status = ERROR_STATUS[err_status]
            else:
                status = err_status.prettyPrint() if hasattr(err_status, "prettyPrint") else str(err_status)
            kind: ErrorKind = "no_such_object" if status in ("noSuchName",) else "protocol"
            raise SnmpError(kind, f"{target.label}: agent returned error-status {status} at index {err_index}")

    def _tune(self, engine: SnmpEngine) -> None:
        """Give the engine's one UDP socket a receive buffer for ``max_concurrency`` answers in flight.

        Linux's default (208 KiB) holds ~100 answers; a cycle of thousands of APs otherwise loses the
        ones that arrive while the loop is decoding, and each loss costs a full timeout and a retry.
        The kernel caps the request at net.core.rmem_max (raise it with sysctl for very large fleets).
        """
        self._tuned.add(id(engine))
        tr = config.get_transport(engine, udp.DOMAIN_NAME)
        sock = getattr(getattr(tr, "transport", None), "get_extra_info", lambda _n: None)("socket")
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_PER_REQUEST * self.max_concurrency)
        with contextlib.suppress(OSError):
            self.stats.rcvbuf = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    async def prepare(self, target: Target) -> None:
        """Build the target's auth data and transport now, so a timed request measures only the network."""
        self._auth_for(target)
        if self._use_gufo(target):
            self._gufo.session(target, (await self._address(target))[0][0])
        elif self._native(target):
            await self._address(target)
        else:
            await self._transport(target)

    def _native(self, target: Target) -> bool:
        return self.v2c_native and isinstance(target.credentials, V2c)

    def _use_gufo(self, target: Target) -> bool:
        if isinstance(target.credentials, V3) and not self.v3_gufo:
            return False
        return gufo_wire.handles(target, self.v2c_gufo)

    def retain(self, targets: Sequence[Target]) -> None:
        """Drop per-agent sessions of agents no longer in the inventory."""
        keep = {(t.host, t.port) for t in targets}
        self._gufo.retain({(addr[0], port) for (host, port), (addr, _) in self._addrs.items() if (host, port) in keep})

    async def _gufo_do(self, target: Target, op: Any) -> Any:
        """Run a gufo-wire request, counting requests, timeouts and auth failures like the other wires."""
        self._auth_for(target)
        addr = (await self._address(target))[0][0]
        self.stats.requests += 1
        try:
            return await op(addr)
        except SnmpError as e:
            if e.kind == "timeout":
                self.stats.timeouts += 1
            elif e.kind == "auth":
                self.stats.auth_errors += 1
            raise

    async def _address(self, target: Target) -> tuple[tuple[Any, ...], int]:
        key = (target.host, target.port)
        hit = self._addrs.get(key)
        if hit is None:
            try:
                socket.inet_pton(socket.AF_INET, target.host)
                hit = ((target.host, target.port), socket.AF_INET)
            except OSError:
                try:
                    infos = await asyncio.get_running_loop().getaddrinfo(target.host, target.port,
                                                                         type=socket.SOCK_DGRAM)
                except OSError as e:
                    raise SnmpError("unreachable", f"{target.label}: cannot resolve host: {e}") from None
                family, _, _, _, sockaddr = infos[0]
                hit = (tuple(sockaddr), int(family))
            self._addrs[key] = hit
        return hit

    async def _exchange(self, target: Target, oids: Sequence[Oid], bulk: tuple[int, int] | None,
                        counters: PduCounter | None) -> Any:
        """One request/response: (error indication, error status, error index, varbinds)."""
        if not self._native(target):
            return await self._send(target, functools.partial(_request, oids=oids, bulk=bulk), counters)
        assert isinstance(target.credentials, V2c)
        self._auth_for(target)
        addr, family = await self._address(target)
        self.stats.requests += 1
        if counters is not None:
            counters.pdus += 1
        try:
            r = await self._v2c.request(addr, family, target.credentials.community.reveal().encode(), oids, bulk,
                                        target.timeout_s, target.retries)
        except V2cTimeout:
            return errind.requestTimedOut, 0, 0, []
        except BerError as e:
            raise SnmpError("bad_data", f"{target.label}: malformed SNMP response: {e}") from None
        self.stats.rcvbuf = self._v2c.granted_rcvbuf
        return None, r.error_status, r.error_index, r.varbinds

    async def _send(self, target: Target, make: Any, counters: PduCounter | None) -> Any:
        engine, auth = self._auth_for(target)
        transport = await self._transport(target)
        ctx = _context(target.context)
        self.stats.requests += 1
        if counters is not None:
            counters.pdus += 1
        try:
            # pysnmp enforces timeout x retries itself; this bound is a backstop against a lost callback.
            async with asyncio.timeout(target.attempt_budget_s + 1.0):
                answer = await make(engine, auth, transport, ctx)
            if id(engine) not in self._tuned:
                self._tune(engine)
            return answer
        except TimeoutError:
            self.stats.timeouts += 1
            raise SnmpError("timeout", f"{target.label}: no SNMP response within "
                                       f"{target.attempt_budget_s:g} s") from None
        except SnmpError:
            raise
        except Exception as e:  # pysnmp raises PySnmpError subclasses for bad auth data or decoding
            text = str(e)
            if "decrypt" in text.lower() or "digest" in text.lower():
                self.stats.auth_errors += 1
                raise SnmpError("auth", f"{target.label}: {AUTH_FAILED}") from None
            raise SnmpError("protocol", f"{target.label}: SNMP engine error: {type(e).__name__}: {text}") from None

    async def get(
        self, target: Target, oids: Sequence[Oid], counters: PduCounter | None = None
    ) -> dict[Oid, Var]:
        """One GET PDU for all ``oids``; missing objects come back as :data:`NO_SUCH_OBJECT` etc."""
        if not oids:
            return {}
        if self._use_gufo(target):
            async with self.slot():
                got: dict[Oid, Var] = await self._gufo_do(
                    target, lambda addr: self._gufo.get(target, addr, list(oids), counters))
            for o in oids:
                got.setdefault(o, Var("noSuchObject", NO_SUCH_OBJECT))
            return got
        async with self.slot():
            err_ind, err_status, err_index, var_binds = await self._exchange(target, list(oids), None, counters)
        self._check(target, err_ind, err_status, err_index)
        out: dict[Oid, Var] = {}
        for vb in var_binds:
            out[tuple(vb[0])] = decode(vb[1])
        for o in oids:
            out.setdefault(o, Var("noSuchObject", NO_SUCH_OBJECT))
        return out

    async def walk_columns(
        self,
        target: Target,
        columns: Sequence[Oid],
        counters: PduCounter | None = None,
        max_rows: int = 4096,
        repetitions: int | None = None,
    ) -> dict[Oid, dict[Oid, Var]]:
        """GETBULK the columns together until each leaves its subtree: {column: {index: value}}.

        Columns that finish drop out of later requests; a non-increasing OID or ``max_rows`` stops a
        column (an agent bug must not loop forever). ``repetitions`` (e.g. last poll's row count + 1)
        sizes the first request so a table that has not grown is read in one PDU.
        """
        _, walked = await self.get_walk(target, (), columns, counters, max_rows, repetitions)
        return walked

    async def get_walk(
        self,
        target: Target,
        scalars: Sequence[Oid],
        columns: Sequence[Oid],
        counters: PduCounter | None = None,
        max_rows: int = 4096,
        repetitions: int | None = None,
    ) -> tuple[dict[Oid, Var], dict[Oid, dict[Oid, Var]]]:
        """Scalars and column walks in as few PDUs as possible: (GET result, walk result).

        Scalar instances ``x.0`` ride in the first GETBULK as non-repeaters (GETNEXT of ``x`` is ``x.0``
        when it exists), so a poll whose tables fit in one response costs one PDU. Scalars of another
        shape get their own GET.
        """
        scalars = list(dict.fromkeys(scalars))
        if self._use_gufo(target):
            async with self.slot():
                g_system, walked = await self._gufo_do(target, lambda addr: self._gufo.get_walk(
                    target, addr, scalars, list(dict.fromkeys(columns)), counters, max_rows, repetitions))
            for o in scalars:
                g_system.setdefault(o, Var("noSuchObject", NO_SUCH_OBJECT))
            for c in columns:
                walked.setdefault(c, {})
            return g_system, walked
        system: dict[Oid, Var] = {}
        riding = scalars if all(len(o) > 1 and o[-1] == 0 for o in scalars) else []
        if scalars and not riding:
            system = await self.get(target, scalars, counters)
        result: dict[Oid, dict[Oid, Var]] = {c: {} for c in columns}
        cursor: dict[Oid, Oid] = {c: c for c in columns}
        active = list(dict.fromkeys(columns))
        if not active and riding:
            return await self.get(target, riding, counters), result
        first = True
        async with self.slot():
            while active:
                reps = max(1, min(target.max_repetitions, target.max_varbinds // max(1, len(active)) or 1))
                if first and repetitions is not None:
                    reps = max(1, min(reps, repetitions))
                ask = [o[:-1] for o in riding] + [cursor[c] for c in active] if first else [cursor[c] for c in active]
                non_rep = len(riding) if first else 0
                err_ind, err_status, err_index, var_binds = await self._exchange(target, ask, (non_rep, reps),
                                                                                 counters)
                self._check(target, err_ind, err_status, err_index)
                if first and riding:
                    for o, vb in zip(riding, var_binds[:non_rep], strict=False):
                        var = decode(vb[1])
                        # GETNEXT of x answered with something other than x.0: the scalar does not exist.
                        system[o] = var if tuple(vb[0]) == o and not var.missing else Var("noSuchObject",
                                                                                         NO_SUCH_OBJECT)
                    missed = [o for o in riding if o not in system]
                    if missed:  # a truncated response: ask for those plainly
                        system.update(await self.get(target, missed, counters))
                    var_binds = var_binds[non_rep:]
                first = False
                done: set[Oid] = set()
                progressed = False
                n = len(active)
                for i, vb in enumerate(var_binds):
                    col = active[i % n]
                    if col in done:
                        continue
                    oid = tuple(vb[0])
                    var = decode(vb[1])
                    if var.missing or oid[: len(col)] != col or len(oid) == len(col) or oid <= cursor[col]:
                        done.add(col)  # left the column, end of MIB, or an agent bug (OID not increasing)
                        progressed = True
                        continue
                    cursor[col] = oid
                    result[col][oid[len(col):]] = var
                    progressed = True
                    if len(result[col]) >= max_rows:
                        done.add(col)
                # A truncated response (fewer varbinds than columns) leaves the columns it did not reach
                # active, to be continued from their cursors; a response with nothing usable ends the walk.
                if not progressed:
                    raise SnmpError("bad_data", f"{target.label}: empty GETBULK response")
                active = [c for c in active if c not in done]
        return system, result

    async def close(self) -> None:
        self._v2c.close()
        self._gufo.close()
        for engine in [self.engine, *self._v3_engines.values()]:
            with contextlib.suppress(Exception):
                engine.close_dispatcher()


_GET = cmdgen.GetCommandGenerator()
_BULK = cmdgen.BulkCommandGenerator()
_NULL = univ.Null("")


@functools.lru_cache(maxsize=64)
def _context(name: str) -> ContextData:
    return ContextData(contextName=name) if name else ContextData()


async def _request(engine: SnmpEngine, auth: Any, transport: Any, ctx: ContextData, *, oids: Sequence[Oid],
                   bulk: tuple[int, int] | None) -> tuple[Any, Any, Any, Any]:
    """One GET (``bulk`` None) or GETBULK (non-repeaters, max-repetitions) of numeric OIDs.

    Goes below pysnmp's high-level API, which resolves every OID against the MIB view on the way out
    (a third of the CPU of a poll); varbinds come back as raw (ObjectName, value) pairs.
    """
    addr_name, _ = LCD.configure(engine, auth, transport, ctx.contextName)
    future: asyncio.Future[tuple[Any, Any, Any, Any]] = asyncio.get_running_loop().create_future()

    def done(_engine: Any, _handle: Any, err_ind: Any, err_status: Any, err_index: Any, var_binds: Any,
             _ctx: Any) -> None:
        if not future.done():
            future.set_result((err_ind, err_status, err_index, var_binds))

    binds = [(o, _NULL) for o in oids]
    if bulk is None:
        _GET.send_varbinds(engine, addr_name, ctx.contextEngineId, ctx.contextName, binds, done)
    else:
        _BULK.send_varbinds(engine, addr_name, ctx.contextEngineId, ctx.contextName, bulk[0], bulk[1], binds, done)
    return await future


def classify(err_ind: Any, target: Target) -> SnmpError:
    """pysnmp error indication -> :class:`SnmpError`; authentication failures get one clear message."""
    if isinstance(err_ind, errind.RequestTimedOut):
        return SnmpError("timeout", f"{target.label}: no SNMP response within {target.attempt_budget_s:g} s "
                                    "(host down, wrong community, or blocked)")
    auth_kinds = (errind.WrongDigest, errind.UnknownUserName, errind.DecryptionError,
                  errind.AuthenticationFailure, errind.AuthenticationError, errind.UnsupportedSecurityLevel,
                  errind.UnknownSecurityName)
    if isinstance(err_ind, auth_kinds):
        return SnmpError("auth", f"{target.label}: {AUTH_FAILED}: {err_ind}")
    if isinstance(err_ind, errind.NotInTimeWindow):
        return SnmpError("auth", f"{target.label}: {AUTH_FAILED}: not in time window")
    if isinstance(err_ind, (errind.ParseError, errind.DeserializationError)):
        return SnmpError("bad_data", f"{target.label}: malformed SNMP response: {err_ind}")
    return SnmpError("protocol", f"{target.label}: {err_ind}")
