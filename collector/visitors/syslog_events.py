"""Association and disassociation events from AP syslog over UDP (RFC 3164 and RFC 5424).

What each vendor's line looks like is data: ``patterns/*.toml`` (see patterns/README.md). A datagram is
cut to :data:`MAX_MESSAGE` bytes, its header parsed (PRI, then either the RFC 5424 fields or the BSD
timestamp and HOSTNAME), and its message searched with the disassociation patterns, then the association
ones; the first that matches wins. The event time is the arrival time: syslog timestamps carry no year
or zone (RFC 3164) and AP clocks drift.

The AP is the pattern's ``ap`` group when the message names one (then that name only), else the file's
``host_ap`` applied to the HOSTNAME, else the HOSTNAME, looked up in ``visitor_ids``; an unknown one is
counted and logged (its name only), never guessed. The device MAC is hashed before anything else happens to it.
"""

from __future__ import annotations

import logging
import re
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from collector.visitors.apindex import ApIndex
from collector.visitors.metrics import EVENTS
from collector.visitors.radius import TokenBuckets
from core.visitors.keys import KeyRing
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

log = logging.getLogger("wifiwatch.visitors")

PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"
MAX_MESSAGE = 2048  # RFC 5426 3.2: receivers should accept 2048 octets; the rest is not needed
MAC = (r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
       r"|(?<![0-9A-Fa-f])[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")
SIM_TAG = "wifiwatch-sim"  # the demo's simulator sends with this APP-NAME / TAG: its sessions are simulated

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_PRI = re.compile(rb"^<(\d{1,3})>")
_5424 = re.compile(r"^1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)$", re.S)
_3164 = re.compile(rf"^(?:(?:{_MONTHS}) [ \d]\d \d\d:\d\d:\d\d) (\S+) (.*)$", re.S)
_TAG = re.compile(r"^([^\s:\[]{1,48})(?:\[\d+\])?: ?(.*)$", re.S)


class PatternError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class EventDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Literal["assoc", "disassoc"]
    match: str = Field(min_length=1, max_length=1000)
    origin: Literal["real log", "manual", "third-party parser", "assumed"]
    source: str = Field(min_length=1)
    examples: list[str] = Field(min_length=1)

    @field_validator("match")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            rx = re.compile(v.replace("{MAC}", MAC))
        except re.error as e:
            raise ValueError(f"not a regular expression: {e}") from None
        if "mac" not in rx.groupindex:
            raise ValueError("needs a (?P<mac>...) group")
        return v


class VendorFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    order: int = 50
    host_ap: str | None = None
    events: list[EventDef] = Field(min_length=1)


@dataclass(frozen=True)
class Pattern:
    vendor: str
    event: str
    rx: re.Pattern[str]
    host_ap: re.Pattern[str] | None
    definition: EventDef


def load_patterns(dirs: Iterable[Path] = (PATTERNS_DIR,)) -> list[Pattern]:
    """Every pattern, disassociation first, then by the file's ``order`` and name; raises PatternError."""
    files: list[VendorFile] = []
    problems: list[str] = []
    for d in dirs:
        for path in sorted(Path(d).glob("*.toml")):
            try:
                files.append(VendorFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))))
            except tomllib.TOMLDecodeError as e:
                problems.append(f"{path}: malformed TOML: {e}")
            except ValidationError as e:
                problems += [f"{path}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
    if problems:
        raise PatternError(problems)
    out = []
    for f in sorted(files, key=lambda f: (f.order, f.vendor)):
        host = re.compile(f.host_ap) if f.host_ap else None
        for ev in f.events:
            out.append(Pattern(f.vendor, ev.event, re.compile(ev.match.replace("{MAC}", MAC)), host, ev))
    return sorted(out, key=lambda p: p.event != "disassoc")  # stable: file order kept within each event


@dataclass(frozen=True, slots=True)
class Parsed:
    host: str
    app: str
    message: str


def parse(data: bytes) -> Parsed | None:
    """The HOSTNAME, APP-NAME/TAG and message of an RFC 5424 or RFC 3164 datagram (None if neither)."""
    m = _PRI.match(data)
    if m is None or int(m[1]) > 191:
        return None
    text = data[m.end():MAX_MESSAGE].decode("utf-8", "replace").lstrip("\ufeff")
    r = _5424.match(text)
    if r is not None:
        host, app, msg = r[2], r[3], r[7].lstrip("\ufeff")
        return Parsed("" if host == "-" else host, "" if app == "-" else app, msg)
    b = _3164.match(text)
    if b is None:
        return None
    host, rest = b[1], b[2]
    t = _TAG.match(rest)
    return Parsed(host, t[1], t[2]) if t else Parsed(host, "", rest)


@dataclass
class SyslogEvents:
    """Turns syslog datagrams into session opens and closes; never answers (syslog has no reply)."""

    index: ApIndex
    store: VisitorStore
    keys: KeyRing
    rate_per_client: float = 2000.0
    clock: Callable[[], float] = time.time
    patterns: list[Pattern] | None = None

    def __post_init__(self) -> None:
        if self.patterns is None:
            self.patterns = load_patterns()
        self._buckets = TokenBuckets(self.rate_per_client)

    def _count(self, result: str) -> None:
        EVENTS.labels("syslog", result).inc()

    def match(self, p: Parsed) -> tuple[Pattern, re.Match[str]] | None:
        assert self.patterns is not None
        for pat in self.patterns:
            m = pat.rx.search(p.message)
            if m is not None:
                return pat, m
        return None

    def handle(self, data: bytes, addr: tuple[Any, ...]) -> bytes | None:
        now = self.clock()
        who = str(addr[0])
        if not self._buckets.allow(who, now):
            self._count("rate_limited")
            return None
        p = parse(data)
        if p is None:
            self._count("malformed")
            return None
        found = self.match(p)
        if found is None:
            self._count("unmatched")  # the AP's other messages: most of what arrives
            return None
        pat, m = found
        names = []
        if "ap" in pat.rx.groupindex and m["ap"]:
            names.append(m["ap"])  # the message names its AP: that one or none, never the sender instead
            if "ap_alt" in pat.rx.groupindex and m["ap_alt"]:
                names.append(m["ap_alt"])  # e.g. Ruckus AP[name@mac]: either may be in visitor_ids
        else:
            if pat.host_ap is not None and (h := pat.host_ap.search(p.host)) is not None:
                names.append(h["ap"])
            names.append(p.host)
        hit = next((x for x in (self.index.find(n) for n in names if n) if x is not None), None)
        if hit is None:
            self._count("unknown_ap")
            self.index.unknown("syslog", [n[:64] for n in names if n], who)
            return None
        site_id, ap_id = hit
        raw = m["mac"]
        links = self.keys.links("syslog", ap_id, raw, now=now)
        simulated = p.app == SIM_TAG
        if pat.event == "assoc":
            device, device30, randomized = self.keys.device(raw, now)
            self.store.begin(VisitorSession(ap_id, site_id, device, device30, now, None, "syslog",
                                            randomized=randomized, simulated=simulated), links, now)
            self._count("start")
        else:
            self._count("stop" if self.store.end(links, now) else "stop_without_start")
        return None
