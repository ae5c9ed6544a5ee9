"""Simulated history for the demo: a daily client curve, weekend peaks, a few outages. Deterministic per seed.

Demo data only: the demo writes it to its own store and says so; the daemon never writes it. Every point carries
the tag ``simulated="true"`` (analytics.coverage.SIMULATED_TAG), so every report, table and export that reads it
says so, and open data refuses it unless asked explicitly; the tag travels with the points to InfluxDB too.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator

from analytics.coverage import SIMULATED_TAG
from core.inventory import Inventory
from core.schema import Point

STEP_S = 300  # one sample every 5 minutes keeps a month small


def _clients(base: float, t: float, rnd: random.Random) -> int:
    local_h = ((t / 3600) + 9) % 24  # JST
    weekday = int(((t / 86400) + 3) % 7)  # 1970-01-01 was a Thursday
    day = max(0.0, math.sin(math.pi * (local_h - 6) / 15)) if 6 <= local_h <= 21 else 0.0
    weekend = 1.6 if weekday >= 5 else 1.0
    return max(0, int(base * day * weekend + rnd.gauss(0, base * 0.08)))


def synthetic_history(inv: Inventory, start: dt.datetime, end: dt.datetime, seed: int = 1,
                      step_s: int = STEP_S) -> Iterator[Point]:
    rnd = random.Random(seed)
    t0, t1 = int(start.timestamp()) // step_s * step_s, int(end.timestamp())
    devices = [(s, ap, "ap") for s, ap in inv.aps()] + [(s, s.uplink, "uplink") for s in inv.sites if s.uplink]
    for site, dev, role in devices:
        base = {"tourist_spot": 45.0, "public_facility": 25.0}.get(site.kind.value, 20.0) * rnd.uniform(0.7, 1.3)
        outages = []
        for _ in range(rnd.randint(0, 3)):
            a = rnd.uniform(t0, t1)
            outages.append((a, a + rnd.uniform(600, 4 * 3600)))
        for t in range(t0, t1, step_s):
            up = not any(a <= t < b for a, b in outages)
            ns = t * 10**9
            tags = {"site": site.id, "ap": dev.id, "role": role, SIMULATED_TAG: "true"}
            yield Point("ap_ping", tags, {"reachable": up, "rtt_ms": round(rnd.uniform(0.5, 4), 2) if up else 0.0,
                                          "loss_pct": 0.0 if up else 100.0, "method": "icmp"}, ns)
            if role != "ap":
                continue
            vendor = str(getattr(dev, "simulate_as", None) or getattr(dev, "vendor", "generic"))
            n = _clients(base, t, rnd) if up else 0
            fields: dict[str, bool | int] = {"reachable": up, "snmp_ok": up}
            if up:
                fields["clients"] = n
            yield Point("ap_status", {"site": site.id, "ap": dev.id, "vendor": vendor, "role": role,
                                      SIMULATED_TAG: "true"}, fields, ns)
            if up:
                rx = n * rnd.uniform(150e3, 400e3)
                yield Point("ap_traffic", {"site": site.id, "ap": dev.id, "interface": "eth0", SIMULATED_TAG: "true"},
                            {"rx_bps": rx, "tx_bps": rx * 0.2, "oper_up": True}, ns)
