"""The fleet now, built once from the store and the alert store: what every live view renders.

:func:`build_snapshot` reads the newest heartbeat and status rows (two queries on the embedded store), the alert
state machine's confirmed states, the maintenance windows (one merge, core.maintenance) and, for the console,
the open incidents; each device's state and reasons come from :func:`core.state.decide`. ``/status``,
``wifiwatch status``, the console's 状況, site and AP pages, the console map and the daemon's ``map.html`` all
render this object (or :func:`status_document`, its JSON form), so they cannot disagree.

Data age: ``data_at`` is the newest *live* heartbeat (the demo's simulated history never counts); ``monitor`` is
``live``, ``stale`` or ``no_data`` (core.state.monitor_state) and every view says so when it is not live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from core import state as st
from core.inventory import Inventory, Maintenance
from core.maintenance import active_windows, covering
from core.schema import SIMULATED_TAG

JST = ZoneInfo("Asia/Tokyo")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, JST).isoformat(timespec="seconds")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


_NONE: list[Any] = []  # shared by devices without open incidents (never appended to)


@dataclass(slots=True)
class DeviceView:
    """One device as every view shows it."""

    site: str
    site_name: str
    id: str
    name: str
    role: str  # "ap" or "uplink"
    state: str  # core.state.State value
    reasons: tuple[str, ...]
    confirmed: str  # the alert state machine's confirmed state (kept under maintenance and staleness)
    phase: str
    since: float | None
    flapping: bool
    last_beat: float | None  # newest live heartbeat (a simulated one only when there is no live one)
    age_s: float | None
    reachable: bool | None
    rtt_ms: float | None
    snmp_ok: bool | None
    clients: int | None  # None when down, or live but not polled lately
    vendor: str | None
    simulated: bool = False  # what is shown comes from the demo's simulated history only
    incidents: list[Any] = field(default_factory=list)
    clients_source: str | None = None  # "sessions": counted from open visitor sessions, not SNMP (issue 24)

    @property
    def clients_from_sessions(self) -> bool:
        """Whether the count shown is the visitor sessions' (every view labels it, from this one test)."""
        return self.clients is not None and self.clients_source == "sessions"

    @property
    def reason(self) -> str:
        return ",".join(self.reasons)

    @property
    def clients_text(self) -> str:
        return "-" if self.clients is None else str(self.clients)

    @property
    def since_text(self) -> str:
        return "-" if self.since is None else dt.datetime.fromtimestamp(self.since, JST).strftime("%m/%d %H:%M")


@dataclass
class SiteView:
    id: str
    name: str
    devices: list[DeviceView]
    state: str = "unknown"
    counts: dict[str, int] = field(default_factory=dict)  # APs only

    @property
    def clients(self) -> int:
        return sum(d.clients or 0 for d in self.devices if d.role == "ap")


@dataclass
class FleetSnapshot:
    at: float
    sites: list[SiteView]
    heartbeat_s: float
    data_at: float | None  # newest live heartbeat in the store
    monitor: str  # live | stale | no_data
    lang: str = "ja"

    def counts(self) -> dict[str, int]:
        """APs per state (uplinks: :meth:`uplink_counts`)."""
        return st.count(d.state for s in self.sites for d in s.devices if d.role == "ap")

    def uplink_counts(self) -> dict[str, int]:
        return st.count(d.state for s in self.sites for d in s.devices if d.role == "uplink")

    @property
    def data_age_s(self) -> float | None:
        return None if self.data_at is None else max(0.0, self.at - self.data_at)

    @property
    def live(self) -> bool:
        return self.monitor == "live"

    def devices(self) -> list[DeviceView]:
        return [d for s in self.sites for d in s.devices]

    def device(self, dev_id: str) -> tuple[SiteView, DeviceView] | None:
        for s in self.sites:
            for d in s.devices:
                if d.id == dev_id:
                    return s, d
        return None

    def site(self, site_id: str) -> SiteView | None:
        return next((s for s in self.sites if s.id == site_id), None)


# -- reading the store ----------------------------------------------------------------------------------
def _latest(store: Any, measurement: str, fields: Sequence[str]) -> dict[str, tuple[dict[str, str], int, list[Any]]]:
    """Device id -> (tags, time_ns, values) of its newest live row (simulated only where no live row exists)."""
    if hasattr(store, "latest_fields"):
        rows = store.latest_fields(measurement, tuple(fields))
    else:
        rows = [(p.tags, p.time_ns, [p.fields.get(f) for f in fields]) for p in store.latest(measurement).values()]
    return _newest_live(rows)


def _newest_live(rows: Sequence[tuple[dict[str, str], int, list[Any]]]
                 ) -> dict[str, tuple[dict[str, str], int, list[Any]]]:
    """core.schema.newest_live_per_device for (tags, time_ns, values) rows, without a key call per row (10,000
    APs: ~5 ms instead of ~60): per device its newest live row, a simulated one only where no live one exists."""
    out: dict[str, tuple[dict[str, str], int, list[Any]]] = {}
    for r in rows:
        dev = r[0].get("ap")
        if dev is None:
            continue
        cur = out.get(dev)
        if cur is None or ((r[0].get(SIMULATED_TAG) != "true", r[1]) > (cur[0].get(SIMULATED_TAG) != "true", cur[1])):
            out[dev] = r
    return out


def newest_live_beat(store: Any) -> float | None:
    """The newest live (not simulated) heartbeat in the store, epoch seconds; None when there is none."""
    beats = _latest(store, "ap_ping", ())
    times = [t for tags, t, _ in beats.values() if tags.get(SIMULATED_TAG) != "true"]
    return max(times) / 1e9 if times else None


def _heartbeat_of(inv: Inventory, site: Any, dev: Any) -> float:
    if site.poll is None and getattr(dev, "poll", None) is None:  # poll_for builds a model: not per AP at scale
        return inv.defaults.heartbeat_s
    return inv.poll_for(site, dev).heartbeat_s


def _interval_of(inv: Inventory, site: Any, dev: Any) -> float:
    if site.poll is None and getattr(dev, "poll", None) is None:
        return inv.defaults.interval_s
    return inv.poll_for(site, dev).interval_s


def build_snapshot(inv: Inventory, store: Any, states: Mapping[str, Any], now: float, lang: str = "ja",
                   adhoc: Sequence[tuple[str, str, str, str, str]] = (), incidents: Sequence[Any] = ()
                   ) -> FleetSnapshot:
    """The fleet at ``now``: ``states`` the alert engine's (in memory in the daemon, else read from the store),
    ``adhoc`` the maintenance windows added at run time, ``incidents`` the open ones (attached per device)."""
    pings = _latest(store, "ap_ping", ("reachable", "rtt_ms"))
    polls = _latest(store, "ap_status", ("clients", "snmp_ok", "clients_source"))
    windows: list[Maintenance] = active_windows(inv.maintenance, adhoc)
    live_times = [t for tags, t, _ in pings.values() if tags.get(SIMULATED_TAG) != "true"]
    data_at = max(live_times) / 1e9 if live_times else None
    hb_fleet = inv.defaults.heartbeat_s
    monitor = st.monitor_state(data_at, hb_fleet, now)
    open_by_dev: dict[str, list[Any]] = {}
    for inc in incidents:
        open_by_dev.setdefault(inc.device, []).append(inc)
    en = lang == "en"
    sites: list[SiteView] = []
    default_limit = st.stale_after(inv.defaults.interval_s)
    decide, stale, down_state = st.decide, st.State.STALE, st.State.DOWN
    for site in inv.sites:
        up = states.get(site.uplink.id) if site.uplink is not None else None
        uplink_down = up is not None and up.confirmed == "down"
        site_windows = [w for w in windows if w.target in ("*", site.id) or w.target in _ids(site)]
        site_name = site.name_en if en else site.name_ja
        rows: list[DeviceView] = []
        for dev, role in [*([(site.uplink, "uplink")] if site.uplink else []), *[(a, "ap") for a in site.aps]]:
            s = states.get(dev.id)
            confirmed = str(s.confirmed) if s is not None else "unknown"  # a StrEnum: str() is its value
            ping, poll = pings.get(dev.id), polls.get(dev.id)
            simulated = ping is not None and ping[0].get(SIMULATED_TAG) == "true"
            beat = ping[1] / 1e9 if ping is not None else None
            plain = site.poll is None and dev.poll is None  # building PollSettings per AP costs more than the rest
            w = covering(site_windows, dev.id, site.id, now) if site_windows else None
            state, reasons = decide(confirmed, last_beat=None if simulated else beat,
                                    heartbeat_s=hb_fleet if plain else _heartbeat_of(inv, site, dev), now=now,
                                    monitor=monitor, window=None if w is None else w.id,
                                    behind_uplink=role == "ap" and uplink_down,
                                    flapping=s is not None and bool(s.flapping))
            clients = snmp = None
            if poll is not None:
                clients, snmp = _num(poll[2][0]), poll[2][1]
                limit = default_limit if plain else st.stale_after(_interval_of(inv, site, dev))
                # a down AP has no clients; a live row's count must be from a recent poll; a stale row keeps its
                # last count (the row says how old it is)
                if state == down_state or confirmed == "down" or (state != stale and now - poll[1] / 1e9 > limit):
                    clients = None
            reach = ping[2][0] if ping is not None else None
            rows.append(DeviceView(
                site.id, site_name, dev.id, getattr(dev, "name_en" if en else "name_ja", None) or dev.id, role,
                state, reasons, confirmed, str(s.phase) if s is not None else "unknown",
                s.since if s is not None else None, s is not None and bool(s.flapping),
                beat, None if beat is None else max(0.0, now - beat),
                None if reach is None else bool(reach), _num(ping[2][1]) if ping is not None else None,
                None if snmp is None else bool(snmp), None if clients is None else int(clients),
                poll[0].get("vendor") if poll is not None else None, simulated, open_by_dev.get(dev.id, _NONE),
                poll[2][2] if poll is not None else None))
        sites.append(SiteView(site.id, site_name, rows, st.rollup(d.state for d in rows),
                              st.count(d.state for d in rows if d.role == "ap")))
    return FleetSnapshot(now, sites, hb_fleet, data_at, monitor, lang)


def _ids(site: Any) -> set[str]:
    return {a.id for a in site.aps} | ({site.uplink.id} if site.uplink is not None else set())


def read_snapshot(inv: Inventory, store: Any, alerts: Any, now: float, lang: str = "ja",
                  states: Mapping[str, Any] | None = None, with_incidents: bool = False) -> FleetSnapshot:
    """:func:`build_snapshot` from an alert store (collector.alerts.store.AlertStore): its saved states unless the
    daemon's in-memory ``states`` are given, its added windows and (``with_incidents``) open incidents."""
    if states is None:
        states = alerts.load_states() if alerts is not None else {}
    adhoc = alerts.maintenance() if alerts is not None else ()
    incidents = alerts.incidents(open_only=True) if alerts is not None and with_incidents else ()
    return build_snapshot(inv, store, states, now, lang, adhoc, incidents)


# -- the JSON form: /status and `wifiwatch status --format json` --------------------------------------------
def status_document(snap: FleetSnapshot) -> dict[str, Any]:
    """Per device: the state shown and why, the confirmed (alert) state, since when, the newest heartbeat and
    its age, reachability, RTT, SNMP result, clients and vendor; counts per state over APs, uplinks apart."""
    devices = [{
        "site": d.site, "site_name": d.site_name, "device": d.id, "name": d.name, "role": d.role,
        "state": d.state, "reasons": list(d.reasons), "confirmed": d.confirmed, "phase": d.phase,
        "since": _iso(d.since), "since_ts": d.since, "flapping": d.flapping,
        "last_heartbeat": _iso(d.last_beat), "last_heartbeat_ts": d.last_beat,
        "age_s": None if d.age_s is None else round(d.age_s, 1), "stale": d.state == st.State.STALE,
        "simulated": d.simulated, "reachable": d.reachable, "rtt_ms": d.rtt_ms, "snmp_ok": d.snmp_ok,
        "clients": d.clients, "clients_source": "sessions" if d.clients_from_sessions else None, "vendor": d.vendor,
    } for d in snap.devices()]
    return {"generated_at": _iso(snap.at), "last_heartbeat": _iso(snap.data_at), "data_at": _iso(snap.data_at),
            "data_age_s": None if snap.data_age_s is None else round(snap.data_age_s, 1),
            "monitor": snap.monitor, "heartbeat_s": snap.heartbeat_s, "counts": snap.counts(),
            "uplinks": snap.uplink_counts(), "devices": devices}
