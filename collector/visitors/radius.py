"""RADIUS accounting server (RFC 2866): Start, Interim-Update and Stop become visitor sessions.

pyrad decodes each datagram with the dictionary of ``senders/radius.toml`` and checks its Request
Authenticator against the shared secret; a packet that fails is dropped and counted (no answer: RFC 2866
says a request that cannot be authenticated is silently discarded). An authenticated one is answered
with an Accounting-Response once handled, also when its AP is unknown (counted and logged, never
guessed), so the NAS does not retransmit it for ever. A retransmission (same sender, id and
authenticator within :data:`DUP_WINDOW_S`) gets the same answer again and is not counted twice.

Work per packet is bounded: at most 4096 bytes (RFC 2865 3) and one store write; per sender address a
token bucket (``max_packets_per_s_per_client``), over a bounded table of senders.
"""

from __future__ import annotations

import io
import logging
import re
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from collector.visitors.apindex import ApIndex
from collector.visitors.metrics import EVENTS
from core.visitors.keys import KeyRing
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

log = logging.getLogger("wifiwatch.visitors")

SENDER_FILE = Path(__file__).resolve().parent / "senders" / "radius.toml"
MAX_PACKET = 4096
DUP_WINDOW_S = 30.0
MAX_DUP_ENTRIES = 8192
MAX_CLIENTS = 65536
STOP_MEMORY_S = 600.0  # a NAS retries a Stop for a few minutes at most (RFC 2866: Acct-Delay-Time grows)


@dataclass(frozen=True)
class RadiusSender:
    """``senders/radius.toml``: the dictionary and which attribute says what."""

    dictionary: Dictionary
    device_from: tuple[str, ...]
    ap_from: tuple[str, ...]
    session_from: tuple[str, ...]
    session_time: str
    event_time: str
    delay_time: str
    lang_from: tuple[str, ...] = ()
    simulated_class: str = ""

    @classmethod
    def load(cls, path: Path = SENDER_FILE) -> RadiusSender:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(Dictionary(io.StringIO(d["dictionary"])), tuple(d["device_from"]), tuple(d["ap_from"]),
                   tuple(d["session_from"]), d["session_time"], d["event_time"], d["delay_time"],
                   tuple(d.get("lang_from", ())), d.get("simulated_class", ""))


class TokenBuckets:
    """Per sender address: ``rate`` messages a second, bursts of ``rate``; the table is bounded (LRU)."""

    def __init__(self, rate: float, max_clients: int = MAX_CLIENTS):
        self.rate = rate
        self.max_clients = max_clients
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, who: str, now: float) -> bool:
        tokens, last = self._b.pop(who, (self.rate, now))
        tokens = min(self.rate, tokens + (now - last) * self.rate)
        ok = tokens >= 1.0
        self._b[who] = (tokens - 1.0 if ok else tokens, now)
        if len(self._b) > self.max_clients:
            self._b.popitem(last=False)
        return ok


def _first(pkt: rp.Packet, names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            values = pkt.get(name)
        except (KeyError, ValueError, TypeError):
            continue
        if values:
            v = values[0]
            text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            if text.strip():
                return text[:253]
    return None


def _int(pkt: rp.Packet, name: str) -> int | None:
    try:
        values = pkt.get(name)
    except (KeyError, ValueError, TypeError):
        return None
    return int(values[0]) if values and isinstance(values[0], int) else None


_STATION = re.compile(r"^([0-9A-Fa-f]{2}(?:[:-]?[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})"
                      r"(?::.*)?$", re.S)


def station_mac_part(value: str) -> str:
    """``AA-BB-CC-DD-EE-FF:SSID`` -> ``AA-BB-CC-DD-EE-FF`` (any MAC spelling); anything else as it is."""
    m = _STATION.match(value.strip())
    return m[1] if m else value.strip()


@dataclass
class RadiusAccounting:
    """Turns accounting datagrams into session writes; :meth:`handle` returns the reply to send, or None."""

    index: ApIndex
    secret: bytes
    store: VisitorStore
    keys: KeyRing
    rate_per_client: float = 2000.0
    clock: Callable[[], float] = time.time
    sender: RadiusSender = field(default_factory=RadiusSender.load)

    def __post_init__(self) -> None:
        self._buckets = TokenBuckets(self.rate_per_client)
        self._recent: OrderedDict[tuple[str, int, bytes], tuple[float, bytes]] = OrderedDict()
        # Sessions closed by a Stop lately (their link): a NAS that retransmits a Stop with a new
        # Acct-Delay-Time (so a new id and authenticator) must not store the session twice.
        self._stopped: OrderedDict[str, float] = OrderedDict()

    def _count(self, result: str) -> None:
        EVENTS.labels("radius", result).inc()

    def handle(self, data: bytes, addr: tuple[Any, ...]) -> bytes | None:
        now = self.clock()
        who = str(addr[0])
        if not self._buckets.allow(who, now):
            self._count("rate_limited")
            return None
        if len(data) > MAX_PACKET or len(data) < 20:
            self._count("malformed")
            return None
        try:
            pkt = rp.AcctPacket(packet=data, secret=self.secret, dict=self.sender.dictionary)
        except (rp.PacketError, ValueError, KeyError, IndexError, TypeError, UnicodeError):
            self._count("malformed")
            return None
        if pkt.code == rp.StatusServer:  # RFC 5997: a NAS checking that its accounting server is alive
            try:
                alive = pkt.VerifyAcctRequest()  # the Message-Authenticator, for Status-Server
            except (rp.PacketError, ValueError, KeyError, TypeError):
                alive = False
            self._count("status_server" if alive else "bad_authenticator")
            return pkt.CreateReply().ReplyPacket() if alive else None
        if pkt.code != rp.AccountingRequest:
            self._count("malformed")
            return None
        if not pkt.VerifyAcctRequest():
            self._count("bad_authenticator")
            return None
        dup = (who, int(pkt.id), bytes(pkt.authenticator))
        cached = self._recent.get(dup)
        if cached is not None and now - cached[0] < DUP_WINDOW_S:
            self._count("duplicate")
            return cached[1]
        try:
            self._account(pkt, now, who)
        except (rp.PacketError, ValueError, KeyError, IndexError, TypeError, UnicodeError):
            self._count("malformed")  # an attribute that does not decode: no answer, the NAS may resend
            return None
        reply = pkt.CreateReply().ReplyPacket()
        self._recent[dup] = (now, reply)
        while len(self._recent) > MAX_DUP_ENTRIES or (
                self._recent and now - next(iter(self._recent.values()))[0] > DUP_WINDOW_S):
            self._recent.popitem(last=False)
        return reply

    def _account(self, pkt: rp.AcctPacket, now: float, who: str) -> None:
        s = self.sender
        status = _first(pkt, ("Acct-Status-Type",))
        names = [n for n in (_first(pkt, (a,)) for a in s.ap_from) if n]
        hit = None
        for a in s.ap_from:
            n = _first(pkt, (a,))
            if n is not None:
                hit = self.index.find(station_mac_part(n) if a == "Called-Station-Id" else n)
                if hit is not None:
                    break
        if hit is None:
            self._count("unknown_ap")
            self.index.unknown("radius", [station_mac_part(n)[:64] for n in names], who)
            return
        site_id, ap_id = hit
        if status in ("Accounting-On", "Accounting-Off"):  # the NAS restarted: its sessions are over
            self.store.close_ap(ap_id, now)
            self._count("on_off")
            return
        raw = _first(pkt, s.device_from)
        if raw is None or status not in ("Start", "Interim-Update", "Stop"):
            self._count("no_device" if raw is None else "malformed")
            return
        event = _int(pkt, s.event_time)
        delay = _int(pkt, s.delay_time) or 0
        at = float(event) if event is not None and abs(event - now) < 86400 else now - min(delay, 3600)
        session_id = _first(pkt, s.session_from) or ""
        device, device30, randomized = self.keys.device(raw, now)
        links = self.keys.links("radius", ap_id, session_id, raw, now=now)
        del raw  # from here on only hashes
        lang = _first(pkt, s.lang_from) if s.lang_from else None
        simulated = bool(s.simulated_class) and _first(pkt, ("Class",)) == s.simulated_class
        elapsed = _int(pkt, s.session_time)
        if status == "Start":
            self.store.begin(VisitorSession(site_id=site_id, ap_id=ap_id, device=device, device30=device30,
                                            start=at, end=None, source="radius", lang=lang, randomized=randomized,
                                            simulated=simulated), links, now)
            self._count("start")
        elif status == "Interim-Update":
            if not self.store.touch(links, now):  # the Start was lost: the session exists all the same
                start = at - elapsed if elapsed is not None else at
                self.store.begin(VisitorSession(ap_id, site_id, device, device30, start, None, "radius", lang,
                                                randomized, simulated), links, now)
            self._count("interim")
        else:
            if any(lk in self._stopped for lk in links):
                self._count("duplicate")
                return
            start = at - elapsed if elapsed is not None else at
            self.store.finish(links, VisitorSession(ap_id, site_id, device, device30, start, at, "radius", lang,
                                                    randomized, simulated), exact_start=elapsed is not None)
            self._stopped[links[0]] = now
            while len(self._stopped) > MAX_DUP_ENTRIES or (
                    self._stopped and now - next(iter(self._stopped.values())) > STOP_MEMORY_S):
                self._stopped.popitem(last=False)
            self._count("stop")
