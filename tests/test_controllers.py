"""Controllers: one SNMP target, many APs, each its own series; join state as the heartbeat; one incident if silent.

Served by one snmpsim process: two real controller walks (Extreme EWC, Huawei AC6605; LibreNMS test data)
and a Meraki-cloud-shaped recording written here (devTable: two APs of sites.toml, one offline, and one AP
that sites.toml does not know).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.alerts.engine import AlertEngine
from collector.controllers import UNASSIGNED, match, norm_mac
from collector.engine import FleetEngine
from collector.snmp.poller import ControllerAp
from core.config import parse_config
from core.inventory import Inventory
from core.schema import MEASUREMENTS, Point
from core.secrets import SecretResolver
from tests.test_snmp_agents import Agent, _free_port, start_agent

REAL = Path(__file__).parent / "data" / "snmp" / "real"
DEV = "1.3.6.1.4.1.29671.1.1.4.1"
CLOUD_APS = [  # MAC arcs, name, online, clients, serial
    ("0.24.10.1.2.3", "Omachi-1", 1, 12, "Q2XX-AAAA-0001"),
    ("0.24.10.1.2.4", "Omachi-2", 0, 0, "Q2XX-AAAA-0002"),
    ("0.24.10.1.2.5", "new-ap", 1, 3, "Q2XX-AAAA-0009"),
]


def cloud_snmprec() -> str:
    lines = ["1.3.6.1.2.1.1.1.0|4|Meraki Cloud Controller", "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.29671.1",
             "1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=100000"]
    for col, pick, tag in ((2, 1, 4), (3, 2, 2), (5, 3, 66), (8, 4, 4)):
        lines += [f"{DEV}.{col}.{row[0]}|{tag}|{row[pick]}" for row in CLOUD_APS]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    data = tmp_path_factory.mktemp("ctldata")
    for name in ("ewc", "vrp_ac6605-26", "fortigate_fwf60d"):
        shutil.copy(REAL / f"{name}.snmprec", data / f"{name}.snmprec")
    (data / "cloud.snmprec").write_text(cloud_snmprec(), encoding="utf-8")
    a = start_agent(data, tmp_path_factory.mktemp("ctlcache"), n_endpoints=3, community="cloud")
    yield a
    a.stop()


def inventory(agent: Agent, cloud_port: int | None = None) -> Inventory:
    host, port = agent.endpoints[0]
    host2, port2 = agent.endpoints[1]  # one device per address (check-config refuses two on one host:port)
    host3, port3 = agent.endpoints[2]
    text = f'''
[defaults]
timeout_s = 0.5
retries = 0
[snmp]
version = "2c"
community = "env:H14_CLOUD"
[alerts]
down_after = 2
up_after = 1

[[controllers]]
id = "cloud"
site = "center"
host = "{host}"
port = {cloud_port or port}
vendor = "meraki_cloud"

[[controllers]]
id = "ac"
site = "center"
host = "{host2}"
port = {port2}
snmp = {{ version = "2c", community = "env:H14_AC" }}

[[controllers]]
id = "fgt"
site = "center"
host = "{host3}"
port = {port3}
vendor = "fortigate"
snmp = {{ version = "2c", community = "env:H14_FGT" }}

[[sites]]
id = "omachi"
name_ja = "大町通り"
name_en = "Omachi-dori"
kind = "tourist_spot"
lat = 35.97
lon = 140.63
[[sites.aps]]
id = "ap1"
host = "192.0.2.1"
controller = "cloud"
controller_match = {{ name = "omachi-1" }}
availability_from = "controller"
[[sites.aps]]
id = "ap2"
host = "192.0.2.2"
controller = "cloud"
controller_match = {{ mac = "00-18-0A-01-02-04" }}
availability_from = "controller"
[[sites.aps]]
id = "ap3"
host = "192.0.2.3"
controller = "cloud"
controller_match = {{ serial = "Q2XX-AAAA-0007" }}
availability_from = "controller"

[[sites]]
id = "center"
name_ja = "中央公民館"
name_en = "Community Center"
kind = "public_facility"
lat = 35.9655
lon = 140.6335
[[sites.aps]]
id = "hw1"
host = "192.0.2.4"
controller = "ac"
controller_match = {{ serial = "2102350PKF10J1000078" }}
availability_from = "controller"
[[sites.aps]]
id = "fap1"
host = "192.0.2.5"
controller = "fgt"
controller_match = {{ serial = "FWF60D-WIFI0" }}
availability_from = "controller"
'''
    return parse_config(text, "ctl.toml", known_vendors=None)


class Recorder:
    def __init__(self) -> None:
        self.points: list[Point] = []

    def write(self, points: list[Point]) -> None:
        self.points.extend(points)


def test_match_prefers_mac_then_serial_then_name(agent: Agent) -> None:
    inv = inventory(agent)
    reported = [ControllerAp("1", "OMACHI-1", "00:18:0a:01:02:03", "S1", True, 4),
                ControllerAp("2", "x", "00:18:0a:01:02:04", "S2", False, 0),
                ControllerAp("3", "stranger", None, None, True, 1)]
    found = match(inv, "cloud", reported)
    assert {k: v[2].index for k, v in found.aps.items()} == {"ap1": "1", "ap2": "2"}
    assert [a.index for a in found.unknown] == ["3"] and found.missing == ["ap3"]
    assert norm_mac("00-18-0A-01-02-04") == "00:18:0a:01:02:04"


def test_each_controller_ap_is_its_own_series_and_unknown_aps_are_kept(agent: Agent, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("H14_CLOUD", "cloud")
    monkeypatch.setenv("H14_AC", "vrp_ac6605-26")
    monkeypatch.setenv("H14_FGT", "fortigate_fwf60d")
    inv = inventory(agent)
    rec = Recorder()
    alerts = AlertEngine(inv, tmp_path / "alerts.sqlite3", SecretResolver())

    async def run() -> None:
        engine = FleetEngine(inv, SecretResolver(), rec, alerts=alerts, use_icmp=False, clock=iter_clock())
        try:
            assert {d.id for d in engine.devices} == {"cloud", "ac", "fgt"}  # controller-sourced APs are not polled
            for _ in range(3):
                await engine.poll_once()
        finally:
            await engine.close()

    with caplog.at_level("WARNING", logger="wifiwatch.collector"):
        asyncio.run(run())
    ctl = [p for p in rec.points if p.measurement == "ap_controller"]
    for p in ctl:
        tags, fields = MEASUREMENTS["ap_controller"]
        assert set(p.tags) <= set(tags) and set(p.fields) <= set(fields)
    last = {(p.tags["site"], p.tags["ap"]): p.fields for p in ctl}  # the last poll's, per AP
    assert last[("omachi", "ap1")]["clients"] == 12 and last[("omachi", "ap1")]["joined"] is True
    assert last[("omachi", "ap2")]["joined"] is False
    assert last[(UNASSIGNED, "cloud:new-ap")]["clients"] == 3  # listed, not dropped
    hw = [p for p in ctl if p.tags["ap"] == "hw1"]
    assert hw and hw[-1].fields["name"] == "TestAP-NAME"  # Huawei AC real walk, matched by serial
    fap = [p for p in ctl if p.tags["ap"] == "fap1"]  # FortiWiFi real walk: its built-in FortiAP, by serial
    assert fap and fap[-1].fields == {"clients": 0, "name": "FWF60D-WIFI0"} and fap[-1].tags["controller"] == "fgt"
    status = {p.tags["ap"]: p.fields for p in rec.points if p.measurement == "ap_status"}
    assert status["ap1"]["clients"] == 12 and status["ap1"]["reachable"] is True
    assert status["ap2"]["reachable"] is False and status["ap3"]["reachable"] is False
    pings = [p for p in rec.points if p.measurement == "ap_ping" and p.tags["ap"] == "ap1"]
    assert len(pings) == 3 and all(p.fields["method"] == "controller" for p in pings)
    # Join state drives alerts: ap2 (offline in the cloud) and ap3 (not reported) are DOWN, ap1 is not.
    down = {i.device for i in alerts.store.incidents(open_only=True) if i.kind == "down"}
    assert down == {"ap2", "ap3"}
    assert sum("not in sites.toml" in r.getMessage() for r in caplog.records) == 1  # once, not every poll


def test_a_silent_controller_is_one_incident_not_one_per_ap(agent: Agent, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H14_CLOUD", "cloud")
    monkeypatch.setenv("H14_AC", "vrp_ac6605-26")
    monkeypatch.setenv("H14_FGT", "fortigate_fwf60d")
    rec = Recorder()
    inv = inventory(agent)
    alerts = AlertEngine(inv, tmp_path / "alerts.sqlite3", SecretResolver())
    dead = _free_port(agent.endpoints[0][0])

    async def run() -> None:
        engine = FleetEngine(inv, SecretResolver(), rec, alerts=alerts, use_icmp=False, clock=iter_clock())
        try:
            await engine.heartbeat_once()
            await engine.poll_once()  # all joined or not as recorded
            before = {i.device for i in alerts.store.incidents(open_only=True)}
            engine.reload(inventory(agent, cloud_port=dead))  # the cloud controller goes silent
            for _ in range(3):
                await engine.heartbeat_once()
                await engine.poll_once()
            after = {i.device for i in alerts.store.incidents(open_only=True)}
            assert after - before == {"cloud"}, (before, after)
        finally:
            await engine.close()

    asyncio.run(run())
    # While the controller is silent its APs get no status point at all (unknown, not down).
    late = [p for p in rec.points[-40:] if p.measurement in ("ap_status", "ap_ping") and p.tags["ap"] in ("ap1", "ap2")]
    assert not late


def iter_clock():  # type: ignore[no-untyped-def]
    """A clock that moves 60 s per call: polls and heartbeats land on distinct, increasing times."""
    t = [1_800_000_000.0]

    def now() -> float:
        t[0] += 60.0
        return t[0]

    return now
