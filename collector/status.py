"""The daemon's current view of every device, as one JSON-able document: ``/status`` and ``wifiwatch status``.

:func:`status_document` is a pure function of the inventory, the alert state machine's states and the latest
heartbeat and poll points, so the daemon's HTTP endpoint, the web console and the CLI (which reads the same
state from the store file, without polling anything) all show the same thing. A view older than three
heartbeats is marked ``stale``: the daemon is not running, or not writing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from collector.alerts.state import DeviceState
from core.inventory import Inventory
from core.schema import Point, newest_live_per_device

JST = ZoneInfo("Asia/Tokyo")
STATES = ("up", "down", "degraded", "unknown")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, JST).isoformat(timespec="seconds")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def status_document(
    inv: Inventory, states: Mapping[str, DeviceState], pings: Mapping[str, Point], polls: Mapping[str, Point],
    now: float, lang: str = "ja",
) -> dict[str, Any]:
    """Per device: confirmed state (the one alerts are about), what the last heartbeat suggests, since when,
    the latest reachability, RTT, SNMP result, clients and vendor; plus counts per state."""
    devices: list[dict[str, Any]] = []
    newest: float | None = None
    for site in inv.sites:
        for dev, role in [*([(site.uplink, "uplink")] if site.uplink else []), *[(a, "ap") for a in site.aps]]:
            st = states.get(dev.id)
            ping, poll = pings.get(dev.id), polls.get(dev.id)
            beat = ping.time_ns / 1e9 if ping is not None else None
            if beat is not None:
                newest = beat if newest is None else max(newest, beat)
            every = inv.poll_for(site, dev).heartbeat_s
            clients = _num(poll.fields.get("clients")) if poll is not None else None
            devices.append({
                "site": site.id,
                "site_name": site.name_ja if lang == "ja" else site.name_en,
                "device": dev.id,
                "name": getattr(dev, "name_ja" if lang == "ja" else "name_en", None) or dev.id,
                "role": role,
                "state": st.confirmed.value if st is not None else "unknown",
                "phase": st.phase.value if st is not None else "unknown",
                "since": _iso(st.since) if st is not None else None,
                "since_ts": st.since if st is not None else None,
                "flapping": bool(st.flapping) if st is not None else False,
                "last_heartbeat": _iso(beat),
                "last_heartbeat_ts": beat,
                "stale": beat is None or now - beat > 3 * every,
                "reachable": bool(ping.fields.get("reachable")) if ping is not None else None,
                "rtt_ms": _num(ping.fields.get("rtt_ms")) if ping is not None else None,
                "snmp_ok": bool(poll.fields.get("snmp_ok")) if poll is not None else None,
                "clients": None if clients is None else int(clients),
                "vendor": poll.tags.get("vendor") if poll is not None else None,
            })
    counts = {s: sum(1 for d in devices if d["state"] == s) for s in STATES}
    return {"generated_at": _iso(now), "last_heartbeat": _iso(newest), "counts": counts, "devices": devices}


def latest_by_device(store: Any, measurement: str) -> dict[str, Point]:
    """The newest point of ``measurement`` per device id (tag ``ap``), from any store with ``latest``; a live
    point over the demo's simulated one even when that is newer."""
    return newest_live_per_device(store.latest(measurement).values(), lambda p: p.tags, lambda p: p.time_ns)


def read_status(inv: Inventory, store: Any, states: Mapping[str, DeviceState], now: float,
                lang: str = "ja") -> dict[str, Any]:
    """:func:`status_document` from a store (the daemon's own, or the file it writes)."""
    return status_document(inv, states, latest_by_device(store, "ap_ping"), latest_by_device(store, "ap_status"),
                           now, lang)
