"""SNMP over gufo-snmp (a Rust BER/USM core with an asyncio API): the default wire for SNMPv3.

Why: pysnmp spends 3.6-9 ms of CPU per SNMPv3 poll (pyasn1 + pure-Python USM); 10,000 APs on authPriv
then need 36-90 CPU seconds a minute. Through gufo-snmp a poll costs 0.4-0.8 ms (docs/benchmarks/poll.md).

What gufo-snmp lacks, and how this module makes up for it:

* No GETBULK of several columns with non-repeaters, so a poll in *steady state* is one GET (or a few,
  ``GET_CHUNK`` varbinds each) of the instance OIDs learned from the last walk. The walk (one GET of the
  scalars, one GETBULK series per column) is repeated when a learned instance comes back missing, when
  ifNumber.0 changes, on a new column set, and every ``RELEARN_EVERY`` polls (new client-table rows).
* No retries: ``retries`` re-sends are done here; the timeout is the session's.
* No value types (a Counter64 and an INTEGER are both ``int``, an OID and an IpAddress both ``str``):
  types come from the MIB definitions of the objects the poller reads (``MIB_TYPES``), a plain ``int`` is
  otherwise ``Integer32`` and a ``str`` an ``ObjectIdentifier``.
* No 3DES and no v3 context names: such targets stay on pysnmp (:mod:`collector.snmp.client`).

Hostile agents: each AP has its own connected UDP socket (the kernel drops datagrams from anyone else);
every datagram's BER framing is checked before gufo-snmp 0.13 reads it (its decoder panics on about one
random datagram in ten), and anything it raises, a panic included, ends as this AP's ``bad_data``; the
walk is bounded by ``max_rows`` and stops on a non-increasing OID.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gufo.snmp import (
    Aes128Key,
    Aes192Key,
    Aes256Key,
    DesKey,
    Md5Key,
    Sha1Key,
    Sha224Key,
    Sha256Key,
    Sha384Key,
    Sha512Key,
    SnmpAuthError,
    SnmpDecodeError,
    User,
)
from gufo.snmp import (
    SnmpError as GufoError,
)
from gufo.snmp.aio import SnmpSession
from gufo.snmp.user import KeyType

from collector.snmp.types import AUTH_FAILED, V3, Oid, PduCounter, SnmpError, Target, V2c, Var, digest

AVAILABLE = True


def well_formed(data: bytes, v3: bool) -> bool:
    """BER framing of an SNMP message is consistent: every length fits its parent, exactly.

    gufo-snmp 0.13's decoder panics (index out of bounds in its header parser) on about one random
    datagram in ten; a datagram that fails this check is dropped before gufo-snmp reads it. For SNMPv3
    the security parameters (an OCTET STRING holding BER) are checked too; the scoped PDU may be
    encrypted and is gufo-snmp's to authenticate. Linear in the datagram, depth at most ``MAX_DEPTH``.
    """
    try:
        end = _walk_tlvs(data, 0, len(data), 0)
        if end != len(data) or not data or data[0] != 0x30:
            return False
        if v3:  # SEQUENCE { version, msgGlobalData SEQUENCE, msgSecurityParameters OCTET STRING, ... }
            pos = _skip(data, _skip(data, _content(data, 0)[0]))
            start, stop = _content(data, pos)
            if data[pos] != 0x04 or _walk_tlvs(data, start, stop, 0) != stop:
                return False
        return True
    except (IndexError, ValueError):
        return False


MAX_DEPTH = 8


def _content(data: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the contents of the TLV at ``pos``; ValueError/IndexError if it does not fit."""
    n = data[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or start + k > len(data):
            raise ValueError("bad length")
        n = int.from_bytes(data[start:start + k], "big")
        start += k
    if start + n > len(data):
        raise ValueError("past the end")
    return start, start + n


def _skip(data: bytes, pos: int) -> int:
    return _content(data, pos)[1]


def _walk_tlvs(data: bytes, pos: int, end: int, depth: int) -> int:
    """Walk the TLVs in [pos, end), descending into constructed ones; returns where the walk stopped."""
    if depth > MAX_DEPTH:
        raise ValueError("too deep")
    while pos < end:
        tag = data[pos]
        start, stop = _content(data, pos)
        if stop > end:
            raise ValueError("child past its parent")
        if tag & 0x20 and _walk_tlvs(data, start, stop, depth + 1) != stop:
            raise ValueError("children do not fill their parent")
        pos = stop
    return pos


class MalformedDatagram(Exception):
    """A datagram whose BER framing does not hold together (dropped before gufo-snmp decodes it)."""


class GuardedSession(SnmpSession):
    """gufo-snmp's session with every received datagram checked by :func:`well_formed` first.

    Replaces the session's wait-for-readable step: a malformed datagram is read off the socket here (and
    counted) instead of reaching gufo-snmp's decoder, and the request ends with :class:`MalformedDatagram`.
    """

    def __init__(self, *args: Any, v3: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._v3 = v3
        self.malformed = 0

    def _admit(self) -> bool:
        """False when the waiting datagram was malformed (and is now dropped).

        Peeks through a socket object wrapped around gufo-snmp's own descriptor and detached again, so no
        descriptor is duplicated (10,000 agents would otherwise need 20,000).
        """
        peek = socket.socket(fileno=self._fd)
        try:
            try:
                data = peek.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except OSError:
                return True  # nothing there (or an ICMP error): let gufo-snmp's read report it
            if well_formed(data, self._v3):
                return True
            with contextlib.suppress(OSError):
                peek.recv(65536, socket.MSG_DONTWAIT)
            self.malformed += 1
            return False
        finally:
            peek.detach()

    async def _recv(self, receiver: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while True:
            ready: asyncio.Future[None] = loop.create_future()

            def on_readable(fut: asyncio.Future[None] = ready) -> None:
                if not fut.done():
                    fut.set_result(None)

            loop.add_reader(self._fd, on_readable)
            try:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait_for(ready, left)
                if not self._admit():
                    # The socket is connected: only the agent's own address reaches it. Its malformed
                    # answer ends this request as bad data now rather than as a timeout later.
                    raise MalformedDatagram("malformed SNMP datagram (BER framing)")
                return receiver()
            except BlockingIOError:
                continue
            except TimeoutError as e:
                raise TimeoutError from e
            finally:
                loop.remove_reader(self._fd)

T = TypeVar("T")

# Varbinds per GET in steady state: keeps a response well under 1,472 bytes for typical values.
GET_CHUNK = 40
# Max-repetitions of the per-column GETBULKs of a walk.
BULK_REPETITIONS = 25
# Learned instances are re-walked this often even when nothing looks changed (new client-table rows).
RELEARN_EVERY = 10
# gufo-snmp keeps the agent's engine time from its last REPORT; the agent accepts ±150 s (RFC 3414).
REFRESH_AFTER_S = 100.0
IF_NUMBER: Oid = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_TABLE: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IF_X_TABLE: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)

# SMI types of the standard objects the poller reads (RFC 3418 SNMPv2-MIB, RFC 2863 IF-MIB).
MIB_TYPES: dict[Oid, str] = {
    (1, 3, 6, 1, 2, 1, 1, 2): "ObjectIdentifier",  # sysObjectID
    (1, 3, 6, 1, 2, 1, 1, 3): "TimeTicks",  # sysUpTime
    (1, 3, 6, 1, 2, 1, 2, 2, 1, 5): "Gauge32",  # ifSpeed
    (1, 3, 6, 1, 2, 1, 2, 2, 1, 8): "Integer",  # ifOperStatus
    (1, 3, 6, 1, 2, 1, 2, 2, 1, 10): "Counter32",  # ifInOctets
    (1, 3, 6, 1, 2, 1, 2, 2, 1, 16): "Counter32",  # ifOutOctets
    (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6): "Counter64",  # ifHCInOctets
    (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10): "Counter64",  # ifHCOutOctets
    (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15): "Gauge32",  # ifHighSpeed
}
_INT_TYPES = {"TimeTicks", "Gauge32", "Integer", "Counter32", "Counter64"}
_STR_TYPES = {"ObjectIdentifier", "IpAddress"}


def to_var(value: Any, mib_type: str | None) -> Var:
    """gufo-snmp's untyped value -> :class:`Var`, typed from the object's MIB definition where known."""
    if isinstance(value, bool):
        return Var("bad", None)
    if isinstance(value, int):
        return Var(mib_type if mib_type in _INT_TYPES else "Integer32", value)
    if isinstance(value, bytes):
        return Var("OctetString", value)
    if isinstance(value, str):
        return Var(mib_type if mib_type in _STR_TYPES else "ObjectIdentifier", value)
    if value is None:
        return Var("Null", None)
    return Var("bad", None)


def _is_panic(e: BaseException) -> bool:
    """A Rust panic inside gufo-snmp surfaces as pyo3's PanicException, a BaseException: the agent's doing."""
    return type(e).__name__ == "PanicException"


def oid_text(oid: Oid) -> str:
    return ".".join(map(str, oid))


def parse_reply_oid(text: str) -> Oid | None:
    """An OID string from the agent -> tuple; None if it is not one (never raises)."""
    try:
        oid = tuple(int(p) for p in text.split("."))
    except (ValueError, AttributeError):
        return None
    return oid if 2 <= len(oid) <= 128 else None


def raise_fd_limit(wanted: int) -> int:
    """One socket per AP: lift the soft open-files limit towards the hard one; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    return int(soft)


_AUTH = {"md5": "Md5Key", "sha": "Sha1Key", "sha224": "Sha224Key", "sha256": "Sha256Key",
         "sha384": "Sha384Key", "sha512": "Sha512Key"}
_PRIV = {"des": "DesKey", "aes": "Aes128Key", "aes128": "Aes128Key", "aes192": "Aes192Key",
         "aes256": "Aes256Key"}


def _cls(name: str) -> Any:
    return {"Md5Key": Md5Key, "Sha1Key": Sha1Key, "Sha224Key": Sha224Key, "Sha256Key": Sha256Key,
            "Sha384Key": Sha384Key, "Sha512Key": Sha512Key, "DesKey": DesKey, "Aes128Key": Aes128Key,
            "Aes192Key": Aes192Key, "Aes256Key": Aes256Key}[name]


def handles(target: Target, v2c: bool) -> bool:
    """Whether gufo-snmp can speak to ``target`` (v2c only when asked for: the own v2c wire is default)."""
    creds = target.credentials
    if not AVAILABLE or creds is None:
        return False
    if isinstance(creds, V2c):
        return v2c
    assert isinstance(creds, V3)
    return (not target.context and creds.priv_protocol in (*_PRIV, "none")
            and creds.auth_protocol in (*_AUTH, "none"))


@dataclass(slots=True)
class _Learned:
    scalars: tuple[Oid, ...]
    columns: tuple[Oid, ...]
    names: list[tuple[str, int, Oid]]  # (instance OID text, column number, row index)
    if_number: int | None
    gets: int = 0


@dataclass(slots=True)
class _Session:
    session: Any
    v3: bool
    refreshed: bool = False
    last_used: float = 0.0
    learned: _Learned | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class GufoWire:
    """gufo-snmp sessions (one socket each) for the fleet, with retries, learned GETs and errors as data."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._sessions: dict[tuple[Any, ...], _Session] = {}
        self._users: dict[tuple[Any, ...], Any] = {}
        self.walks = 0
        self.learned_gets = 0
        self._fd_soft = 0

    # -- sessions ------------------------------------------------------------------------------
    def _user(self, target: Target) -> Any:
        """A gufo User with master keys, computed once per credential set (not once per AP)."""
        creds = target.credentials
        assert isinstance(creds, V3)
        auth = creds.auth_key.reveal() if creds.auth_key and creds.auth_protocol != "none" else ""
        priv = creds.priv_key.reveal() if creds.priv_key and creds.priv_protocol != "none" else ""
        key = (creds.user, creds.auth_protocol, auth, creds.priv_protocol, priv)
        user = self._users.get(key)
        if user is None:
            kwargs: dict[str, Any] = {}
            if auth:
                auth_cls = _cls(_AUTH[creds.auth_protocol])
                kwargs["auth_key"] = auth_cls(auth_cls.get_master_key(auth.encode()), key_type=KeyType.Master)
                if priv:
                    priv_cls = _cls(_PRIV[creds.priv_protocol])
                    kwargs["priv_key"] = priv_cls(auth_cls.get_master_key(priv.encode()), key_type=KeyType.Master)
            user = self._users[key] = User(creds.user, **kwargs)
        return user

    def session(self, target: Target, addr: str) -> _Session:
        creds = target.credentials
        if isinstance(creds, V2c):
            key: tuple[Any, ...] = (addr, target.port, target.timeout_s, "v2c", digest(creds.community.reveal()))
        else:
            assert isinstance(creds, V3)
            key = (addr, target.port, target.timeout_s, "v3", creds.user, digest(
                creds.auth_protocol, creds.auth_key.reveal() if creds.auth_key else "", creds.priv_protocol,
                creds.priv_key.reveal() if creds.priv_key else ""))
        s = self._sessions.get(key)
        if s is None:
            if len(self._sessions) + 64 > self._fd_soft:
                self._fd_soft = raise_fd_limit(2 * len(self._sessions) + 1024)
            if isinstance(creds, V2c):
                sess = GuardedSession(addr, target.port, community=creds.community.reveal(),
                                      timeout=target.timeout_s, max_repetitions=target.max_repetitions, v3=False)
            else:
                sess = GuardedSession(addr, target.port, user=self._user(target), timeout=target.timeout_s,
                                      max_repetitions=target.max_repetitions, v3=True)
            s = self._sessions[key] = _Session(sess, not isinstance(creds, V2c))
        return s

    def retain(self, addrs: set[tuple[str, int]]) -> None:
        """Close the sessions of agents no longer polled (after an inventory reload)."""
        for key in [k for k in self._sessions if (k[0], k[1]) not in addrs]:
            del self._sessions[key]

    def close(self) -> None:
        self._sessions.clear()

    # -- one exchange --------------------------------------------------------------------------
    async def _call(self, s: _Session, target: Target, op: Callable[[], Awaitable[T]],
                    counters: PduCounter | None) -> T:
        """``op`` with ``retries`` re-sends; gufo errors become SnmpError (an agent's reply never raises else)."""
        if s.v3 and (not s.refreshed or self.clock() - s.last_used > REFRESH_AFTER_S):
            await self._refresh(s, target)
        reauthed = False
        attempt = 0
        while True:
            if counters is not None:
                counters.pdus += 1
            try:
                out = await op()
                s.last_used = self.clock()
                return out
            except TimeoutError:
                attempt += 1
                if attempt > target.retries:
                    raise SnmpError("timeout", f"{target.label}: no SNMP response within "
                                               f"{target.attempt_budget_s:g} s") from None
            except SnmpAuthError:
                if not s.v3 or reauthed:
                    raise SnmpError("auth", f"{target.label}: {AUTH_FAILED}") from None
                reauthed = True  # the agent rebooted (engine boots/time moved): rediscover once
                await self._refresh(s, target)
            except SnmpDecodeError as e:
                raise SnmpError("bad_data", f"{target.label}: malformed SNMP response: {e}") from None
            except GufoError as e:
                raise SnmpError("protocol", f"{target.label}: {e}") from None
            except OSError as e:
                raise SnmpError("unreachable", f"{target.label}: {e.strerror or e}") from None
            except Exception as e:  # anything else out of the decoder is the agent's doing
                raise SnmpError("bad_data", f"{target.label}: malformed SNMP response: "
                                            f"{type(e).__name__}") from None
            except BaseException as e:
                if not _is_panic(e):
                    raise
                raise SnmpError("bad_data", f"{target.label}: malformed SNMP response (decoder panic)") from None

    async def _refresh(self, s: _Session, target: Target) -> None:
        for attempt in range(target.retries + 1):
            try:
                await s.session.refresh()
                s.refreshed, s.last_used = True, self.clock()
                return
            except TimeoutError:
                if attempt == target.retries:
                    raise SnmpError("timeout", f"{target.label}: no SNMP response within "
                                               f"{target.attempt_budget_s:g} s (SNMPv3 engine discovery; host "
                                               "down or blocked)") from None
            except SnmpAuthError:
                raise SnmpError("auth", f"{target.label}: {AUTH_FAILED}") from None
            except Exception as e:
                raise SnmpError("bad_data", f"{target.label}: malformed SNMPv3 discovery reply: "
                                            f"{type(e).__name__}") from None
            except BaseException as e:
                if not _is_panic(e):
                    raise
                raise SnmpError("bad_data", f"{target.label}: malformed SNMPv3 discovery reply "
                                            "(decoder panic)") from None

    # -- requests ------------------------------------------------------------------------------
    async def get(self, target: Target, addr: str, oids: Sequence[Oid],
                  counters: PduCounter | None = None) -> dict[Oid, Var]:
        """GET ``oids`` (chunked); objects the agent did not return are absent from the result."""
        s = self.session(target, addr)
        async with s.lock:
            return await self._get(s, target, oids, counters)

    async def _get(self, s: _Session, target: Target, oids: Sequence[Oid],
                   counters: PduCounter | None) -> dict[Oid, Var]:
        out: dict[Oid, Var] = {}
        for i in range(0, len(oids), GET_CHUNK):
            chunk = oids[i:i + GET_CHUNK]
            texts = {oid_text(o): o for o in chunk}
            got: dict[str, Any] = await self._call(s, target, functools.partial(s.session.get_many, list(texts)),
                                                   counters)
            for text, value in got.items():
                o = texts.get(text)
                if o is not None:
                    out[o] = to_var(value, MIB_TYPES.get(o[:-1]))
        return out

    async def get_walk(self, target: Target, addr: str, scalars: Sequence[Oid], columns: Sequence[Oid],
                       counters: PduCounter | None, max_rows: int,
                       repetitions: int | None) -> tuple[dict[Oid, Var], dict[Oid, dict[Oid, Var]]]:
        """Scalars and columns: one GET of the learned instances, or a walk that learns them.

        Only a call with scalars (the poller's steady-state poll) learns or uses learned instances; a plain
        column walk (detection, re-reading interface names) walks and leaves what was learned alone.
        """
        s = self.session(target, addr)
        scalars_t, columns_t = tuple(scalars), tuple(columns)
        async with s.lock:
            learned = s.learned
            if (scalars_t and learned is not None and learned.scalars == scalars_t and learned.columns == columns_t
                    and learned.gets < RELEARN_EVERY):
                hit = await self._learned_get(s, target, learned, counters)
                if hit is not None:
                    return hit
            return await self._walk(s, target, scalars_t, columns_t, counters, max_rows, repetitions,
                                    learn=bool(scalars_t))

    async def _learned_get(self, s: _Session, target: Target, learned: _Learned,
                           counters: PduCounter | None) -> tuple[dict[Oid, Var], dict[Oid, dict[Oid, Var]]] | None:
        texts = [oid_text(o) for o in learned.scalars] + [n for n, _, _ in learned.names]
        if learned.if_number is not None:
            texts.append(oid_text(IF_NUMBER))
        got: dict[str, Any] = {}
        for i in range(0, len(texts), GET_CHUNK):
            chunk = texts[i:i + GET_CHUNK]
            got.update(await self._call(s, target, functools.partial(s.session.get_many, chunk), counters))
        if learned.if_number is not None and got.get(oid_text(IF_NUMBER)) != learned.if_number:
            return None  # interfaces added or removed: walk again
        result: dict[Oid, dict[Oid, Var]] = {c: {} for c in learned.columns}
        for text, col, idx in learned.names:
            if text not in got:
                return None  # a row went away: walk again
            column = learned.columns[col]
            result[column][idx] = to_var(got[text], MIB_TYPES.get(column))
        system = {o: to_var(got[t], MIB_TYPES.get(o[:-1])) for o in learned.scalars
                  if (t := oid_text(o)) in got}
        learned.gets += 1
        self.learned_gets += 1
        return system, result

    async def _walk(self, s: _Session, target: Target, scalars: tuple[Oid, ...], columns: tuple[Oid, ...],
                    counters: PduCounter | None, max_rows: int, repetitions: int | None,
                    learn: bool) -> tuple[dict[Oid, Var], dict[Oid, dict[Oid, Var]]]:
        self.walks += 1
        wants_if = learn and any(c[:len(IF_TABLE)] == IF_TABLE or c[:len(IF_X_TABLE)] == IF_X_TABLE for c in columns)
        ask = list(scalars) + ([IF_NUMBER] if wants_if else [])
        system = await self._get(s, target, ask, counters) if ask else {}
        if_number = system.pop(IF_NUMBER, None) if IF_NUMBER not in scalars else system.get(IF_NUMBER)
        # One column per GETBULK here: BULK_REPETITIONS rows of one column fit a 1,472-byte answer, where a
        # larger max-repetitions made snmpd answer an SNMPv3 GETBULK of ifHCInOctets with nothing at all.
        reps = max(1, min(target.max_repetitions, BULK_REPETITIONS, repetitions or BULK_REPETITIONS))
        result: dict[Oid, dict[Oid, Var]] = {}
        names: list[tuple[str, int, Oid]] = []
        for ci, col in enumerate(columns):
            rows = await self._call(s, target, functools.partial(self._column, s, col, reps, max_rows),
                                    counters)
            if counters is not None:
                counters.pdus += len(rows) // reps  # the GETBULKs after the first (counted by _call)
            typed: dict[Oid, Var] = {}
            mib_type = MIB_TYPES.get(col)
            for idx, value in rows:
                typed[idx] = to_var(value, mib_type)
                names.append((oid_text(col + idx), ci, idx))
            result[col] = typed
        if not result and not system and ask:
            raise SnmpError("bad_data", f"{target.label}: empty response")
        if not learn:
            return system, result
        n_if = if_number.value if if_number is not None and isinstance(if_number.value, int) else None
        # The first learning starts each agent at its own phase of RELEARN_EVERY, so a fleet that started
        # together re-walks a tenth at a time instead of all in one heavy cycle.
        phase = zlib.crc32(f"{target.host}:{target.port}".encode()) % RELEARN_EVERY if (
            s.learned is None or s.learned.columns != columns) else 0
        s.learned = _Learned(scalars, columns, names, n_if, gets=phase)
        return system, result

    async def _column(self, s: _Session, col: Oid, reps: int, max_rows: int) -> list[tuple[Oid, Any]]:
        """One column by GETBULK, bounded: stops at ``max_rows``, a foreign OID or a non-increasing one."""
        rows: list[tuple[Oid, Any]] = []
        last: Oid = col
        n = len(col)
        async for text, value in s.session.getbulk(oid_text(col), max_repetitions=reps):
            oid = parse_reply_oid(text)
            if oid is None or oid[:n] != col or len(oid) == n or oid <= last:
                break
            last = oid
            rows.append((oid[n:], value))
            if len(rows) >= max_rows:
                break
        return rows
