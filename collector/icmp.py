"""Batched ICMP echo for a whole fleet: one raw socket, probes paced out while replies are read.

Why not a send-then-receive batch: the kernel queues replies in the socket's receive buffer (212,992 bytes
by default, ~128 replies on loopback) until someone reads them and drops the rest, so sending 1,000 probes
before reading one reported 746 of 1,000 answering APs down. Here sending and receiving interleave in
one thread (a burst of probes, then every reply waiting, then the next burst when the pace allows), the
receive buffer is sized for the batch (SO_RCVBUFFORCE as root), and the kernel drops every ICMP type
but echo reply (ICMP_FILTER / ICMP6_FILTER) and every echo reply with another batch's id (a BPF filter)
before it reaches us.

Why not scapy (the design's first choice) or icmplib: bench/bench_icmp.py pings the same 10,000 loopback
addresses with each in one run. scapy dissects every packet in Python: 4.8 CPU s per beat sending first
(9,872 false DOWN), 9.7 CPU s with its threaded send (14 false DOWN); icmplib's async_multiping opens a
raw socket per ping, each of which receives every reply: 0 false DOWN but 0.87 CPU s. The goal is 0.5 CPU s
per 10,000-AP heartbeat; this loop takes 0.18 (0.40 for the daemon's whole heartbeat with its SQLite
writes): docs/benchmarks/poll.md.

Matching: each batch draws a random ICMP id; probe ``k`` goes out as (id + k // 65536, k % 65536), so a
reply names its probe by arithmetic and is counted only if it also comes from that probe's address.
Memory is a few arrays of the batch's size; time is bounded by the pace plus ``timeout_s``. Anything
else on the socket (short, foreign, duplicate or forged packets) is skipped. When raw sockets are not
permitted the caller falls back to SNMP reachability (collector/engine.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import logging
import random
import select
import socket
import struct
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # root may exceed net.core.rmem_max
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
SOL_RAW = 255
ICMP_FILTER = 1  # linux/icmp.h: a bit set drops that ICMP type before it is queued
ICMP6_FILTER = 1  # linux/icmpv6.h, level IPPROTO_ICMPV6: same, 256 bits
ECHO_REQUEST, ECHO_REPLY = 8, 0
ECHO6_REQUEST, ECHO6_REPLY = 128, 129
PAYLOAD = b"wifiwatch-icmp\x00\x00"  # 16 bytes, echoed back
MAX_RCVBUF = 32 * 1024 * 1024  # bytes; bounds the kernel memory one batch may pin
RCVBUF_PER_PROBE = 1536  # bytes of receive buffer a queued loopback reply takes (skb truesize)
DEFAULT_RATE_PPS = 20_000.0  # 10,000 APs in 0.5 s: inside a 10 s heartbeat with a 5 s timeout
BURST = 64  # probes sent back to back before the socket is drained again


@dataclass(frozen=True, slots=True)
class PingResult:
    host: str
    sent: int
    received: int
    rtt_ms: float | None  # mean over answered probes

    @property
    def reachable(self) -> bool:
        return self.received > 0

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0


def raw_sockets_permitted() -> bool:
    """True when this process may open a raw ICMP socket (root or CAP_NET_RAW)."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except OSError:
        return False
    s.close()
    return True


def summarize(hosts: Sequence[str], probes: int, answers: Sequence[tuple[str, int, float]]) -> list[PingResult]:
    """Fold matched answers ``(host, seq, rtt_ms)`` into one result per host; duplicates count once."""
    seen: dict[str, dict[int, float]] = {h: {} for h in hosts}
    for host, seq, rtt in answers:
        if host in seen and seq not in seen[host]:
            seen[host][seq] = rtt
    out = []
    for h in hosts:
        rtts = list(seen[h].values())[:probes]
        out.append(PingResult(h, probes, len(rtts), sum(rtts) / len(rtts) if rtts else None))
    return out


def _checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum in native byte order (ICMPv4; the kernel fills ICMPv6's)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(array("H", data))  # in native byte order, which the sum does not depend on: packed back natively
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, v6: bool = False) -> bytes:
    """One echo request (header + PAYLOAD) as sent on a raw socket."""
    if v6:
        return struct.pack("!BBHHH", ECHO6_REQUEST, 0, 0, ident, seq) + PAYLOAD
    head = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    csum = _checksum(head + PAYLOAD)
    return head[:2] + struct.pack("H", csum) + head[4:] + PAYLOAD


RESOLVE_TTL_S = 300.0  # a host name's address is looked up again after this long (failures: after 30 s)
MAX_RESOLVED = 100_000  # names cached at most (the cache is emptied beyond, never grown without bound)
_resolved: dict[str, tuple[float, tuple[int, bytes] | None]] = {}


def _address(host: str) -> tuple[int, bytes] | None:
    """(family, packed address) of a literal or resolvable host; None if it has none.

    Names are cached for RESOLVE_TTL_S: a 10 s heartbeat must not ask the resolver for every AP every beat.
    """
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        pass
    else:
        return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET, ip.packed)
    now = time.monotonic()
    hit = _resolved.get(host)
    if hit is not None and hit[0] > now:
        return hit[1]
    out: tuple[int, bytes] | None = None
    try:
        info = socket.getaddrinfo(host, None, type=socket.SOCK_RAW)
        if info:
            family, addr = info[0][0], str(info[0][4][0])
            out = (family, socket.inet_pton(family, addr.split("%")[0]))
    except (OSError, UnicodeError, ValueError):
        out = None
    if len(_resolved) >= MAX_RESOLVED:
        _resolved.clear()
    _resolved[host] = (now + (RESOLVE_TTL_S if out else 30.0), out)
    return out


def rcvbuf_for(probes: int) -> int:
    """Receive buffer asked for a batch: room for every reply at once, within [1 MiB, MAX_RCVBUF].

    Reading while sending is what keeps replies; the size is headroom for a stalled reader. Without
    CAP_NET_ADMIN the kernel caps it at net.core.rmem_max (Debian: 208 KiB), which the tests show is enough.
    """
    return min(MAX_RCVBUF, max(1 << 20, probes * RCVBUF_PER_PROBE))


def id_filter(ident: int, n_ids: int, v6: bool) -> bytes:
    """Classic BPF: keep only packets whose ICMP id is in [ident, ident + n_ids) (mod 2**16).

    Every raw ICMP socket on the host is handed every echo reply, other pingers' too (another batch,
    monitoring tools, tests running beside us): dropped in the kernel, they cost neither CPU nor room in
    the receive buffer. A raw IPv4 socket sees the IP header first; an ICMPv6 one starts at ICMP.
    """
    def ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)

    load_id = [ins(0x28, 4)] if v6 else [ins(0xB1, 0), ins(0x48, 4)]  # ldh [4] | ldxb 4*([0]&0xf); ldh [x+4]
    return b"".join([*load_id,
                     ins(0x14, ident),  # sub #ident
                     ins(0x54, 0xFFFF),  # and #0xffff
                     ins(0x35, n_ids, jt=1, jf=0),  # jge #n_ids -> drop
                     ins(0x06, 0xFFFFFFFF),  # ret: keep the whole packet
                     ins(0x06, 0)])  # ret: drop


def _attach(s: socket.socket, prog: bytes) -> None:
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HP", len(prog) // 8, ctypes.addressof(buf))  # struct sock_fprog
    with contextlib.suppress(OSError):  # not Linux: the matcher below still skips foreign replies
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _open(family: int, probes: int, ident: int | None = None) -> socket.socket:
    v6 = family == socket.AF_INET6
    s = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.setblocking(False)
    if ident is not None:
        _attach(s, id_filter(ident, ((max(1, probes) - 1) >> 16) + 1, v6))
    want = rcvbuf_for(probes)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, want)
    except OSError:  # not root: capped by net.core.rmem_max
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, want)
    try:
        if v6:
            block = [0xFFFFFFFF] * 8
            block[ECHO6_REPLY >> 5] &= ~(1 << (ECHO6_REPLY & 31))
            s.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("8I", *block))
        else:
            s.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", 0xFFFFFFFF & ~(1 << ECHO_REPLY)))
    except OSError:  # not Linux: the parser below drops other types as well
        pass
    return s


class _Batch:
    """Per-family state of one batch: probe k is host ``k // probes``, (id, seq) from k."""

    def __init__(self, family: int, addrs: list[bytes], probes: int, ident: int):
        self.family = family
        self.v6 = family == socket.AF_INET6
        self.addrs = addrs
        self.probes = probes
        self.total = len(addrs) * probes
        self.ident = ident
        self.sock = _open(family, self.total, ident)
        self.skipped = 0  # packets that reached us but answer no probe of this batch
        self.sent_at = array("d", bytes(8 * self.total))
        self.rtt = array("d", [-1.0]) * self.total
        self.next = 0
        self.dests = [(socket.inet_ntop(family, a), 0) for a in addrs]

    def send_some(self, n: int, now: float) -> None:
        """Send up to ``n`` probes; stop early (to drain first) when the socket's send buffer is full."""
        end = min(self.total, self.next + n)
        while self.next < end:
            k = self.next
            pkt = echo_request((self.ident + (k >> 16)) & 0xFFFF, k & 0xFFFF, self.v6)
            try:
                self.sock.sendto(pkt, self.dests[k // self.probes])
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.ENOBUFS):
                    return  # retried after the next drain
                # EHOSTUNREACH, ENETUNREACH, EACCES...: this probe is lost, the rest go on
                log.debug("icmp send failed: %s", e)
            self.sent_at[k] = now
            self.next += 1

    def drain(self, now: float) -> int:
        """Read every reply queued now; returns how many probes they answered."""
        matched = 0
        sock = self.sock
        while True:
            try:
                data, src = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return matched
            except OSError as e:  # e.g. a queued ICMP error on the socket: skip it
                log.debug("icmp receive error: %s", e)
                continue
            k = self._probe_of(data, src)
            if k >= 0 and self.rtt[k] < 0.0:
                self.rtt[k] = max(0.0, (now - self.sent_at[k]) * 1000.0)
                matched += 1
            elif k < 0:
                self.skipped += 1

    def _probe_of(self, data: bytes, src: tuple[str, int] | tuple[str, int, int, int]) -> int:
        """Index of the probe this packet answers, or -1 for anything else."""
        if self.v6:
            off, want = 0, ECHO6_REPLY
            try:
                addr = socket.inet_pton(socket.AF_INET6, str(src[0]).split("%")[0])
            except (OSError, ValueError):
                return -1
        else:
            if len(data) < 20 or data[0] >> 4 != 4:
                return -1
            off, want, addr = (data[0] & 0x0F) * 4, ECHO_REPLY, data[12:16]
        if len(data) < off + 8 or data[off] != want or data[off + 1] != 0:
            return -1
        ident, seq = struct.unpack_from("!HH", data, off + 4)
        k = (((ident - self.ident) & 0xFFFF) << 16) | seq
        if k >= self.next or self.addrs[k // self.probes] != addr:
            return -1
        return k

    def close(self) -> None:
        self.sock.close()


def ping_batch(hosts: Sequence[str], timeout_s: float = 1.0, probes: int = 1,
               rate_pps: float = DEFAULT_RATE_PPS) -> list[PingResult]:
    """Ping every host ``probes`` times, at most ``rate_pps`` probes a second; blocking, run it in a thread.

    Returns one result per distinct host, in order. Takes at most (probes sent) / rate_pps + timeout_s:
    each probe waits ``timeout_s`` from its own send, and the batch ends once every probe is answered.
    """
    unique = list(dict.fromkeys(hosts))
    if not unique:
        return []
    probes = max(1, probes)
    resolved = [_address(h) for h in unique]
    ident = random.getrandbits(16)
    batches: list[_Batch] = []
    slot: list[tuple[int, int]] = []  # host index -> (batch index, position in that batch)
    groups: dict[int, list[bytes]] = {}
    for r in resolved:
        if r is None:
            slot.append((-1, -1))
            continue
        fam, packed = r
        groups.setdefault(fam, [])
        slot.append((fam, len(groups[fam])))
        groups[fam].append(packed)
    fams = sorted(groups)
    try:
        for i, fam in enumerate(fams):
            # disjoint id ranges per family, so one reply cannot name a probe of the other socket
            batches.append(_Batch(fam, groups[fam], probes, (ident + i * 0x8000) & 0xFFFF))
        _run(batches, timeout_s, max(1.0, rate_pps))
        pos = {fam: b for fam, b in zip(fams, batches, strict=True)}
        out = []
        for host, (fam, j) in zip(unique, slot, strict=True):
            if fam == -1:
                out.append(PingResult(host, probes, 0, None))
                continue
            b = pos[fam]
            rtts = [b.rtt[j * probes + p] for p in range(probes) if b.rtt[j * probes + p] >= 0.0]
            out.append(PingResult(host, probes, len(rtts), sum(rtts) / len(rtts) if rtts else None))
        return out
    finally:
        for b in batches:
            b.close()


def _run(batches: list[_Batch], timeout_s: float, rate_pps: float) -> None:
    """Pace the probes out (BURST at a time) while reading replies, until answered or timed out."""
    clock = time.monotonic
    start = last_send = clock()
    total = sum(b.total for b in batches)
    answered = 0
    socks = [b.sock for b in batches]
    while True:
        now = clock()
        sent = sum(b.next for b in batches)
        allowed = min(total, int((now - start) * rate_pps) + BURST)
        stalled = False
        budget = min(BURST, allowed - sent)  # never more than a burst between reads, even when behind
        for b in batches:
            if budget <= 0:
                break
            if b.next < b.total:
                before = b.next
                b.send_some(budget, now)
                budget -= b.next - before
                sent += b.next - before
                last_send = now
                stalled = stalled or (b.next < b.total and budget > 0)
        for b in batches:
            answered += b.drain(clock())
        if answered >= total:
            return
        now = clock()
        if sent < total:
            # next burst when the pace allows it; 1 ms when the send buffer was full
            wait = max(0.001 if stalled else 0.0, start + (sent + 1 - BURST) / rate_pps - now)
        else:
            wait = last_send + timeout_s - now
            if wait <= 0:
                return
        select.select(socks, [], [], min(wait, timeout_s))
