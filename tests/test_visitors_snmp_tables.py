"""SNMP client tables as visitor sessions (opt-in visitor_snmp): a real simulated AireOS agent's
bsnMobileStationTable walked by the poller, and the open/close logic across polls and a key rotation."""

from __future__ import annotations

import asyncio
import shutil

from collector.engine import FleetEngine
from collector.visitors.snmp_tables import ClientTableSessions, load_tables, mac_text
from core.config import parse_config
from core.paths import known_vendors
from core.secrets import SecretResolver
from core.visitors.keys import KeyRing
from core.visitors.store import VisitorStore
from tests.fixtures_sim import readdress
from tests.visitors_fixtures import inventory
from wifiwatch.sim.fleet import RECORDINGS, Fleet

T0 = 1_796_000_000.0


def test_tables_are_declared_with_their_source():
    tables = load_tables()
    assert {"cisco_aireos", "aruba_instant", "ruckus_zonedirector"} <= set(tables)
    assert all(t.source and t.origin for t in tables.values())
    assert mac_text(bytes.fromhex("f099b6123456")) == "f0:99:b6:12:34:56" and mac_text("F0-99-B6-12-34-56")
    assert mac_text(b"\x01\x02") is None


def test_polls_open_and_close_sessions_and_survive_the_day_key_rotation(tmp_path):
    inv = inventory(tmp_path, extra="").model_copy()
    # st-1 opts in (visitor_snmp), st-2 does not
    text_inv = inv.model_dump()
    text_inv["sites"][0]["aps"][0]["visitor_snmp"] = True
    inv = type(inv).model_validate(text_inv)
    store = VisitorStore(tmp_path / "w.sqlite3")
    s = ClientTableSessions(inv, store, KeyRing(tmp_path / "keys.json"))
    rows = [("f0:99:b6:00:00:01", "aa:bb:cc:00:00:01"), ("3a:00:00:00:00:02", "AA-BB-CC-00-00-01"),
            ("f0:99:b6:00:00:03", "aa:bb:cc:00:00:02"),  # st-2: not opted in, skipped
            ("f0:99:b6:00:00:04", "11:22:33:44:55:66")]  # an AP nobody configured: skipped
    by_ap = s.rows_by_ap(None, rows)
    assert list(by_ap) == ["st-1"]
    assert s.update("st-1", by_ap["st-1"], T0) == (2, 0)
    assert s.update("st-1", ["f0:99:b6:00:00:01", "f0:99:b6:00:00:05"], T0 + 60) == (1, 1)
    day2 = T0 + 86400  # the day key and link key rotate: the same clients are still the same sessions
    assert s.update("st-1", ["f0:99:b6:00:00:01", "f0:99:b6:00:00:05"], day2) == (0, 0)
    assert s.update("st-1", ["f0:99:b6:00:00:05"], day2 + 60) == (0, 1)
    sessions = list(store.iter_sessions(0, 4e9))
    assert sorted((x.dwell_s or -1.0) for x in sessions) == [-1.0, 60.0, 86460.0]
    assert {x.source for x in sessions} == {"snmp"} and sum(x.randomized for x in sessions) == 1
    assert store.open_counts(day2 + 61) == {"st-1": 1}


CONFIG = """
[snmp]
version = "2c"
community = "env:WIFIWATCH_SNMP_COMMUNITY"

[[sites]]
id = "hall"
name_ja = "公民館"
name_en = "Hall"
kind = "public_facility"
lat = 35.96
lon = 140.62

[[sites.aps]]
id = "hall-1"
host = "127.0.0.1"
vendor = "cisco_aireos"
visitor_snmp = true
visitor_ids = ["00:3a:7d:00:00:01"]
"""


def test_a_real_agents_client_table_becomes_sessions(tmp_path, monkeypatch):
    monkeypatch.setenv("WIFIWATCH_SNMP_COMMUNITY", "sim-community-visitors")
    rec = tmp_path / "recordings"
    shutil.copytree(RECORDINGS, rec)
    lines = []
    for mac, ap in (("f099b6000001", "003a7d000001"), ("3a0000000002", "003a7d000001"),
                    ("f099b6000003", "003a7d0000ff")):
        idx = ".".join(str(int(mac[i:i + 2], 16)) for i in range(0, 12, 2))
        lines += [f"1.3.6.1.4.1.14179.2.1.4.1.1.{idx}|4x|{mac}", f"1.3.6.1.4.1.14179.2.1.4.1.4.{idx}|4x|{ap}"]
    path = rec / "cisco_aireos.snmprec"
    records = path.read_text().splitlines() + lines
    path.write_text("\n".join(sorted(records, key=lambda r: tuple(int(x) for x in r.split("|")[0].split(".")))) + "\n")
    text = readdress(CONFIG, tmp_path)
    inv = parse_config(text, "t.toml", known_vendors())
    fleet = Fleet(inv, SecretResolver(), tmp_path / "sim", rec)
    fleet.start()
    try:
        async def poll() -> None:
            engine = FleetEngine(inv, SecretResolver(), None, use_icmp=False)
            try:
                res = await engine.poll_once()
                assert res["hall-1"].ok, res["hall-1"].error
            finally:
                await engine.close()

        asyncio.run(poll())
    finally:
        fleet.stop()
    sessions = list(VisitorStore(inv.store.path).iter_sessions(0, 4e9))
    assert [(x.ap_id, x.end, x.source) for x in sessions] == [("hall-1", None, "snmp")] * 2
