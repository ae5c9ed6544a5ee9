"""A controller's APs as series of their own: matched to sites.toml by name, MAC or serial, unknown ones kept.

A WLC, Catalyst 9800, SmartZone, Unleashed master, FortiGate, Meraki cloud or Huawei AC answers for many
APs (profile ``[aps]``). Each AP in sites.toml that names the controller (``controller = "wlc1"``) declares
how it is recognised (``controller_match = { name = ..., mac = ..., serial = ... }``). Every AP the
controller reports becomes an ``ap_controller`` point: matched ones under their own site and id, unknown
ones under site ``unassigned`` and ``<controller>:<name or MAC>``, so a newly joined AP is visible at once
instead of silently dropped. APs with ``availability_from = "controller"`` (behind NAT, on LTE) also get
their ``ap_status`` and ``ap_ping`` from the join state: the controller is their heartbeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from collector.snmp.poller import ControllerAp, PollResult
from core.inventory import AccessPoint, Inventory, Site
from core.schema import ROLE_AP, Point

UNASSIGNED = "unassigned"


def norm_mac(mac: str) -> str:
    hexdigits = re.sub(r"[^0-9a-fA-F]", "", mac).lower()
    return ":".join(hexdigits[i:i + 2] for i in range(0, 12, 2)) if len(hexdigits) == 12 else mac.lower()


@dataclass
class Matched:
    """The outcome for one controller poll."""

    aps: dict[str, tuple[Site, AccessPoint, ControllerAp]] = field(default_factory=dict)  # by AP id
    unknown: list[ControllerAp] = field(default_factory=list)  # reported, not in sites.toml
    missing: list[str] = field(default_factory=list)  # in sites.toml, not reported (not joined)


def match(inv: Inventory, controller_id: str, reported: Sequence[ControllerAp]) -> Matched:
    """Pair reported APs with the inventory's: MAC first, then serial, then name (case-insensitive)."""
    out = Matched()
    by_mac = {norm_mac(a.mac): a for a in reported if a.mac}
    by_serial = {a.serial.strip().lower(): a for a in reported if a.serial}
    by_name = {a.name.strip().lower(): a for a in reported if a.name}
    used: set[str] = set()
    for site, ap in inv.managed_by(controller_id):
        m = ap.controller_match
        hit = None
        if m is not None:
            hit = ((by_mac.get(norm_mac(m.mac)) if m.mac else None)
                   or (by_serial.get(m.serial.strip().lower()) if m.serial else None)
                   or (by_name.get(m.name.strip().lower()) if m.name else None))
        if hit is None or hit.index in used:
            out.missing.append(ap.id)
            continue
        used.add(hit.index)
        out.aps[ap.id] = (site, ap, hit)
    out.unknown = [a for a in reported if a.index not in used]
    return out


def _unknown_id(controller_id: str, a: ControllerAp) -> str:
    label = a.name or a.mac or a.serial or a.index
    return f"{controller_id}:{label}"[:80]


def controller_points(inv: Inventory, controller_id: str, vendor: str, res: PollResult | None,
                      time_ns: int) -> tuple[list[Point], Matched]:
    """ap_controller for every reported AP; ap_status and ap_ping for ``availability_from = "controller"`` APs.

    ``res`` None or not ok (the controller did not answer): no per-AP point at all; the controller's own
    status says it is silent, and its APs' state is unknown (one incident, not one per AP).
    """
    if res is None or not res.ok:
        return [], Matched(missing=[ap.id for _, ap in inv.managed_by(controller_id)])
    found = match(inv, controller_id, res.aps)
    points: list[Point] = []
    for ap_id, (site, ap, rep) in found.aps.items():
        fields: dict[str, float | int | bool | str] = {}
        if rep.joined is not None:
            fields["joined"] = rep.joined
        if rep.clients is not None:
            fields["clients"] = int(rep.clients)
        if rep.name:
            fields["name"] = rep.name
        points.append(Point("ap_controller", {"site": site.id, "ap": ap_id, "controller": controller_id},
                            fields or {"joined": True}, time_ns))
        if ap.availability_from == "controller":
            joined = bool(rep.joined) if rep.joined is not None else True
            status: dict[str, float | int | bool | str] = {"reachable": joined, "snmp_ok": True}
            if rep.clients is not None:
                status["clients"] = int(rep.clients)
            points.append(Point("ap_status", {"site": site.id, "ap": ap_id, "vendor": vendor, "role": ROLE_AP},
                                status, time_ns))
            points.append(Point("ap_ping", {"site": site.id, "ap": ap_id, "role": ROLE_AP},
                                {"reachable": joined, "method": "controller"}, time_ns))
    for ap_id in found.missing:
        site, ap = inv.ap(ap_id)
        if ap.availability_from == "controller":  # not in the controller's table: not joined
            points.append(Point("ap_status", {"site": site.id, "ap": ap_id, "vendor": vendor, "role": ROLE_AP},
                                {"reachable": False, "snmp_ok": True,
                                 "error": f"not reported by controller {controller_id}"}, time_ns))
            points.append(Point("ap_ping", {"site": site.id, "ap": ap_id, "role": ROLE_AP},
                                {"reachable": False, "method": "controller"}, time_ns))
    for rep in found.unknown:
        fields = {"name": rep.name or "", "mac": rep.mac or "", "serial": rep.serial or ""}
        if rep.joined is not None:
            fields["joined"] = rep.joined
        if rep.clients is not None:
            fields["clients"] = int(rep.clients)
        points.append(Point("ap_controller", {"site": UNASSIGNED, "ap": _unknown_id(controller_id, rep),
                                              "controller": controller_id}, fields, time_ns))
    return points, found


def join_heartbeats(inv: Inventory, controller_id: str, found: Matched, answered: bool) -> dict[str, bool | None]:
    """The heartbeat of each ``availability_from = "controller"`` AP: joined, not joined, or None (no data)."""
    out: dict[str, bool | None] = {}
    for _, ap in inv.managed_by(controller_id):
        if ap.availability_from != "controller":
            continue
        if not answered:
            out[ap.id] = None
        elif ap.id in found.aps:
            joined = found.aps[ap.id][2].joined
            out[ap.id] = True if joined is None else joined
        else:
            out[ap.id] = False
    return out
