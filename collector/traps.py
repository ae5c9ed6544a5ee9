"""SNMP trap and inform receiver (v1, v2c, v3 on pysnmp): a trap makes the collector look *now*.

Traps are hints, polling stays the source of truth. A notification whose OID is declared in
``collector/snmp/traps/*.toml`` names a device (the sender, or a varbind such as a controller's AP name)
and what it suggests (``down`` or ``up``); the engine then probes that one device at once and only a probe
that agrees opens or closes the incident (:meth:`collector.engine.FleetEngine.handle_trap`). Anything
else received is counted and dropped. Work per datagram is pysnmp's decoding plus a dictionary lookup;
probes are bounded (one in flight per device, ``MAX_PENDING`` in all), so a trap storm costs little.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.inventory import Device, Inventory
from core.logs import kv

log = logging.getLogger("wifiwatch.traps")

TRAPS_DIR = Path(__file__).resolve().parent / "snmp" / "traps"
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)  # snmpTrapOID.0
SNMP_TRAP_ADDRESS = (1, 3, 6, 1, 6, 3, 18, 1, 3, 0)  # snmpTrapAddress.0: the original sender behind a relay
MAX_PENDING = 1024


class TrapDefError(ValueError):
    """Broken trap definition files; ``problems`` name file, entry and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _oid(text: str) -> str:
    parts = text.strip().strip(".").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"'{text}' is not a numeric OID")
    return ".".join(str(int(p)) for p in parts)


class TrapDef(BaseModel):
    """One notification: what it means and where the device it concerns is named."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    oid: str
    means: Literal["down", "up"]
    # Varbind OIDs (prefixes) whose value names the AP; empty: the sender is the device.
    ap_from: list[str] = Field(default_factory=list)

    @field_validator("oid")
    @classmethod
    def _trap_oid(cls, v: str) -> str:
        return _oid(v)

    @field_validator("ap_from")
    @classmethod
    def _prefixes(cls, v: list[str]) -> list[str]:
        return [_oid(x) for x in v]


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    traps: list[TrapDef] = Field(default_factory=list)


def load_trap_defs(dirs: Iterable[Path] = (TRAPS_DIR,)) -> dict[str, TrapDef]:
    """Every definition by OID; raises :class:`TrapDefError` listing every problem (file: entry: field)."""
    out: dict[str, TrapDef] = {}
    where: dict[str, str] = {}
    problems: list[str] = []
    for d in dirs:
        for path in sorted(Path(d).glob("*.toml")):
            try:
                parsed = _File.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as e:
                problems.append(f"{path}: malformed TOML: {e}")
                continue
            except ValidationError as e:
                for err in e.errors():
                    loc = ".".join(str(x) for x in err["loc"])
                    problems.append(f"{path}: {loc}: {err['msg'].removeprefix('Value error, ')}")
                continue
            for i, t in enumerate(parsed.traps):
                if t.oid in out:
                    problems.append(f"{path}: traps.{i}.oid: {t.oid} is already declared in {where[t.oid]}")
                    continue
                out[t.oid], where[t.oid] = t, str(path)
    if problems:
        raise TrapDefError(problems)
    return out


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """A declared notification resolved to a device of the inventory."""

    device: str
    means: str
    trap: str
    sender: str
    at: float


class DeviceIndex:
    """Finds the inventory device a notification is about: by sender address, or by a name in a varbind."""

    def __init__(self, inv: Inventory):
        self.by_host: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        for site in inv.sites:
            devices: list[Device] = [*site.aps, *([site.uplink] if site.uplink is not None else [])]
            for dev in devices:
                self.by_host.setdefault(dev.host, dev.id)
                for name in (dev.id, dev.host, getattr(dev, "name_ja", None), getattr(dev, "name_en", None)):
                    if name:
                        self.by_name.setdefault(str(name).strip().casefold(), dev.id)

    def named(self, value: Any) -> str | None:
        raw = value.asOctets() if hasattr(value, "asOctets") else str(value).encode()
        text = bytes(raw[:256]).decode("utf-8", "replace").strip().casefold()
        return self.by_name.get(text)


def resolve(defs: dict[str, TrapDef], index: DeviceIndex, sender: str,
            varbinds: list[tuple[tuple[int, ...], Any]], at: float) -> TrapEvent | str:
    """The event a notification stands for, or why it was dropped (a short reason for the counter)."""
    values = {oid: val for oid, val in varbinds[:64]}
    trap_oid = values.get(SNMP_TRAP_OID)
    if trap_oid is None:
        return "no snmpTrapOID"
    try:
        key = ".".join(str(x) for x in tuple(trap_oid))
    except Exception:
        return "bad snmpTrapOID"
    d = defs.get(key)
    if d is None:
        return "not declared"
    device: str | None = None
    if d.ap_from:
        for oid, val in varbinds[:64]:
            text = ".".join(map(str, oid))
            if any(text == p or text.startswith(p + ".") for p in d.ap_from):
                device = index.named(val)
                if device:
                    break
    else:
        relayed = values.get(SNMP_TRAP_ADDRESS)
        host = ".".join(str(b) for b in relayed.asOctets()) if relayed is not None and hasattr(
            relayed, "asOctets") and len(relayed.asOctets()) == 4 else sender
        device = index.by_host.get(host)
    if device is None:
        return "unknown device"
    return TrapEvent(device, d.means, d.name, sender, at)


class TrapReceiver:
    """One pysnmp engine listening for notifications; calls ``on_event`` for each declared, known one.

    v1/v2c: the communities given. v3: the users given; INFORMs work with any sender (they are sent to
    this engine's ID), TRAPs need the sender's snmpEngineID in ``engine_ids`` (USM keys are localised to
    the sender's engine for traps).
    """

    def __init__(self, inv: Inventory, defs: dict[str, TrapDef], on_event: Callable[[TrapEvent], None],
                 communities: Iterable[str], users: Iterable[Any], engine_ids: Iterable[str] = (),
                 clock: Callable[[], float] | None = None):
        import time

        self.defs = defs
        self.index = DeviceIndex(inv)
        self.on_event = on_event
        self.communities = list(dict.fromkeys(communities))
        self.users = list(users)
        self.engine_ids = list(engine_ids)
        self.clock = clock or time.time
        self.received = 0
        self.dropped: dict[str, int] = {}
        self.engine: Any = None
        self.address: tuple[str, int] | None = None

    def reload(self, inv: Inventory) -> None:
        self.index = DeviceIndex(inv)

    def start(self, bind: str, port: int) -> tuple[str, int]:
        """Bind and start receiving on the running event loop; returns the bound (address, port)."""
        import socket

        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.api import v2c

        from collector.snmp.client import AUTH_PROTOCOLS, PRIV_PROTOCOLS

        snmp_engine = engine.SnmpEngine()
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((bind, port))
        sock.setblocking(False)
        self.address = sock.getsockname()[:2]
        transport = udp.UdpAsyncioTransport().open_server_mode(sock=sock)
        config.add_transport(snmp_engine, udp.DOMAIN_NAME, transport)
        for i, community in enumerate(self.communities):
            config.add_v1_system(snmp_engine, f"trap-c{i}", community)
        for user in self.users:
            kwargs: dict[str, Any] = {"authProtocol": AUTH_PROTOCOLS[user.auth_protocol],
                                      "privProtocol": PRIV_PROTOCOLS[user.priv_protocol]}
            if user.auth_protocol != "none" and user.auth_key is not None:
                kwargs["authKey"] = user.auth_key.reveal()
            if user.priv_protocol != "none" and user.priv_key is not None:
                kwargs["privKey"] = user.priv_key.reveal()
            config.add_v3_user(snmp_engine, user.user, **kwargs)  # INFORMs: our own engine ID
            for eid in self.engine_ids:
                config.add_v3_user(snmp_engine, user.user, securityEngineId=v2c.OctetString(hexValue=eid),
                                   **kwargs)
        ntfrcv.NotificationReceiver(snmp_engine, self._received)
        self.engine = snmp_engine
        log.info("trap receiver listening", extra=kv(bind=self.address[0], port=self.address[1],
                                                    declared=len(self.defs)))
        return self.address

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _received(self, snmp_engine: Any, state_ref: Any, _ctx_engine: Any, _ctx_name: Any, varbinds: Any,
                  _cb_ctx: Any) -> None:
        self.received += 1
        try:
            _, addr = snmp_engine.message_dispatcher.get_transport_info(state_ref)
            sender = str(addr[0])
            binds = [(tuple(oid), val) for oid, val in list(varbinds)[:64]]
            ev = resolve(self.defs, self.index, sender, binds, self.clock())
        except Exception as e:  # a malformed notification costs only itself
            self._drop("malformed")
            log.info("trap dropped", extra=kv(reason="malformed", error=type(e).__name__))
            return
        if isinstance(ev, str):
            self._drop(ev)
            log.debug("trap dropped", extra=kv(reason=ev, sender=sender))
            return
        log.info("trap", extra=kv(device=ev.device, trap=ev.trap, means=ev.means, sender=ev.sender))
        self.on_event(ev)

    def close(self) -> None:
        if self.engine is not None:
            import contextlib

            with contextlib.suppress(Exception):
                self.engine.close_dispatcher()
            self.engine = None


def credentials(inv: Inventory, resolver: Any) -> tuple[list[str], list[Any]]:
    """The v2c communities and v3 users of the inventory: a device sends traps with what it is polled with."""
    from collector.snmp.client import V3
    from core.secrets import SecretError

    communities: list[str] = []
    users: dict[tuple[Any, ...], Any] = {}
    settings = [inv.snmp] + [s.snmp for s in inv.sites] + [d.snmp for _, d in inv.aps()]
    for st in settings:
        if st is None:
            continue
        try:
            if st.version == "2c" and st.community:
                communities.append(resolver.resolve(st.community).reveal())
            elif st.version == "3" and st.user:
                auth = resolver.resolve_optional(st.auth_key) if st.auth_protocol != "none" else None
                priv = resolver.resolve_optional(st.priv_key) if st.priv_protocol != "none" else None
                u = V3(st.user, st.auth_protocol, auth, st.priv_protocol, priv)
                users.setdefault((st.user, st.auth_protocol, st.priv_protocol), u)
        except SecretError as e:
            log.error("trap receiver: cannot resolve a credential: %s", e)
    return communities, list(users.values())
