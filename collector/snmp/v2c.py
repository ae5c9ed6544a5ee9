"""SNMPv2c on the wire without pyasn1: BER for the handful of types SNMP uses, one UDP socket per family.

Why: pysnmp decodes each response through pyasn1's generic BER codec, ~0.2 ms of CPU per varbind; a poll
cycle of 10,000 APs spent most of its time there. v2c messages are simple (version, community, one PDU of
integers and OID/value pairs), so this module encodes requests and decodes responses directly, producing
the same :class:`~collector.snmp.client.Var` values (type names included) the pysnmp path produces.
SNMPv3 (USM authentication and privacy) stays on pysnmp.

Only answers from the address a request went to, carrying the same request-id and community, complete it;
anything else is dropped like a stray datagram. A response that does not parse completes its request with
:class:`BerError`, so the poller reports bad data instead of waiting for a timeout.

Hostile agents (issue 19): work per datagram is bounded and linear. A datagram over ``MAX_DATAGRAM``
bytes, an OID over ``MAX_OID_BYTES`` bytes (RFC 2578: at most 128 arcs of 32 bits), an arc over 32 bits
or more than ``MAX_VARBINDS`` varbinds is a :class:`BerError`, the only exception decoding raises; a
reply whose header names a pending request but does not parse completes that request as bad data. Only
short OIDs are cached, in a fixed-size cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.snmp.types import END_OF_MIB, NO_SUCH_INSTANCE, NO_SUCH_OBJECT, Oid, Var

GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5
VERSION_2C = 1

ERROR_STATUS = (
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess", "wrongType",
    "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue", "resourceUnavailable",
    "commitFailed", "undoFailed", "authorizationError", "notWritable", "inconsistentName",
)

_UNSIGNED = {0x41: "Counter32", 0x42: "Gauge32", 0x43: "TimeTicks", 0x46: "Counter64"}
_MISSING = {
    0x80: Var("noSuchObject", NO_SUCH_OBJECT),
    0x81: Var("noSuchInstance", NO_SUCH_INSTANCE),
    0x82: Var("endOfMibView", END_OF_MIB),
}


class BerError(ValueError):
    """A datagram that is not a well-formed SNMPv2c message."""


MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4
MAX_OID_BYTES = 128 * 5  # 128 arcs (RFC 2578 section 3.5) of at most 5 bytes (32 bits) each
MAX_ARC = (1 << 32) - 1
MAX_VARBINDS = 1024  # our GETBULKs ask for at most ~60 varbinds; a GET for fewer
CACHED_OID_BYTES = 32  # the column and instance OIDs of a fleet; longer ones are decoded each time


# -- encoding ------------------------------------------------------------------------------------------
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _integer(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


@functools.lru_cache(maxsize=8192)
def encode_oid(oid: Oid) -> bytes:
    """Cached: a fleet asks every AP for the same column OIDs."""
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] > 39) or any(a < 0 for a in oid):
        raise ValueError(f"not an encodable OID: {oid}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


_NULL_VALUE = b"\x05\x00"


def encode_request(request_id: int, community: bytes, oids: Sequence[Oid],
                   bulk: tuple[int, int] | None = None) -> bytes:
    """A GetRequest (``bulk`` None) or GetBulkRequest (non-repeaters, max-repetitions) for ``oids``."""
    binds = b"".join(_tlv(0x30, encode_oid(o) + _NULL_VALUE) for o in oids)
    tag, a, b = (GET, 0, 0) if bulk is None else (GETBULK, bulk[0], bulk[1])
    pdu = _tlv(tag, _integer(request_id) + _integer(a) + _integer(b) + _tlv(0x30, binds))
    return _tlv(0x30, _integer(VERSION_2C) + _tlv(0x04, community) + pdu)


# -- decoding ------------------------------------------------------------------------------------------
def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at ``pos``; short and long lengths only."""
    if pos + 2 > end:
        raise BerError("truncated")
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise BerError("bad length")
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError("length past the end")
    return tag, pos, pos + n


def _int_at(data: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, start, stop = _header(data, pos, end)
    if tag != 0x02 or not 0 < stop - start <= 8:
        raise BerError("expected INTEGER")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_oid(body: bytes) -> Oid:
    """OID contents -> arcs; raises only :class:`BerError`. Short OIDs come from a fixed-size cache."""
    if len(body) <= CACHED_OID_BYTES:
        return _decode_oid_cached(body)
    return _decode_oid(body)


@functools.lru_cache(maxsize=16384)
def _decode_oid_cached(body: bytes) -> Oid:
    """The same instance OIDs (ifHCInOctets.1 ...) come back from every AP of a fleet: ≤ ~2 MB."""
    return _decode_oid(body)


def _decode_oid(body: bytes) -> Oid:
    if not body or body[-1] & 0x80 or len(body) > MAX_OID_BYTES:
        raise BerError("bad OID")
    if max(body) < 0x80:  # every arc below 128: one byte each
        arcs = list(body)
    else:
        arcs = []
        value = 0
        for byte in body:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                if value > MAX_ARC:
                    raise BerError("OID arc over 32 bits")
                arcs.append(value)
                value = 0
            elif value > MAX_ARC:
                raise BerError("OID arc over 32 bits")
    if len(arcs) > 128:
        raise BerError("OID over 128 arcs")
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def _value(tag: int, body: bytes) -> Var:
    if tag == 0x02:
        ok = 0 < len(body) <= 8
        return Var("Integer", int.from_bytes(body, "big", signed=True)) if ok else Var("bad", None)
    if tag in _UNSIGNED:  # Counter64 is 8 bytes, 9 with a leading zero
        return Var(_UNSIGNED[tag], int.from_bytes(body, "big")) if 0 < len(body) <= 9 else Var("bad", None)
    if tag in (0x04, 0x44):  # Opaque is an OCTET STRING to the pysnmp path too
        return Var("OctetString", bytes(body))
    if tag == 0x06:
        try:
            return Var("ObjectIdentifier", ".".join(map(str, decode_oid(body))))
        except BerError:
            return Var("bad", None)
    if tag == 0x40:
        return Var("IpAddress", ".".join(map(str, body))) if len(body) == 4 else Var("bad", None)
    if tag == 0x05:  # pyasn1's Null is an OctetString subclass: the pysnmp path reads it as b""
        return Var("OctetString", b"")
    missing = _MISSING.get(tag)
    return missing if missing is not None else Var("bad", None)


@dataclass(slots=True)
class Response:
    request_id: int
    community: bytes
    error_status: int
    error_index: int
    varbinds: list[tuple[Oid, Var]] = field(default_factory=list)


def decode_header(data: bytes) -> tuple[Response, int, int]:
    """The message up to its varbind list: (response without varbinds, list start, list end)."""
    end = len(data)
    if end > MAX_DATAGRAM:
        raise BerError("datagram too large")
    tag, pos, end = _header(data, 0, end)
    if tag != 0x30:
        raise BerError("not a SEQUENCE")
    version, pos = _int_at(data, pos, end)
    if version != VERSION_2C:
        raise BerError(f"not SNMPv2c (version {version})")
    tag, start, pos = _header(data, pos, end)
    if tag != 0x04:
        raise BerError("expected community")
    community = data[start:pos]
    tag, pos, end = _header(data, pos, end)
    if tag != RESPONSE:
        raise BerError(f"not a Response PDU (tag {tag:#x})")
    request_id, pos = _int_at(data, pos, end)
    status, pos = _int_at(data, pos, end)
    index, pos = _int_at(data, pos, end)
    tag, pos, end = _header(data, pos, end)
    if tag != 0x30:
        raise BerError("expected varbind list")
    return Response(request_id, bytes(community), status, index), pos, end


def decode_varbinds(data: bytes, pos: int, end: int) -> list[tuple[Oid, Var]]:
    out: list[tuple[Oid, Var]] = []
    while pos < end:
        if len(out) >= MAX_VARBINDS:
            raise BerError("too many varbinds")
        tag, vpos, vend = _header(data, pos, end)
        if tag != 0x30:
            raise BerError("expected varbind")
        tag, start, stop = _header(data, vpos, vend)
        if tag != 0x06:
            raise BerError("expected OID in varbind")
        oid = decode_oid(data[start:stop])
        tag, start, vstop = _header(data, stop, vend)
        out.append((oid, _value(tag, data[start:vstop])))
        pos = vend
    return out


def peek_request_id(data: bytes) -> int | None:
    """The request-id of a message whose header is readable even if the rest is not (e.g. truncated)."""
    try:
        end = len(data)
        tag, pos, _ = _header_lenient(data, 0, end)
        _, pos = _int_lenient(data, pos, end)  # version
        tag, start, pos = _header_lenient(data, pos, end)  # community
        tag, pos, _ = _header_lenient(data, pos, end)  # PDU
        if tag != RESPONSE:
            return None
        rid, _ = _int_lenient(data, pos, end)
        return rid
    except BerError:
        return None


def _header_lenient(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Like _header, but a length past the end is cut to the end (a truncated datagram)."""
    if pos + 2 > end:
        raise BerError("truncated")
    n = data[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or start + k > end:
            raise BerError("bad length")
        n = int.from_bytes(data[start:start + k], "big")
        start += k
    return data[pos], start, min(end, start + n)


def _int_lenient(data: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, start, stop = _header_lenient(data, pos, end)
    if tag != 0x02 or not 0 < stop - start <= 8:
        raise BerError("expected INTEGER")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_response(data: bytes) -> Response:
    """A whole SNMPv2c Response message; raises :class:`BerError` if it is not one."""
    response, pos, end = decode_header(data)
    response.varbinds = decode_varbinds(data, pos, end)
    return response


# -- transport -----------------------------------------------------------------------------------------
class V2cTimeout(Exception):
    """No answer after every retry."""


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Response]
    message: bytes
    addr: tuple[Any, ...]
    community: bytes
    timeout_s: float
    tries_left: int
    timer: asyncio.TimerHandle | None = None


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, owner: V2cTransport):
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            self.owner._received(data, addr)
        except Exception:  # a decoding bug must not reach asyncio's logger once per hostile datagram
            self.owner.malformed += 1

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable etc.: the timeout decides
        pass


class V2cTransport:
    """Request/response over one unconnected UDP socket per address family, shared by the whole fleet."""

    def __init__(self, rcvbuf: int = 4 << 20):
        self.rcvbuf = rcvbuf
        self.granted_rcvbuf = 0
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._opening: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_id = random.randrange(1, 1 << 30)
        self.malformed = 0

    async def _transport_for(self, family: int) -> asyncio.DatagramTransport:
        tr = self._transports.get(family)
        if tr is not None:
            return tr
        async with self._opening.setdefault(family, asyncio.Lock()):
            tr = self._transports.get(family)
            if tr is None:
                sock = socket.socket(family, socket.SOCK_DGRAM)
                # Room for a burst of answers while the loop is busy decoding (capped by net.core.rmem_max).
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                self.granted_rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                sock.setblocking(False)
                sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
                loop = asyncio.get_running_loop()
                tr, _ = await loop.create_datagram_endpoint(lambda: _Endpoint(self), sock=sock)
                self._transports[family] = tr
        return tr

    def _request_id(self) -> int:
        while True:
            self._next_id = self._next_id + 1 if self._next_id < (1 << 31) - 1 else 1
            if self._next_id not in self._pending:
                return self._next_id

    async def request(self, addr: tuple[Any, ...], family: int, community: bytes, oids: Sequence[Oid],
                      bulk: tuple[int, int] | None, timeout_s: float, retries: int) -> Response:
        """Send, resend up to ``retries`` times ``timeout_s`` apart, return the answer or raise V2cTimeout."""
        tr = await self._transport_for(family)
        loop = asyncio.get_running_loop()
        rid = self._request_id()
        message = encode_request(rid, community, oids, bulk)
        pending = _Pending(loop.create_future(), message, addr, community, timeout_s, retries)
        self._pending[rid] = pending
        try:
            tr.sendto(message, addr)
            pending.timer = loop.call_later(timeout_s, self._expire, rid)
            return await pending.future
        finally:
            if self._pending.get(rid) is pending:
                del self._pending[rid]
            if pending.timer is not None:
                pending.timer.cancel()

    def _expire(self, rid: int) -> None:
        pending = self._pending.get(rid)
        if pending is None or pending.future.done():
            return
        if pending.tries_left > 0:
            pending.tries_left -= 1
            tr = self._transports.get(socket.AF_INET6 if len(pending.addr) == 4 else socket.AF_INET)
            if tr is not None:
                tr.sendto(pending.message, pending.addr)
            pending.timer = asyncio.get_running_loop().call_later(pending.timeout_s, self._expire, rid)
        else:
            pending.future.set_exception(V2cTimeout())

    def _received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            response, pos, end = decode_header(data)
        except BerError as e:
            self.malformed += 1
            # A truncated or damaged answer to a pending request completes it as bad data, not a timeout.
            rid = peek_request_id(data[:256])
            pending = self._pending.get(rid) if rid is not None else None
            if pending is not None and not pending.future.done() and addr[:2] == pending.addr[:2]:
                pending.future.set_exception(e)
            return
        pending = self._pending.get(response.request_id)
        if (pending is None or pending.future.done() or addr[:2] != pending.addr[:2]
                or response.community != pending.community):
            return
        try:
            response.varbinds = decode_varbinds(data, pos, end)
        except BerError as e:
            self.malformed += 1
            pending.future.set_exception(e)
            return
        pending.future.set_result(response)

    def close(self) -> None:
        for tr in self._transports.values():
            tr.close()
        self._transports.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
