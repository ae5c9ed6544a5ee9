"""Live client counts from open visitor sessions for an AP whose SNMP has no client object (Yamaha WLX):
a real simulated agent is polled, and its ap_status carries the open-session count, labelled as such."""

from __future__ import annotations

import asyncio
import time

from collector.engine import FleetEngine
from core.inventory import StoreSettings
from core.secrets import SecretResolver
from core.store.sqlite_store import SqliteStore
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

CONFIG = """
[snmp]
version = "2c"
community = "env:WIFIWATCH_SNMP_COMMUNITY"

[visitors]
syslog_bind = "127.0.0.1:0"

[[sites]]
id = "hall"
name_ja = "公民館"
name_en = "Hall"
kind = "public_facility"
lat = 35.96
lon = 140.62

[[sites.aps]]
id = "hall-wlx"
host = "127.0.0.1"
vendor = "yamaha_wlx"
simulate_as = "generic"
visitor_ids = ["hall-wlx"]

[[sites.aps]]
id = "hall-unifi"
host = "127.0.0.1"
port = 1162
vendor = "unifi"
visitor_ids = ["hall-unifi"]
"""


def test_wlx_gets_its_client_count_from_open_sessions(sim_fleet, tmp_path):
    h = sim_fleet(CONFIG)
    inv = h.inventory
    now = time.time()
    vs = VisitorStore(inv.store.path)
    for i in range(3):
        vs.begin(VisitorSession("hall-wlx", "hall", f"{i:064x}", None, now - 60, None, "syslog"), [f"{i:064x}"], now)
    vs.begin(VisitorSession("hall-unifi", "hall", "f" * 64, None, now - 60, None, "syslog"), ["e" * 64], now)
    store = SqliteStore(inv.store.path, StoreSettings(path=inv.store.path))

    async def poll() -> dict:
        engine = FleetEngine(inv, SecretResolver(), store, use_icmp=False)
        try:
            return await engine.poll_once()
        finally:
            await engine.close()

    results = asyncio.run(poll())
    assert results["hall-wlx"].ok and results["hall-unifi"].ok
    latest = {k: p for k, p in store.latest("ap_status").items()}
    by_ap = {p.tags["ap"]: p.fields for p in latest.values()}
    assert by_ap["hall-wlx"]["clients"] == 3 and by_ap["hall-wlx"]["clients_source"] == "sessions"
    # the UniFi AP's SNMP counts its own clients: that count stands, unlabelled
    assert "clients_source" not in by_ap["hall-unifi"] and by_ap["hall-unifi"]["clients"] != 1
    # every view labels the sessions' count from one place (collector.snapshot.DeviceView): 状況, the AP page, /status
    from collector.snapshot import build_snapshot, status_document

    snap = build_snapshot(inv, store, {}, time.time())
    views = {d.id: d for d in snap.devices()}
    assert views["hall-wlx"].clients == 3 and views["hall-wlx"].clients_from_sessions
    assert not views["hall-unifi"].clients_from_sessions
    doc = {d["device"]: d for d in status_document(snap)["devices"]}
    assert doc["hall-wlx"]["clients_source"] == "sessions" and doc["hall-unifi"]["clients_source"] is None
