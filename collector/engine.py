"""One heartbeat cycle and one poll cycle over the fleet: the work, without the scheduling.

The daemon (daemon.py) runs these on timers; ``wifiwatch poll --once`` and the tests call them directly.
Every device's work is bounded in time and its failures become data, so one dead or misbehaving AP
never delays or breaks the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collector import metrics
from collector.icmp import PingResult, ping_batch, raw_sockets_permitted
from collector.shard import in_shard
from collector.snmp.client import SnmpClient
from collector.snmp.poller import ApPoller, PollResult, snmp_heartbeat, target_for, to_points
from collector.snmp.profiles import load_profiles
from collector.traps import MAX_PENDING, TrapEvent, TrapReceiver, credentials, load_trap_defs
from core.inventory import Device, Inventory, Site
from core.logs import kv
from core.schema import ROLE_AP, ROLE_CONTROLLER, ROLE_UPLINK, Point, PointWriter
from core.secrets import REDACTOR, SecretError, SecretResolver

log = logging.getLogger("wifiwatch.collector")


@dataclass(frozen=True, slots=True)
class DeviceRef:
    site: Site
    device: Device
    role: str

    @property
    def id(self) -> str:
        return self.device.id


@dataclass(slots=True)
class Ping:
    reachable: bool
    rtt_ms: float | None
    loss_pct: float | None
    method: str
    at: float


@dataclass
class CycleStats:
    started: float = 0.0
    duration_s: float = 0.0
    devices: int = 0
    ok: int = 0
    errors: int = 0
    points: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def devices_of(inv: Inventory, owns: Callable[[str], bool] | None = None) -> list[DeviceRef]:
    """APs and uplinks of this collector's shard, in inventory order; ``owns``: a group member's assignment
    (collector/cluster), which replaces the fixed shard."""
    index, count = inv.cluster.index_count

    def mine(dev: str) -> bool:
        return owns(dev) if owns is not None else in_shard(dev, index, count)

    out: list[DeviceRef] = []
    for site in inv.sites:
        if site.uplink is not None and mine(site.uplink.id):
            out.append(DeviceRef(site, site.uplink, ROLE_UPLINK))
        for ap in site.aps:
            # An AP whose up/down comes from its controller is not reached directly (NAT, LTE): its controller's
            # poll speaks for it (collector/controllers.py).
            if mine(ap.id) and ap.availability_from != "controller":
                out.append(DeviceRef(site, ap, ROLE_AP))
    for ctl in inv.controllers:
        if mine(ctl.id):
            out.append(DeviceRef(inv.site(ctl.site), ctl, ROLE_CONTROLLER))
    return out


class FleetEngine:
    """Holds what must survive between cycles: counters, last pings, transports; reloadable."""

    def __init__(
        self,
        inv: Inventory,
        resolver: SecretResolver,
        writer: PointWriter | None,
        alerts: Any | None = None,
        use_icmp: bool | None = None,
        clock: Callable[[], float] = time.time,
        max_concurrency: int = 256,
    ):
        self.resolver = resolver
        self.writer = writer
        self.alerts = alerts
        self.clock = clock
        self.client = SnmpClient(max_concurrency=max_concurrency)
        self.profiles = load_profiles()
        self.poller = ApPoller(self.client, self.profiles)
        self.last_ping: dict[str, Ping] = {}
        self.last_poll: dict[str, PollResult] = {}
        self.controller_aps: dict[str, Any] = {}  # controller id -> collector.controllers.Matched (last poll)
        self._unknown_seen: dict[str, set[str]] = {}
        self._visitor_store: Any = None  # core.visitors.store.VisitorStore, opened when live counts are first needed
        self._tables: Any = None  # (client table defs, ClientTableSessions) once an AP has visitor_snmp = true
        self.heartbeat_stats = CycleStats()
        self.poll_stats = CycleStats()
        permitted = raw_sockets_permitted()
        if use_icmp is None:
            use_icmp = permitted
        elif use_icmp and not permitted:
            use_icmp = False
        self.use_icmp = use_icmp
        if not use_icmp:
            log.warning(
                "ICMP disabled: raw sockets are not permitted for this process; reachability comes from "
                "SNMP only (run as root or grant CAP_NET_RAW to enable ICMP heartbeats)",
                extra=kv(icmp=False),
            )
        self.inv = inv
        self.owns: Callable[[str], bool] | None = None  # a group member's assignment (collector/cluster)
        self.devices: list[DeviceRef] = []
        self._targets: dict[str, Any] = {}
        self._target_errors: dict[str, str] = {}
        self.traps: TrapReceiver | None = None
        self.trap_stats: dict[str, int] = {}
        self._trap_changes: dict[str, list[float]] = {}
        self._probing: set[str] = set()
        self._trap_tasks: set[asyncio.Task[None]] = set()
        self.reload(inv)

    # -- configuration ------------------------------------------------------------------------
    def reload(self, inv: Inventory) -> None:
        """Swap the inventory, keeping counters and pings of devices that still exist."""
        self.inv = inv
        self.devices = devices_of(inv, self.owns)
        if self._tables is not None:
            self._tables[1].reload(inv)  # visitor_snmp / visitor_ids changes (open sessions are kept)
        keep = {d.id for d in self.devices}
        self.last_ping = {k: v for k, v in self.last_ping.items() if k in keep}
        self.last_poll = {k: v for k, v in self.last_poll.items() if k in keep}
        self.poller.retain(keep)
        self._targets.clear()
        self._target_errors.clear()
        for d in self.devices:
            try:
                self._targets[d.id] = target_for(inv, d.site, d.device, self.resolver)
            except SecretError as e:
                self._target_errors[d.id] = str(e)
                log.error("cannot poll device: %s", e, extra=kv(device=d.id))
        self.client.retain(list(self._targets.values()))
        self._trap_changes = {k: v for k, v in self._trap_changes.items() if k in keep}
        if self.traps is not None:
            self.traps.reload(inv)
        if self.alerts is not None:
            self.alerts.reload(inv)
        metrics.DEVICES.set(len(self.devices))

    def vendor_of(self, d: DeviceRef) -> str:
        return getattr(d.device, "vendor", "generic") if d.role in (ROLE_AP, ROLE_CONTROLLER) else "generic"

    def _write(self, points: Sequence[Point]) -> None:
        if self.writer is not None and points:
            self.writer.write(points)
            metrics.POINTS_WRITTEN.inc(len(points))

    # -- heartbeat ----------------------------------------------------------------------------
    async def heartbeat_once(self, devices: Sequence[DeviceRef] | None = None) -> dict[str, Ping]:
        """Probe every device once; write ap_ping points; feed the alert state machine."""
        devs = list(devices if devices is not None else self.devices)
        start = self.clock()
        t0 = time.perf_counter()
        results: dict[str, Ping] = {}
        if self.use_icmp:
            timeout = min(max(self.inv.poll_for(d.site, d.device).timeout_s for d in devs), 5.0) if devs else 1.0
            pings: list[PingResult] = await asyncio.to_thread(
                ping_batch, [self._host(d) for d in devs], timeout, 1
            )
            by_host = {p.host: p for p in pings}
            for d in devs:
                p = by_host[self._host(d)]
                results[d.id] = Ping(p.reachable, p.rtt_ms, p.loss_pct, "icmp", start)
        else:
            async def one(d: DeviceRef) -> tuple[str, Ping]:
                target = self._targets.get(d.id)
                if target is None:
                    return d.id, Ping(False, None, 100.0, "snmp", start)
                ok, rtt = await snmp_heartbeat(self.client, target)
                return d.id, Ping(ok, rtt, 0.0 if ok else 100.0, "snmp", start)

            results = dict(await asyncio.gather(*(one(d) for d in devs)))
        self.last_ping.update(results)
        ns = int(start * 1e9)
        points = [
            Point("ap_ping", {"site": d.site.id, "ap": d.id, "role": d.role},
                  _drop_none({"reachable": r.reachable, "rtt_ms": r.rtt_ms, "loss_pct": r.loss_pct,
                              "method": r.method}), ns)
            for d in devs
            for r in [results[d.id]]
        ]
        if self.alerts is not None:
            from collector.alerts.state import Heartbeat

            beats: dict[str, Heartbeat | None] = {
                d.id: Heartbeat(r.reachable, r.rtt_ms, r.loss_pct) for d in devs for r in [results[d.id]]
            }
            points.extend(await asyncio.to_thread(self.alerts.observe, start, beats))
        await asyncio.to_thread(self._write, points)
        down = sum(1 for r in results.values() if not r.reachable)
        metrics.DEVICES_DOWN.set(down)
        elapsed = time.perf_counter() - t0
        metrics.HEARTBEAT_SECONDS.observe(elapsed)
        self.heartbeat_stats = CycleStats(start, elapsed, len(devs), len(devs) - down, down, len(points))
        return results

    def _host(self, d: DeviceRef) -> str:
        return d.device.host

    # -- full poll ----------------------------------------------------------------------------
    async def poll_once(self, devices: Sequence[DeviceRef] | None = None) -> dict[str, PollResult]:
        """Poll every device over SNMP concurrently; write status, clients and traffic points."""
        devs = list(devices if devices is not None else self.devices)
        start = self.clock()
        t0 = time.perf_counter()

        async def one(d: DeviceRef) -> tuple[DeviceRef, PollResult | None, str | None]:
            target = self._targets.get(d.id)
            if target is None:
                return d, None, self._target_errors.get(d.id, "no SNMP target")
            settings = self.inv.poll_for(d.site, d.device)
            # The poller bounds itself; this outer bound is a backstop against any library hang. It starts
            # once the device holds a concurrency slot (the poller then takes no second one): waiting behind
            # other APs in a long cycle is not this AP hanging.
            bound = settings.timeout_s * (settings.retries + 1) * 4 + 5
            try:
                async with self.client.slot(), asyncio.timeout(bound):  # no extra task per device
                    res = await self.poller.poll(d.id, target, self.vendor_of(d))
                return d, res, None
            except TimeoutError:
                return d, None, f"poll exceeded {bound:.0f} s"
            except Exception as e:  # a bug in one AP's decoding must not stop the fleet
                log.exception("poll failed unexpectedly", extra=kv(device=d.id))
                return d, None, REDACTOR(f"internal error: {type(e).__name__}: {e}")

        outcomes = await asyncio.gather(*(one(d) for d in devs))
        await self._client_tables(outcomes, start)
        from_sessions = await self._session_counts(outcomes, start)
        points: list[Point] = []
        results: dict[str, PollResult] = {}
        errors = 0
        ns = int(start * 1e9)
        for d, res, err in outcomes:
            metrics.POLLS.inc()
            ping = self.last_ping.get(d.id)
            ping_t = (ping.reachable, ping.rtt_ms, ping.loss_pct) if ping else None
            if res is None:
                errors += 1
                metrics.POLL_ERRORS.labels(d.id, "config" if d.id in self._target_errors else "internal").inc()
                fields = _drop_none({"snmp_ok": False, "error": err or "unknown",
                                     "reachable": ping.reachable if ping else None,
                                     "rtt_ms": ping.rtt_ms if ping else None})
                points.append(Point("ap_status", {"site": d.site.id, "ap": d.id, "vendor": self.vendor_of(d),
                                                  "role": d.role}, fields, ns))
                continue
            results[d.id] = res
            self.last_poll[d.id] = res
            if not res.ok:
                errors += 1
                metrics.POLL_ERRORS.labels(d.id, str(getattr(res, "error_kind", "error"))).inc()
                log.info("poll failed", extra=kv(device=d.id, error=res.error))
            if d.id in from_sessions:
                res.clients, res.clients_source = from_sessions[d.id], "sessions"
            points.extend(to_points(d.site.id, d.id, d.role, res, ns, ping_t))
            if self.alerts is not None and d.role == ROLE_AP:
                points.extend(self.alerts.observe_clients(start, d.id, res.clients, len(res.clients_by_radio) or None))
        for d, res, _ in outcomes:
            if d.role == ROLE_CONTROLLER:
                points.extend(await asyncio.to_thread(self._controller, d, res, start))
        await asyncio.to_thread(self._write, points)
        elapsed = time.perf_counter() - t0
        metrics.POLL_SECONDS.observe(elapsed)
        self.poll_stats = CycleStats(start, elapsed, len(devs), len(devs) - errors, errors, len(points))
        log.info("poll cycle", extra=kv(devices=len(devs), errors=errors, seconds=round(elapsed, 3),
                                         points=len(points)))
        return results

    async def _session_counts(self, outcomes: Sequence[tuple[DeviceRef, PollResult | None, str | None]],
                              now: float) -> dict[str, int]:
        """Live client counts from open visitor sessions (``[visitors] live_counts``) for the APs that answered
        SNMP without a client count (Yamaha WLX, NEC, Buffalo) and have ``visitor_ids``: the count is written as
        their ``ap_status.clients`` with ``clients_source = "sessions"``. Never replaces a count SNMP gave."""
        v = self.inv.visitors
        if not (v.enabled and v.live_counts):
            return {}
        wanted = {d.id for d, res, _ in outcomes if res is not None and res.ok and res.clients is None
                  and d.role == ROLE_AP and getattr(d.device, "visitor_ids", None)}
        if not wanted:
            return {}
        counts = await asyncio.to_thread(self._open_sessions, now, v.idle_timeout_min * 60)
        return {ap: counts.get(ap, 0) for ap in wanted}

    def _visitors(self) -> Any:
        if self._visitor_store is None:
            from core.visitors.store import VisitorStore

            self._visitor_store = VisitorStore(self.inv.store.path)
        return self._visitor_store

    def _open_sessions(self, now: float, idle_s: float) -> dict[str, int]:
        return self._visitors().open_counts(now, idle_s)  # type: ignore[no-any-return]

    async def _client_tables(self, outcomes: Sequence[tuple[DeviceRef, PollResult | None, str | None]],
                             now: float) -> None:
        """Associated-client tables over SNMP as visitor sessions, for APs with ``visitor_snmp = true``
        (collector/visitors/snmp_tables.py): walked on the AP itself, or on the controller that manages it."""
        opted = [ap for _s, ap in self.inv.aps() if ap.visitor_snmp]
        if not opted:
            return
        if self._tables is None:
            from collector.visitors.service import key_file
            from collector.visitors.snmp_tables import ClientTableSessions, load_tables
            from core.visitors.keys import KeyRing

            keys = KeyRing(key_file(self.inv), returning=self.inv.visitors.returning)
            self._tables = (load_tables(), ClientTableSessions(self.inv, self._visitors(), keys))
        tables, sessions = self._tables
        from collector.visitors.snmp_tables import mac_text

        controllers = {ap.controller for ap in opted if ap.controller}
        for d, res, _ in outcomes:
            t = tables.get(res.vendor) if res is not None and res.ok else None
            own = d.role == ROLE_AP and bool(getattr(d.device, "visitor_snmp", False))
            if t is None or not (own or (d.role == ROLE_CONTROLLER and d.id in controllers and t.ap_column)):
                continue
            target = self._targets.get(d.id)
            if target is None:
                continue
            cols = [t.oid(t.mac_column)] + ([t.oid(t.ap_column)] if t.ap_column else [])
            settings = self.inv.poll_for(d.site, d.device)
            try:
                async with self.client.slot(), asyncio.timeout(settings.timeout_s * (settings.retries + 1) * 4 + 5):
                    walked = await self.client.walk_columns(target, cols, max_rows=t.max_rows)
            except Exception as e:  # noqa: BLE001 - a client table is extra: the poll itself stands
                log.info("client table walk failed", extra=kv(device=d.id, table=t.table, error=str(e)[:200]))
                continue
            macs = walked.get(cols[0], {})
            aps = walked.get(cols[1], {}) if t.ap_column else {}
            rows = [(m, mac_text(aps[i].value) if t.ap_column and i in aps else None)
                    for i, v in macs.items() if (m := mac_text(v.value)) is not None]
            by_ap = sessions.rows_by_ap(d.id if own else None, rows)
            for ap in opted:  # an opted AP with no row this time: its clients all left
                if (own and ap.id == d.id) or (not own and ap.controller == d.id):
                    by_ap.setdefault(ap.id, [])
            for ap_id, ap_macs in by_ap.items():
                await asyncio.to_thread(sessions.update, ap_id, ap_macs, now)

    # -- traps --------------------------------------------------------------------------------------
    def start_traps(self, on_change: Callable[[], None] | None = None) -> TrapReceiver | None:
        """Listen for the traps of ``[traps]`` (if enabled and alerting); ``on_change`` after a confirmed one."""
        settings = self.inv.traps
        if not settings.enabled or self.alerts is None:
            return None
        communities, users = credentials(self.inv, self.resolver)

        def on_event(ev: TrapEvent) -> None:
            if len(self._trap_tasks) >= MAX_PENDING:
                self._count("overflow")
                return
            task = asyncio.get_running_loop().create_task(self._trap_then(ev, on_change))
            self._trap_tasks.add(task)
            task.add_done_callback(self._trap_tasks.discard)

        self.traps = TrapReceiver(self.inv, load_trap_defs(), on_event, communities, users, settings.engine_ids,
                                  clock=self.clock)
        self.traps.start(settings.bind, settings.port)
        return self.traps

    async def _trap_then(self, ev: TrapEvent, on_change: Callable[[], None] | None) -> None:
        try:
            if await self.handle_trap(ev) and on_change is not None:
                on_change()
        except Exception:  # a bug here must not stop the receiver
            log.exception("trap handling failed", extra=kv(device=ev.device))

    def _count(self, what: str) -> None:
        self.trap_stats[what] = self.trap_stats.get(what, 0) + 1

    async def handle_trap(self, ev: TrapEvent) -> bool:
        """Probe the device a trap names; a probe that agrees opens or closes its outage at once.

        Returns True when the alert state changed (the daemon then delivers at once). One probe per device
        at a time (later traps fold into it); after two trap-driven changes within ``[traps] hold_s`` a
        device's traps fold into its incident and the heartbeats decide, so a flapping link is one incident.
        """
        target = self._targets.get(ev.device)
        if self.alerts is None or target is None:
            self._count("unknown")
            return False
        if ev.device in self._probing:
            self._count("folded")
            return False
        now = self.clock()
        hold = self.inv.traps.hold_s
        recent = [t for t in self._trap_changes.get(ev.device, []) if now - t < hold]
        if len(recent) >= 2:
            self._count("folded")
            log.info("trap folded into the current incident", extra=kv(device=ev.device, trap=ev.trap))
            return False
        self._probing.add(ev.device)
        try:
            probe = dataclasses.replace(target, timeout_s=min(target.timeout_s, self.inv.traps.probe_timeout_s),
                                        retries=1)
            with self.client.unmetered():
                ok, _ = await snmp_heartbeat(self.client, probe)
        finally:
            self._probing.discard(ev.device)
        if ok != (ev.means == "up"):
            self._count("not_confirmed")
            log.info("trap not confirmed by probe", extra=kv(device=ev.device, trap=ev.trap, answered=ok))
            return False
        points = await asyncio.to_thread(self.alerts.observe_trap, self.clock(), ev.device, ok, f"trap {ev.trap}")
        if not points:
            self._count("no_change")
            return False
        self._count("acted")
        self._trap_changes[ev.device] = [*recent, now]
        await asyncio.to_thread(self._write, points)
        return True

    def _controller(self, d: DeviceRef, res: PollResult | None, start: float) -> list[Point]:
        """The controller's APs: their series, and the join state as the heartbeat of controller-sourced APs."""
        from collector.controllers import controller_points, join_heartbeats

        points, found = controller_points(self.inv, d.id, res.vendor if res else self.vendor_of(d), res,
                                          int(start * 1e9))
        if found.unknown and {a.index for a in found.unknown} != self._unknown_seen.get(d.id):
            self._unknown_seen[d.id] = {a.index for a in found.unknown}
            log.warning("controller reports APs that are not in sites.toml (written under site 'unassigned')",
                        extra=kv(controller=d.id, aps=", ".join(a.name or a.mac or a.index
                                                                for a in found.unknown[:20]),
                                 count=len(found.unknown)))
        self.controller_aps[d.id] = found
        beats = join_heartbeats(self.inv, d.id, found, bool(res and res.ok))
        if self.alerts is not None and beats:
            from collector.alerts.state import Heartbeat

            points.extend(self.alerts.observe(start, {ap: None if up is None else Heartbeat(up, None, None)
                                                      for ap, up in beats.items()}))
            for ap_id in beats:  # saturation, as for a directly polled AP
                if ap_id in found.aps and found.aps[ap_id][2].clients is not None:
                    points.extend(self.alerts.observe_clients(start, ap_id, found.aps[ap_id][2].clients))
        return points

    async def close(self) -> None:
        if self.traps is not None:
            self.traps.close()
        if self._visitor_store is not None:
            self._visitor_store.close()
        close = getattr(self.client, "close", None)
        if close is not None:
            res = close()
            if asyncio.iscoroutine(res):
                await res


def _drop_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
