"""Poll one AP: a GET of the system scalars, a GETBULK of the profile's columns, decoded into a PollResult.

Whatever the agent sends (missing objects, wrong types, truncated tables, absurd numbers) becomes a dropped
value or a recorded error for that AP; ``poll`` does not raise for anything the network or the device does.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from collector import metrics
from collector.snmp.client import (
    V3,
    ErrorKind,
    Oid,
    PduCounter,
    SnmpClient,
    SnmpError,
    Target,
    V2c,
    Var,
    as_text,
    parse_oid,
)
from collector.snmp.counters import CounterSample, rates
from collector.snmp.detect import Detection, detect, probe, resolve
from collector.snmp.profiles import GENERIC, ClientTable, Profile, Profiles, RadioColumn
from core.inventory import Device, Inventory, Site
from core.logs import kv
from core.schema import Point
from core.secrets import REDACTOR, SecretError, SecretResolver

SYS_DESCR = parse_oid("1.3.6.1.2.1.1.1.0")
SYS_OBJECT_ID = parse_oid("1.3.6.1.2.1.1.2.0")
SYS_UPTIME = parse_oid("1.3.6.1.2.1.1.3.0")
SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")

IF_DESCR = parse_oid("1.3.6.1.2.1.2.2.1.2")
IF_SPEED = parse_oid("1.3.6.1.2.1.2.2.1.5")
IF_OPER = parse_oid("1.3.6.1.2.1.2.2.1.8")
IF_IN = parse_oid("1.3.6.1.2.1.2.2.1.10")
IF_OUT = parse_oid("1.3.6.1.2.1.2.2.1.16")
IF_NAME = parse_oid("1.3.6.1.2.1.31.1.1.1.1")
IF_HC_IN = parse_oid("1.3.6.1.2.1.31.1.1.1.6")
IF_HC_OUT = parse_oid("1.3.6.1.2.1.31.1.1.1.10")
IF_HIGH_SPEED = parse_oid("1.3.6.1.2.1.31.1.1.1.15")
IF_COLUMNS = (IF_DESCR, IF_NAME, IF_OPER, IF_HC_IN, IF_HC_OUT, IF_IN, IF_OUT, IF_SPEED, IF_HIGH_SPEED)
IF_SLOW = (IF_DESCR, IF_NAME, IF_SPEED, IF_HIGH_SPEED)

_COUNT_TYPES = ("Integer32", "Integer", "Gauge32", "Unsigned32", "Counter32")
MAX_CLIENTS_PER_AP = 100_000
log = logging.getLogger("wifiwatch.collector.snmp")


@dataclass(frozen=True, slots=True)
class SeriesCaps:
    """Most series one AP may create per kind: an agent reporting thousands of names cannot grow the store.

    Rows over the cap are not written; each poll counts them in ``PollResult.capped`` and in the
    ``wifiwatch_series_dropped_total`` metric, and the first poll that drops logs a warning.
    """

    interfaces: int = 256
    radios: int = 64
    ssids: int = 256


class TargetError(SecretError):
    """An AP that cannot be polled as configured (missing secret, no SNMP settings); names the AP."""


@dataclass(slots=True)
class IfSample:
    name: str  # the series label: ifName (ifDescr), or "name#ifIndex" when several interfaces share a name
    oper_up: bool | None
    rx_bytes: int | None
    tx_bytes: int | None
    rx_bps: float | None = None
    tx_bps: float | None = None
    speed_bps: float | None = None
    bits: int = 64
    index: int | None = None  # ifIndex (the key its counters are kept under)


@dataclass(frozen=True, slots=True)
class ControllerAp:
    """One AP as its controller reports it (profile ``[aps]``); matched to sites.toml by collector/controllers.py."""

    index: str
    name: str | None
    mac: str | None  # aa:bb:cc:dd:ee:ff
    serial: str | None
    joined: bool | None  # None: the profile has no join state
    clients: int | None


@dataclass(slots=True)
class PollResult:
    device_id: str
    ok: bool  # the agent answered SNMP
    error: str | None = None  # safe to log: no secrets
    error_kind: ErrorKind | None = None
    vendor: str = GENERIC  # profile used
    sys_object_id: str | None = None
    uptime_s: float | None = None
    clients: int | None = None
    clients_source: str | None = None  # "sessions": counted from open visitor sessions, not SNMP (issue 24)
    clients_by_radio: dict[str, int] = field(default_factory=dict)
    clients_by_ssid: dict[str, int] = field(default_factory=dict)
    interfaces: dict[str, IfSample] = field(default_factory=dict)
    rx_bps: float | None = None
    tx_bps: float | None = None
    poll_ms: float = 0.0
    pdus: int = 0
    rebooted: bool = False
    dropped: list[str] = field(default_factory=list)  # values ignored as implausible or malformed
    capped: dict[str, int] = field(default_factory=dict)  # series kind -> rows not written (SeriesCaps)
    detection: Detection | None = None  # set when this poll (re)detected the vendor
    aps: list[ControllerAp] = field(default_factory=list)  # controllers: every AP they report
    radios: dict[str, dict[str, float | str]] = field(default_factory=dict)  # label -> radio health


@dataclass
class _DeviceState:
    samples: dict[int, CounterSample] = field(default_factory=dict)  # by ifIndex
    uptime_ticks: int | None = None
    detected: str | None = None
    detection: Detection | None = None  # the evidence ``detected`` rests on (re-run when it changes)
    sys_object_id: str | None = None
    capped_logged: bool = False
    rows: int | None = None  # the longest column last time: sizes the next GETBULK to end in one PDU
    skip: frozenset[Oid] = frozenset()  # IF-MIB fallback columns this agent showed it does not need
    polls_since_full: int = 0  # the full column set is read again every RELEARN_EVERY polls
    learned: bool = False  # a full walk has been seen: ``skip`` and ``slow`` are valid
    polls_since_detect: int = 0  # answered polls after the one that last detected the vendor (auto mode)
    family: tuple[str, bool] | None = None  # named vendor: (profile, its signature answered?)
    polls_since_family: int = 0
    # Columns that change only when the interface set does (names, speeds): read on full walks and when an
    # ifIndex appears or goes, reused in between. Keeps a steady-state poll at 1-2 PDUs on real tables.
    slow: dict[Oid, dict[Oid, Var]] = field(default_factory=dict)
    slow_indexes: frozenset[Oid] = frozenset()


# Fallback columns are re-read this often (and after a reboot), in case the agent changed underneath.
RELEARN_EVERY = 60
# An auto AP that fell back to generic although a profile claims its sysObjectID or sysDescr is probed for
# signatures again after this many answered polls (one GETNEXT-shaped GETBULK; 10 min at a 60 s poll).
REDETECT_GENERIC_EVERY = 10


def _int(var: Var | None, allowed: tuple[str, ...] = _COUNT_TYPES) -> int | None:
    if var is None or var.missing or var.type not in allowed or not isinstance(var.value, int):
        return None
    return var.value


class ApPoller:
    """Polls devices with one shared client; remembers each device's last counters for rates."""

    def __init__(self, client: SnmpClient, profiles: Profiles, clock: Callable[[], float] = time.monotonic,
                 budget_factor: float = 3.0, caps: SeriesCaps | None = None):
        self.client = client
        self.profiles = profiles
        self.clock = clock
        self.budget_factor = budget_factor
        self.caps = caps or SeriesCaps()
        self._state: dict[str, _DeviceState] = {}

    def detection(self, device_id: str) -> Detection | None:
        """The evidence behind an auto-detected AP's profile (None until it has answered once)."""
        state = self._state.get(device_id)
        return state.detection if state else None

    def forget(self, device_id: str) -> None:
        self._state.pop(device_id, None)

    def retain(self, device_ids: set[str]) -> None:
        """Drop the counters of devices no longer in the inventory (call after a reload)."""
        for gone in set(self._state) - device_ids:
            del self._state[gone]

    def budget_s(self, target: Target) -> float:
        """The whole poll's bound: a dead AP costs one request's timeouts, a live one a few PDUs."""
        return target.attempt_budget_s * self.budget_factor

    async def poll(self, device_id: str, target: Target, vendor: str = "auto") -> PollResult:
        state = self._state.setdefault(device_id, _DeviceState())
        # Until the agent answers, keep the vendor tag it had (a down AP must not start a new series).
        res = PollResult(device_id, ok=False, vendor=vendor if vendor != "auto" else (state.detected or "unknown"))
        counters = PduCounter()
        t0 = time.perf_counter()
        budget = self.budget_s(target)
        try:
            async with self.client.slot():
                # The slot is taken before the clock starts: queueing behind other APs is not this AP's fault.
                async with asyncio.timeout(budget):
                    await self._poll(state, target, vendor, res, counters)
        except TimeoutError:
            res.error, res.error_kind = f"{target.label}: poll exceeded its {budget:g} s budget", "timeout"
        except SnmpError as e:
            res.error, res.error_kind = str(e), e.kind
        except Exception as e:  # decoding bug: this AP's result says so; the fleet carries on
            res.error, res.error_kind = REDACTOR(f"internal error: {type(e).__name__}: {e}"), "internal"
        res.pdus = counters.pdus
        res.poll_ms = round((time.perf_counter() - t0) * 1000.0, 3)
        return res

    async def _poll(self, state: _DeviceState, target: Target, vendor: str, res: PollResult,
                    counters: PduCounter) -> None:
        auto = vendor == "auto"
        pre = self.profiles.get(vendor) if not auto else (
            self.profiles.get(state.detected) if state.detected else None)
        # In auto mode sysDescr rides along: a firmware upgrade that changes it (or sysObjectID) re-detects.
        sys_oids = [SYS_UPTIME, SYS_OBJECT_ID, *([SYS_DESCR] if auto else [])]
        walked: dict[Oid, dict[Oid, Var]] | None = None
        if pre is not None:
            # Profile known in advance: scalars and tables in one GETBULK (usually the whole poll).
            columns = _columns(pre, state.skip | frozenset(IF_SLOW) if state.learned else frozenset())
            system, walked = await self.client.get_walk(
                target, [*sys_oids, *(parse_oid(s.oid) for s in pre.scalars)], columns,
                counters, repetitions=None if state.rows is None else state.rows + 1)
        else:
            system = await self.client.get(target, sys_oids, counters)
        res.ok = True
        oid_var = system.get(SYS_OBJECT_ID)
        sys_oid = oid_var.value if oid_var and oid_var.type == "ObjectIdentifier" else None
        res.sys_object_id = sys_oid if isinstance(sys_oid, str) else None
        descr_var = system.get(SYS_DESCR)
        sys_descr = as_text(descr_var.value) if descr_var is not None and descr_var.type == "OctetString" else None
        ticks = _int(system.get(SYS_UPTIME), ("TimeTicks",))
        if ticks is None:
            res.dropped.append("sysUpTime missing or not TimeTicks")
        else:
            res.uptime_s = ticks / 100.0
            res.rebooted = state.uptime_ticks is not None and ticks < state.uptime_ticks

        if not auto:
            profile = resolve(self.profiles, vendor, res.sys_object_id)
        else:
            old = state.detection
            changed = old is not None and (old.sys_object_id != res.sys_object_id or old.sys_descr != sys_descr)
            # A generic AP that some family claims is asked again now and then: its signature may appear
            # later (a MIB loaded after boot, a feature switched on) without sysObjectID changing.
            state.polls_since_detect += 1
            retry = (old is not None and not changed and old.profile == GENERIC and bool(old.candidates)
                     and state.polls_since_detect >= REDETECT_GENERIC_EVERY)
            if old is None or changed or retry:
                det = await detect(self.client, target, self.profiles, res.sys_object_id, sys_descr, counters)
                state.polls_since_detect = 0
                if retry:
                    if det.profile != GENERIC:
                        log.info("vendor detected on a later poll: its signature answered now",
                                 extra=kv(device=res.device_id, was=GENERIC, now=det.profile,
                                          evidence=det.evidence()))
                elif old is not None:
                    log.warning("AP identity changed (firmware upgrade or another device): vendor re-detected",
                                extra=kv(device=res.device_id, was=old.profile, now=det.profile,
                                         evidence=det.evidence()))
                else:
                    log.info("vendor detected", extra=kv(device=res.device_id, profile=det.profile,
                                                         evidence=det.evidence()))
                state.detection, res.detection = det, det
            assert state.detection is not None
            profile = self.profiles.get(state.detection.profile) or self.profiles[GENERIC]
            state.detected = profile.id
        res.vendor = profile.id
        if pre is None or pre.id != profile.id:
            # First poll of an auto-detected AP (or a different AP behind the address): its scalars and
            # columns are known only now.
            state.skip, state.rows, state.learned = frozenset(), None, False
            scalar_oids = [parse_oid(s.oid) for s in profile.scalars]
            if scalar_oids:
                system.update(await self.client.get(target, scalar_oids, counters))
            walked = await self.client.walk_columns(target, _columns(profile, state.skip), counters)
        assert walked is not None
        if state.learned and profile.interfaces.enabled:
            await self._reuse_slow(state, target, walked, counters)
        now = self.clock()
        if_names = _if_names(walked)
        _clients(profile, walked, system, if_names, res, auto or await self._family_answers(state, target, profile,
                                                                                         counters))
        if profile.aps is not None:
            res.aps = _controller_aps(profile, walked, res)
        if profile.radio:
            res.radios = _radios(profile, walked, if_names)
        if profile.interfaces.enabled:
            _interfaces(profile, walked, if_names, state, ticks, now, res, self.caps.interfaces)
        self._cap(res, state)
        state.rows = max((len(rows) for rows in walked.values()), default=0)
        if state.learned and (res.rebooted or state.polls_since_full >= RELEARN_EVERY):
            state.skip, state.polls_since_full, state.learned = frozenset(), 0, False
        elif not state.learned:
            state.skip, state.polls_since_full, state.learned = _redundant(walked) | _empty(profile, walked), 0, True
            state.slow = {c: dict(walked[c]) for c in IF_SLOW if c in walked}
            state.slow_indexes = _if_indexes(walked)
        else:
            state.polls_since_full += 1
        state.uptime_ticks = ticks if ticks is not None else state.uptime_ticks
        if res.dropped and res.error is None:
            res.error, res.error_kind = "bad data: " + "; ".join(res.dropped[:5]), "bad_data"

    async def _family_answers(self, state: _DeviceState, target: Target, profile: Profile,
                              counters: PduCounter) -> bool:
        """For a named vendor whose count is rows of a per-client table: does its signature answer?

        Only then is an empty table 0 clients (an idle AP) rather than a wrong vendor or a MIB not loaded
        (clients unknown). Probed once (one GETBULK), and again every REDETECT_GENERIC_EVERY polls while
        it does not answer. Profiles without a signature take the operator's word.
        """
        if not profile.signature or not any(t.count == "rows" for t in profile.clients):
            return True
        known = state.family
        if known is not None and known[0] == profile.id and (known[1] or state.polls_since_family
                                                             < REDETECT_GENERIC_EVERY):
            state.polls_since_family += 1
            return known[1]
        present = await probe(self.client, target, list(profile.signature), counters)
        state.family, state.polls_since_family = (profile.id, all(present.values())), 0
        return state.family[1]

    async def _reuse_slow(self, state: _DeviceState, target: Target, walked: dict[Oid, dict[Oid, Var]],
                          counters: PduCounter) -> None:
        """Fill the skipped name/speed columns from the cache; re-read them if the interface set changed."""
        if _if_indexes(walked) != state.slow_indexes:
            fresh = await self.client.walk_columns(target, [c for c in IF_SLOW if c not in state.skip], counters)
            state.slow = {c: dict(fresh.get(c, {})) for c in IF_SLOW}
            state.slow_indexes = _if_indexes(walked)
        for c in IF_SLOW:
            walked.setdefault(c, state.slow.get(c, {}))

    def _cap(self, res: PollResult, state: _DeviceState) -> None:
        """Keep at most ``caps`` series per kind (the first in label order); count and log the rest."""
        for kind, rows in (("radios", res.clients_by_radio), ("ssids", res.clients_by_ssid),
                           ("radio_health", res.radios)):
            limit = getattr(self.caps, "radios" if kind == "radio_health" else kind)
            if len(rows) <= limit:
                continue
            keep = set(sorted(rows)[:limit])
            res.capped[kind] = len(rows) - limit
            for label in [k for k in rows if k not in keep]:
                del rows[label]
        if not res.capped:
            state.capped_logged = False
            return
        for kind, n in res.capped.items():
            metrics.SERIES_DROPPED.labels(kind).inc(n)
        if not state.capped_logged:
            state.capped_logged = True
            log.warning("AP reports more series than allowed: the rest are not written",
                        extra=kv(device=res.device_id, dropped=dict(res.capped), caps=str(self.caps)))


def _columns(profile: Profile, skip: frozenset[Oid]) -> list[Oid]:
    """The columns a poll walks: client tables, their label columns, IF-MIB (less the known-redundant)."""
    columns: list[Oid] = []
    for t in profile.clients:
        columns.append(parse_oid(t.oid))
        for src in (t.radio_from, t.ssid_from):
            if src and src not in ("index", "ifname"):
                columns.append(parse_oid(src))
    columns.extend(parse_oid(r.oid) for r in profile.radio)
    columns.extend(parse_oid(r.radio_from) for r in profile.radio if r.radio_from not in ("index", "ifname"))
    if profile.aps is not None:
        a = profile.aps
        columns.extend(parse_oid(c) for c in (a.name, a.serial, a.state, a.clients, a.clients_prefix,
                                              None if a.mac in (None, "index") else a.mac) if c)
    if profile.interfaces.enabled or any("ifname" in (t.radio_from, t.ssid_from) for t in profile.clients):
        columns.extend(c for c in IF_COLUMNS if c not in skip)
    return list(dict.fromkeys(columns))


def _empty(profile: Profile, walked: Mapping[Oid, Mapping[Oid, Var]]) -> frozenset[Oid]:
    """IF-MIB and radio-health columns this agent does not have (no rows on a full walk): not asked again
    until the next full walk. A finished column still costs a varbind per repetition of every GETBULK, so
    an agent without IF-MIB (HiveOS, the Meraki cloud) would otherwise pay for it on every poll. Client
    columns are never skipped: an empty one means 0 clients now, not a missing object."""
    candidates = [*IF_COLUMNS, *(parse_oid(r.oid) for r in profile.radio)]
    return frozenset(c for c in candidates if c in walked and not walked[c])


def _if_indexes(walked: Mapping[Oid, Mapping[Oid, Var]]) -> frozenset[Oid]:
    return frozenset(walked.get(IF_OPER, {})) | frozenset(walked.get(IF_IN, {})) | frozenset(walked.get(IF_HC_IN, {}))


def _redundant(walked: Mapping[Oid, Mapping[Oid, Var]]) -> frozenset[Oid]:
    """IF-MIB fallback columns that add nothing for this agent (read from a walk of all of them).

    ifDescr only names interfaces without an ifName; ifIn/OutOctets only count where the 64-bit
    counters are missing; ifSpeed only matters where ifHighSpeed is 0 or absent. Skipping them cuts
    the varbinds a poll decodes by ~40 % on an agent with ifXTable.
    """
    if not all(c in walked for c in IF_COLUMNS):
        return frozenset()
    skip: set[Oid] = set()
    names = walked[IF_NAME]
    if all(idx in names and as_text(names[idx].value) for idx in walked[IF_DESCR]):
        skip.add(IF_DESCR)
    hc_in, hc_out = walked[IF_HC_IN], walked[IF_HC_OUT]
    if all(_int(hc_in.get(i), ("Counter64",)) is not None and _int(hc_out.get(i), ("Counter64",)) is not None
           for i in set(walked[IF_IN]) | set(walked[IF_OUT])):
        skip.update((IF_IN, IF_OUT))
    high = walked[IF_HIGH_SPEED]
    if all(_int(high.get(i), ("Gauge32", "Unsigned32", "Integer32")) for i in walked[IF_SPEED]
           if _int(walked[IF_SPEED][i], ("Gauge32", "Unsigned32", "Integer32")) not in (None, 0, 4294967295)):
        skip.add(IF_SPEED)
    return frozenset(skip)


def _if_names(walked: Mapping[Oid, Mapping[Oid, Var]]) -> dict[Oid, str]:
    names: dict[Oid, str] = {}
    for col in (IF_DESCR, IF_NAME):  # ifName wins over ifDescr
        for idx, var in walked.get(col, {}).items():
            text = as_text(var.value) if var.type == "OctetString" else None
            if text:
                names[idx] = text[:64]
    return names


def _index_label(idx: Oid, part: str) -> str:
    if part == "last" and idx:
        return str(idx[-1])
    if part == "first" and idx:
        return str(idx[0])
    if part == "string" and idx and idx[0] == len(idx) - 1 and all(0 <= b <= 255 for b in idx[1:]):
        text = bytes(idx[1:]).decode("utf-8", "replace")
        return "".join(c if c.isprintable() else "?" for c in text)[:64]
    return ".".join(str(i) for i in idx)


def _row_key(table: ClientTable | RadioColumn, idx: Oid) -> str | None:
    """The row's index label per ``index_part``; None when ``index_match`` rules the row out."""
    key = _index_label(idx, table.index_part)
    if table.index_match is None:
        return key
    m = re.search(table.index_match, key)
    if m is None:
        return None
    return m.group(1) if m.groups() and m.group(1) is not None else key


def _row_label(src: str | None, idx: Oid, key: str, table: ClientTable | RadioColumn,
               walked: Mapping[Oid, Mapping[Oid, Var]], if_names: Mapping[Oid, str], default_prefix: str) -> str:
    raw: str | None = None
    if src == "ifname":
        raw = if_names.get(idx) or f"if{_index_label(idx, 'all')}"
    elif src and src != "index":
        var = walked.get(parse_oid(src), {}).get(idx)
        raw = as_text(var.value) if var is not None and not var.missing else None
        raw = raw[:64] if raw else None
    if raw is None:
        named = table.index_part == "string" or table.index_match is not None
        return table.radio_names.get(key, key if named else f"{default_prefix}{key}")
    return table.radio_names.get(raw, raw)


def _count(table: ClientTable, var: Var) -> int | None:
    value = _int(var)
    if value is None and table.text_numbers and var.type == "OctetString":
        text = as_text(var.value)
        if text is not None and re.fullmatch(r"\s*[0-9]{1,9}\s*", text):
            value = int(text)
    return value


def _clients(profile: Profile, walked: Mapping[Oid, Mapping[Oid, Var]], system: Mapping[Oid, Var],
             if_names: Mapping[Oid, str], res: PollResult, family_known: bool = True) -> None:
    """Client counts from the walked tables and scalars; ``family_known``: the profile's signature
    answered (auto-detected, or probed for a named vendor), so an empty per-client table is 0 clients."""
    if not profile.has_clients:
        return
    total = 0
    any_rows = False
    for table in profile.clients:
        rows = walked.get(parse_oid(table.oid), {})
        for idx, var in rows.items():
            key = _row_key(table, idx)
            if key is None:
                continue
            if table.count == "rows":
                n = 1
            else:
                value = _count(table, var)
                if value is None:
                    res.dropped.append(f"{table.object or table.oid}.{_index_label(idx, 'all')}: "
                                       f"{var.type} is not a count")
                    continue
                n = round(value * table.scale)
                if n < 0 or n > table.max:
                    res.dropped.append(f"{table.object or table.oid}.{_index_label(idx, 'all')}: "
                                       f"{n} clients is implausible (max {table.max})")
                    continue
            any_rows = True
            if table.row in ("radio", "vap"):
                label = _row_label(table.radio_from, idx, key, table, walked, if_names, "radio")
                res.clients_by_radio[label] = res.clients_by_radio.get(label, 0) + n
            if table.row in ("ssid", "vap"):
                label = _row_label(table.ssid_from, idx, key, table, walked, if_names, "ssid")
                res.clients_by_ssid[label] = res.clients_by_ssid.get(label, 0) + n
            if table.total:
                total += n
    scalar_total: int | None = None
    for s in profile.scalars:
        if s.use != "clients_total":
            continue
        svar = system.get(parse_oid(s.oid))
        v = _int(svar)
        if v is not None and 0 <= v <= s.max:
            scalar_total = v
        elif svar is None or svar.missing:
            if not any_rows:  # absent on this firmware: the tables' sum stands in, if there is one
                res.dropped.append(f"{s.object or s.oid}: missing")
        else:
            res.dropped.append(f"{s.object or s.oid}: {svar.type} {v if v is not None else ''} is not a plausible "
                               f"total (max {s.max})")
    if scalar_total is not None:
        res.clients = scalar_total
    elif any_rows:
        res.clients = total if total <= MAX_CLIENTS_PER_AP else None
    elif (family_known and any(t.total for t in profile.clients)
          and all(t.count == "rows" for t in profile.clients if t.total)):
        # The family is known (named, or its signature answered: an object present with 0 clients), and
        # its count is the number of rows of a table with a row per client: no row is 0 clients.
        res.clients = 0
    elif profile.clients:
        res.error = f"profile '{profile.id}': client table(s) empty or not supported by this agent"
        res.error_kind = "no_such_object"


# Physically possible values; anything else (a disabled radio's 0 dBm noise, a 0 MHz frequency) is unknown.
RADIO_RANGE = {"channel": (1, 233), "frequency_mhz": (2400, 7125), "tx_power_dbm": (-10, 40),
               "noise_dbm": (-130, -20), "utilization_pct": (0, 100)}


def band_of(channel: float | None, frequency_mhz: float | None) -> str | None:
    """2.4GHz / 5GHz / 6GHz from the frequency, else from the channel number (1-14: 2.4, 32-177: 5 GHz)."""
    if frequency_mhz is not None:
        return "2.4GHz" if frequency_mhz < 2500 else "5GHz" if frequency_mhz < 5925 else "6GHz"
    if channel is not None:
        return "2.4GHz" if channel <= 14 else "5GHz" if 32 <= channel <= 177 else None
    return None


def channel_frequency(channel: float) -> float | None:
    """The centre frequency of a 2.4 or 5 GHz channel (6 GHz channels reuse numbers: not derivable)."""
    if 1 <= channel <= 13:
        return 2407 + 5 * channel
    if channel == 14:
        return 2484.0
    if 32 <= channel <= 177:
        return 5000 + 5 * channel
    return None


def _radios(profile: Profile, walked: Mapping[Oid, Mapping[Oid, Var]],
            if_names: Mapping[Oid, str]) -> dict[str, dict[str, float | str]]:
    out: dict[str, dict[str, float | str]] = {}
    for col in profile.radio:
        for idx, var in walked.get(parse_oid(col.oid), {}).items():
            key = _row_key(col, idx)
            if key is None:
                continue
            value: float | None = None
            if _int(var, ("Integer32", "Integer", "Gauge32", "Unsigned32")) is not None:
                value = float(var.value) * col.scale  # type: ignore[arg-type]
            elif col.text_numbers and var.type == "OctetString":
                text = as_text(var.value)
                # A leading number: "3.7", or a channel with its width suffix such as "36E" or "149+".
                m = re.match(r"\s*(-?[0-9]{1,6}(\.[0-9]{1,3})?)", text or "")
                if m is not None:
                    value = float(m.group(1)) * col.scale
            lo, hi = RADIO_RANGE[col.metric]
            if value is None or not lo <= value <= hi:
                continue
            label = _row_label(col.radio_from, idx, key, col, walked, if_names, "radio")
            out.setdefault(label, {})[col.metric] = round(value, 3)
    for health in out.values():
        ch = health.get("channel")
        freq = health.get("frequency_mhz")
        if freq is None and isinstance(ch, float):
            derived = channel_frequency(ch)
            if derived is not None:
                health["frequency_mhz"] = derived
        f = health.get("frequency_mhz")
        band = band_of(ch if isinstance(ch, float) else None, f if isinstance(f, float) else None)
        if band:
            health["band"] = band
    return out


def _mac_text(raw: object) -> str | None:
    data = raw.encode("latin-1", "replace") if isinstance(raw, str) else raw
    if isinstance(data, bytes) and len(data) == 6:
        return ":".join(f"{b:02x}" for b in data)
    return None


def _controller_aps(profile: Profile, walked: Mapping[Oid, Mapping[Oid, Var]], res: PollResult) -> list[ControllerAp]:
    """Every AP row of the controller's table: name, MAC, serial, join state, clients (bounded by ``max``)."""
    table = profile.aps
    assert table is not None

    def text(col: str | None, idx: Oid) -> str | None:
        var = walked.get(parse_oid(col), {}).get(idx) if col else None
        value = as_text(var.value) if var is not None and not var.missing else None
        return value[:64] if value else None

    names = walked.get(parse_oid(table.name), {})
    per_ap: dict[Oid, int] = {}
    if table.clients_prefix:
        n = len(next(iter(names), ()))
        for idx, var in walked.get(parse_oid(table.clients_prefix), {}).items():
            v = _int(var)
            if v is not None and 0 <= v <= MAX_CLIENTS_PER_AP:
                per_ap[idx[:n]] = per_ap.get(idx[:n], 0) + v
    out: list[ControllerAp] = []
    for idx in list(names)[: table.max]:
        if table.mac == "index":
            mac = ":".join(f"{b:02x}" for b in idx) if len(idx) == 6 and all(0 <= b <= 255 for b in idx) else None
        else:
            mvar = walked.get(parse_oid(table.mac), {}).get(idx) if table.mac else None
            mac = _mac_text(mvar.value) if mvar is not None else None
        state = _int(walked.get(parse_oid(table.state), {}).get(idx)) if table.state else None
        clients = _int(walked.get(parse_oid(table.clients), {}).get(idx)) if table.clients else per_ap.get(idx)
        if clients is not None and not 0 <= clients <= MAX_CLIENTS_PER_AP:
            res.dropped.append(f"{table.object or 'aps'}.{_index_label(idx, 'all')}: {clients} clients is implausible")
            clients = None
        out.append(ControllerAp(_index_label(idx, "all"), text(table.name, idx), mac, text(table.serial, idx),
                                None if table.state is None else state in table.up, clients))
    if len(names) > table.max:
        res.capped["aps"] = len(names) - table.max
    return out


def _interfaces(profile: Profile, walked: Mapping[Oid, Mapping[Oid, Var]], if_names: Mapping[Oid, str],
                state: _DeviceState, ticks: int | None, now: float, res: PollResult, cap: int = 1 << 30) -> None:
    """One IfSample per ifIndex; counters are kept per ifIndex, so two interfaces with one name both count.

    Names shared by several interfaces are labelled ``name#ifIndex`` (every one of them, so no series
    changes meaning when a second one appears). Past ``cap`` interfaces the rest are counted in
    ``res.capped`` and not sampled.
    """
    include = re.compile(profile.interfaces.include)
    exclude = re.compile(profile.interfaces.exclude)
    indexes = set(walked.get(IF_OPER, {})) | set(walked.get(IF_IN, {})) | set(walked.get(IF_HC_IN, {}))
    chosen: list[tuple[Oid, str]] = []
    for idx in sorted(indexes):
        name = if_names.get(idx) or f"if{_index_label(idx, 'all')}"
        if include.search(name) and not exclude.search(name):
            chosen.append((idx, name))
    if len(chosen) > cap:
        res.capped["interfaces"] = len(chosen) - cap
        chosen = chosen[:cap]
    uses: dict[str, int] = {}
    for _, name in chosen:
        uses[name] = uses.get(name, 0) + 1
    rx_total = tx_total = 0.0
    have_rate = False
    samples: dict[int, CounterSample] = {}
    for idx, name in chosen:
        if_index = idx[0] if len(idx) == 1 else None
        label = name if uses[name] == 1 else f"{name}#{_index_label(idx, 'all')}"
        oper = _int(walked.get(IF_OPER, {}).get(idx), ("Integer32", "Integer"))
        rx = _int(walked.get(IF_HC_IN, {}).get(idx), ("Counter64",))
        tx = _int(walked.get(IF_HC_OUT, {}).get(idx), ("Counter64",))
        bits = 64
        if rx is None or tx is None:  # no ifXTable: fall back to the 32-bit counters
            rx = _int(walked.get(IF_IN, {}).get(idx), ("Counter32",))
            tx = _int(walked.get(IF_OUT, {}).get(idx), ("Counter32",))
            bits = 32
        high = _int(walked.get(IF_HIGH_SPEED, {}).get(idx), ("Gauge32", "Unsigned32", "Integer32"))
        low = _int(walked.get(IF_SPEED, {}).get(idx), ("Gauge32", "Unsigned32", "Integer32"))
        # 0 and 2^32-1 (a FortiGate's mgmt port) mean "unknown", not 0 or 4.3 Pbit/s.
        speed = high * 1e6 if high and high < 4294967295 else (float(low) if low and low < 4294967295 else None)
        sample = IfSample(label, None if oper is None else oper == 1, rx, tx, speed_bps=speed, bits=bits,
                          index=if_index)
        key = if_index if if_index is not None else hash(idx)
        cur = CounterSample(now, ticks, rx, tx, bits)
        sample.rx_bps, sample.tx_bps = rates(state.samples.get(key), cur, speed, profile.interfaces.max_bps)
        samples[key] = cur
        res.interfaces[label] = sample
        if sample.rx_bps is not None and sample.tx_bps is not None:
            have_rate = True
            rx_total += sample.rx_bps
            tx_total += sample.tx_bps
    state.samples = samples
    if have_rate:
        res.rx_bps, res.tx_bps = rx_total, tx_total


def to_points(
    site_id: str,
    ap_id: str,
    role: str,
    result: PollResult,
    time_ns: int,
    ping: tuple[bool, float | None, float | None] | None,
) -> list[Point]:
    """ap_status, ap_clients (radio, or ``ssid:<name>``) and ap_traffic rows, per core/schema.py."""
    status: dict[str, float | int | bool | str] = {
        "reachable": ping[0] if ping is not None else result.ok,
        "snmp_ok": result.ok,
        "poll_ms": float(result.poll_ms),
    }
    if ping is not None:
        if ping[1] is not None:
            status["rtt_ms"] = float(ping[1])
        if ping[2] is not None:
            status["loss_pct"] = float(ping[2])
    if result.uptime_s is not None:
        status["uptime_s"] = float(result.uptime_s)
    if result.clients is not None:
        status["clients"] = int(result.clients)
        if result.clients_source:
            status["clients_source"] = result.clients_source
    if result.error:
        status["error"] = result.error
    points = [Point("ap_status", {"site": site_id, "ap": ap_id, "vendor": result.vendor, "role": role},
                    status, time_ns)]
    for radio, n in sorted(result.clients_by_radio.items()):
        points.append(Point("ap_clients", {"site": site_id, "ap": ap_id, "radio": radio}, {"clients": int(n)},
                            time_ns))
    for ssid, n in sorted(result.clients_by_ssid.items()):
        points.append(Point("ap_clients", {"site": site_id, "ap": ap_id, "radio": f"ssid:{ssid}"},
                            {"clients": int(n)}, time_ns))
    for radio, health in sorted(result.radios.items()):
        points.append(Point("ap_radio", {"site": site_id, "ap": ap_id, "radio": radio}, dict(health), time_ns))
    for name, s in sorted(result.interfaces.items()):
        fields: dict[str, float | int | bool | str] = {}
        if s.rx_bps is not None:
            fields["rx_bps"] = float(s.rx_bps)
        if s.tx_bps is not None:
            fields["tx_bps"] = float(s.tx_bps)
        # Counter64 values can exceed InfluxDB's signed 64-bit integers: bytes are written as floats.
        if s.rx_bytes is not None:
            fields["rx_bytes"] = float(s.rx_bytes)
        if s.tx_bytes is not None:
            fields["tx_bytes"] = float(s.tx_bytes)
        if s.oper_up is not None:
            fields["oper_up"] = bool(s.oper_up)
        if fields:
            points.append(Point("ap_traffic", {"site": site_id, "ap": ap_id, "interface": name}, fields, time_ns))
    return points


async def snmp_heartbeat(client: SnmpClient, target: Target) -> tuple[bool, float | None]:
    """(answered?, rtt ms) from a GET of sysUpTime; an authentication failure still proves the AP is up."""
    try:
        await client.prepare(target)
    except SnmpError:
        return False, None
    # Take the slot first: waiting behind busy polls must not count as the AP's round trip or timeout.
    async with client.slot():
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(target.attempt_budget_s + 1.0):
                await client.get(target, [SYS_UPTIME])
        except SnmpError as e:
            if e.kind == "auth":
                return True, (time.perf_counter() - t0) * 1000.0
            return False, None
        except TimeoutError:
            return False, None
        return True, (time.perf_counter() - t0) * 1000.0


def target_for(inv: Inventory, site: Site, device: Device, resolver: SecretResolver) -> Target:
    """The device's SNMP target with secrets resolved; a missing secret raises TargetError naming the AP."""
    settings = inv.snmp_for(site, device)
    if settings is None:
        raise TargetError(f"{device.id}: no SNMP settings (set [snmp] globally, on the site, or on the AP)")
    poll = inv.poll_for(site, device)
    try:
        creds: V2c | V3
        if settings.version == "2c":
            assert settings.community is not None  # guaranteed by the inventory model
            creds = V2c(resolver.resolve(settings.community))
        else:
            creds = V3(
                user=settings.user or "",
                auth_protocol=settings.auth_protocol,
                auth_key=resolver.resolve_optional(settings.auth_key) if settings.auth_protocol != "none" else None,
                priv_protocol=settings.priv_protocol,
                priv_key=resolver.resolve_optional(settings.priv_key) if settings.priv_protocol != "none" else None,
            )
    except SecretError as e:
        raise TargetError(f"{device.id}: {e}") from None
    return Target(device.host, device.port, creds, poll.timeout_s, poll.retries, settings.context)
