"""Real device walks (LibreNMS test data, tests/data/snmp/real/) polled over UDP: client totals and interfaces.

One snmpsim process serves every walk (v2c community = file stem). Each walk is polled three times with
its profile named and three times with ``vendor = "auto"``; the tests compare the results with the values
LibreNMS expects from the same walk (``expected.json``; its README says how each total is formed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collector.snmp.client import SnmpClient, Target, V2c
from collector.snmp.poller import ApPoller, PollResult
from collector.snmp.profiles import Profiles, load_profiles
from core.secrets import Secret
from tests.test_snmp_agents import Agent, start_agent

REAL_DIR = Path(__file__).parent / "data" / "snmp" / "real"
EXPECTED: dict[str, Any] = json.loads((REAL_DIR / "expected.json").read_text(encoding="utf-8"))["recordings"]

# The profile each walk is polled with by name, and the one auto-detection must pick.
PROFILE = {
    "airos": "airos",
    "allied-tq": "allied_tq",
    "arubaos": "arubaos",
    "arubaos_vmc": "arubaos",
    "epmp": "cambium_epmp",
    "ewc": "extreme_ewc",
    "fortiap_fap831f": "fortiap",
    "fortigate_500d": "fortigate",
    "fortigate_60f": "fortigate",
    "fortigate_60f3g4g": "fortigate",
    "fortigate_cluster-60f": "fortigate",
    "fortigate_fwf60d": "fortigate",
    "fortigate_webfilter": "fortigate",
    "fortiwlc": "fortiwlc",
    "hiveos-wireless": "hiveos",
    "hiveos-wireless_ap130": "hiveos",
    "hiveos-wireless_ap305c-1": "generic",  # HiveOS 10 without AH-SYSTEM-MIB: interfaces only
    "ligoos_dlb15ac": "ligowave",
    "merakimr_mr28": "meraki_mr",
    "openwrt": "openwrt",
    "pmp_450": "cambium_pmp",
    "pmp_450i": "cambium_pmp",
    "pmp_450m": "cambium_pmp",
    "routeros_ltap-mini": "mikrotik",
    "ruckuswireless-hotzone": "ruckus_ap",
    "stellar_oaw-ap1321": "ale_stellar",
    "vrp_ac6605-26": "huawei_ac",
    "xirrus_aos": "xirrus",
    "zyxelnwa": "zyxel_nwa",
    "zyxelwlc_nxc2500": "zyxel_nxc",
}
# Written walks (tests/data/snmp/README.md): an AP with no client associated, and the same AP before its
# vendor MIB answers.
WRITTEN = ("aruba_instant6_idle", "aruba_instant6_booting")
WITH_CLIENTS = sorted(n for n, r in EXPECTED.items() if r["has_clients_data"])
WITH_PORTS = sorted(n for n, r in EXPECTED.items() if str(r["ports_source"]).startswith("librenms-json"))
ROUNDS = 3


@dataclass
class Polled:
    named: list[PollResult]  # one per round
    auto: list[PollResult]


MANY = 1000  # names in the hostile recording (issue 19: series cardinality)


def many_names_snmprec(n: int = MANY) -> str:
    """A UniFi-looking agent reporting ``n`` interfaces and ``n`` VAPs, each with a new name."""
    lines = ["1.3.6.1.2.1.1.1.0|4|UAP hostile", "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.41112", "1.3.6.1.2.1.1.3.0|67|100"]
    for col, tag, value in ((2, 4, "eth{i}"), (8, 2, "1"), (10, 65, "{i}")):
        lines += [f"1.3.6.1.2.1.2.2.1.{col}.{i}|{tag}|{value.format(i=i)}" for i in range(1, n + 1)]
    vap = "1.3.6.1.4.1.41112.1.6.1.2.1"
    for col, tag, value in ((6, 4, "ssid-{i}"), (8, 66, "1"), (9, 4, "r{i}")):
        lines += [f"{vap}.{col}.{i}|{tag}|{value.format(i=i)}" for i in range(1, n + 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    data = tmp_path_factory.mktemp("realdata")
    for f in [*REAL_DIR.glob("*.snmprec"), *(REAL_DIR.parent / f"{w}.snmprec" for w in WRITTEN)]:
        shutil.copy(f, data / f.name)
    (data / "many_names.snmprec").write_text(many_names_snmprec(), encoding="utf-8")
    a = start_agent(data, tmp_path_factory.mktemp("realcache"), community="airos")
    yield a
    a.stop()


@pytest.fixture(scope="module")
def profiles() -> Profiles:
    return load_profiles()


def target(agent: Agent, walk: str) -> Target:
    host, port = agent.endpoints[0]
    return Target(host, port, V2c(Secret(walk, "test:community")), 5.0, 1)


@pytest.fixture(scope="module")
def polled(agent: Agent, profiles: Profiles) -> dict[str, Polled]:
    """Every walk, ROUNDS polls named and ROUNDS polls auto (each AP its own device id)."""

    async def run() -> dict[str, Polled]:
        client = SnmpClient(max_concurrency=6)
        poller = ApPoller(client, profiles)
        out = {w: Polled([], []) for w in EXPECTED}
        try:
            for _ in range(ROUNDS):
                jobs = [poller.poll(f"{w}/named", target(agent, w), PROFILE[w]) for w in EXPECTED]
                jobs += [poller.poll(f"{w}/auto", target(agent, w), "auto") for w in EXPECTED]
                for res in await asyncio.gather(*jobs):
                    walk, mode = res.device_id.split("/")
                    getattr(out[walk], mode).append(res)
        finally:
            await client.close()
        return out

    return asyncio.run(run())


def test_every_walk_has_a_profile_and_every_profile_states_its_support(profiles: Profiles) -> None:
    assert set(PROFILE) == set(EXPECTED)
    assert set(PROFILE.values()) <= set(profiles)
    for name, prof in profiles.items():
        assert prof.support, f"{name}: state 'tested on real walk ...' or 'MIB only, not tested on a device'"
        if prof.support.startswith("tested on real walk"):
            walks = [w for w, p in PROFILE.items() if p == name]
            assert walks and any(w in prof.support for w in walks), (name, prof.support)


@pytest.mark.parametrize("walk", WITH_CLIENTS)
@pytest.mark.parametrize("mode", ["named", "auto"])
def test_client_total_matches_librenms(polled: dict[str, Polled], walk: str, mode: str) -> None:
    want = EXPECTED[walk]["total_clients"]["value"]
    for res in getattr(polled[walk], mode):
        assert res.ok, (walk, mode, res.error)
        assert res.vendor == PROFILE[walk], (walk, mode, res.vendor, res.detection)
        assert res.clients == want, (walk, mode, res.clients, want, res.error, res.clients_by_radio,
                                     res.clients_by_ssid)


@pytest.mark.parametrize("walk", sorted(set(EXPECTED) - set(WITH_CLIENTS)))
def test_walks_without_client_data_are_detected(polled: dict[str, Polled], walk: str) -> None:
    for res in polled[walk].auto:
        assert res.ok and res.vendor == PROFILE[walk], (walk, res.vendor, res.detection)


def _expected_port(port: dict[str, Any]) -> tuple[bool, int | None, int | None, float | None]:
    raw = port["snmprec"]
    hc = raw["ifHCInOctets"] is not None and raw["ifHCOutOctets"] is not None
    rx = raw["ifHCInOctets"] if hc else raw["ifInOctets"]
    tx = raw["ifHCOutOctets"] if hc else raw["ifOutOctets"]
    # ifHighSpeed (Mbit/s) first, then ifSpeed; 0 and 2^32-1 are "unknown". LibreNMS agrees wherever it
    # has a speed; it stores none when ifHighSpeed is 0 even if ifSpeed has one (pmp_450: 100 Mbit/s).
    high, low = raw["ifHighSpeed"], raw["ifSpeed"]
    speed = high * 1e6 if high and high < 4294967295 else (float(low) if low and low < 4294967295 else None)
    if port["librenms"]["ifSpeed"]:
        assert speed == port["librenms"]["ifSpeed"]
    return raw["ifOperStatus"] == "up", rx, tx, speed


@pytest.mark.parametrize("walk", WITH_PORTS)
def test_interfaces_match_librenms(polled: dict[str, Polled], profiles: Profiles, walk: str) -> None:
    """Every port LibreNMS has: status, octets (64-bit where the walk has them) and speed, by ifIndex."""
    res = polled[walk].named[0]
    prof = profiles[PROFILE[walk]]
    by_index = {s.index: s for s in res.interfaces.values()}
    checked = 0
    for port in EXPECTED[walk]["ports"]:
        name = port["ifName"] or port["ifDescr"] or f"if{port['ifIndex']}"
        if re.search(prof.interfaces.exclude, name) or port["snmprec"]["ifOperStatus"] is None:
            assert port["ifIndex"] not in by_index or port["snmprec"]["ifOperStatus"] is None
            continue
        sample = by_index[port["ifIndex"]]
        up, rx, tx, speed = _expected_port(port)
        assert (sample.oper_up, sample.rx_bytes, sample.tx_bytes, sample.speed_bps) == (up, rx, tx, speed), \
            (walk, port["ifIndex"], name)
        if port["librenms"]["ifInOctets"] and rx is not None:
            assert sample.rx_bytes == port["librenms"]["ifInOctets"]
        checked += 1
    assert checked, walk


def test_duplicate_interface_names_are_kept_and_labelled(polled: dict[str, Polled]) -> None:
    """Walks with two interfaces of one ifName keep both, each labelled name#ifIndex, by ifIndex."""
    found = 0
    for walk in WITH_PORTS:
        names: dict[str, list[int]] = {}
        for p in EXPECTED[walk]["ports"]:
            if p["snmprec"]["ifOperStatus"] is not None and p["ifName"]:
                names.setdefault(p["ifName"], []).append(p["ifIndex"])
        res = polled[walk].named[0]
        for name, idxs in names.items():
            if len(idxs) > 1 and not re.match(r"^(lo|dummy)", name):
                found += 1
                for i in idxs:
                    assert res.interfaces[f"{name}#{i}"].index == i, (walk, name, i)
    assert found, "no real walk has duplicate ifNames any more: keep the synthetic test"


SNMPSIM_MAX_VARBINDS = 64  # snmpsim's --max-var-binds default; net-snmp's maxGetbulkResponses is 100


def _rows_under(walk: str, columns: list[str]) -> int:
    prefixes = tuple(c + "." for c in columns)
    with (REAL_DIR / f"{walk}.snmprec").open(encoding="utf-8") as f:
        return sum(1 for line in f if line.startswith(prefixes))


@pytest.mark.parametrize("walk", sorted(EXPECTED))
def test_steady_state_poll_is_one_or_two_pdus(polled: dict[str, Polled], profiles: Profiles, walk: str) -> None:
    """After the first poll an AP costs 1-2 PDUs, or, where its tables cannot fit in two responses of the
    agent's size, the fewest such responses: status and 64-bit counters of every interface plus the count
    columns (names and speeds are re-read only when the interface set changes)."""
    prof = profiles[PROFILE[walk]]
    hc = _rows_under(walk, ["1.3.6.1.2.1.31.1.1.1.6"]) > 0
    per_poll = ["1.3.6.1.2.1.2.2.1.8", *(["1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.10"] if hc else
                                          ["1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.2.2.1.16"])]
    per_poll += [t.oid for t in prof.clients] + [t.ssid_from for t in prof.clients
                                                 if t.ssid_from and t.ssid_from[0].isdigit()]
    varbinds = _rows_under(walk, per_poll) + 3 + len(prof.scalars) + len(prof.clients) + 3  # + end-of-column
    # A walk learns a column has ended only from the row after it: a truncated response can cost one more.
    fewest = -(-varbinds // SNMPSIM_MAX_VARBINDS) + (1 if varbinds > SNMPSIM_MAX_VARBINDS else 0)
    for mode in ("named", "auto"):
        steady = [r.pdus for r in getattr(polled[walk], mode)[1:]]
        assert max(steady) <= max(2, fewest), (walk, mode, steady, varbinds)
    print(f"PDUS {walk} first={polled[walk].named[0].pdus} steady={polled[walk].named[-1].pdus} "
          f"auto-first={polled[walk].auto[0].pdus} auto-steady={polled[walk].auto[-1].pdus} varbinds={varbinds}")


# -- detection -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sys_oid", "descr", "present", "want"), [
    # 10002.1 is sent by airMAX and by older UniFi firmware: the signature decides, both ways.
    ("1.3.6.1.4.1.10002.1", "Linux 2.6.32", {"1.3.6.1.4.1.41112.1.4.5.1.15": True}, "airos"),
    ("1.3.6.1.4.1.10002.1", "Linux 3.3.8", {"1.3.6.1.4.1.41112.1.6.1.2.1.6": True}, "unifi"),
    # net-snmp's generic sysObjectID: UniFi nanoHD by its table, OpenWrt by its sysDescr and extend table.
    ("1.3.6.1.4.1.8072.3.2.10", "Linux U6-Lite 4.4.153", {"1.3.6.1.4.1.41112.1.6.1.2.1.6": True}, "unifi"),
    ("1.3.6.1.4.1.8072.3.2.10", "Linux OpenWrt 5.4.137", {"1.3.6.1.4.1.8072.1.3.2.3.1.1": True}, "openwrt"),
    ("1.3.6.1.4.1.8072.3.2.10", "Linux debian 6.1", {}, "generic"),
    # airFiber answers 41112 but has no unifiVapTable: not UniFi.
    ("1.3.6.1.4.1.41112.1.3", "Linux airFiber", {}, "generic"),
    # Cisco Business Wireless 240AC: the AireOS profile (its WLAN table answers).
    ("1.3.6.1.4.1.9.6.1.37.240.1", "Cisco Business Wireless", {"1.3.6.1.4.1.14179.2.1.1.1.2": True},
     "cisco_aireos"),
    # ZoneDirector and Unleashed share a sysObjectID; each has its own MIB.
    ("1.3.6.1.4.1.25053.3.1.5.15", "Ruckus Wireless ZD1200", {"1.3.6.1.4.1.25053.1.2.2.1.1.1.1.1.1": True},
     "ruckus_zonedirector"),
    ("1.3.6.1.4.1.25053.3.1.5.15", "Ruckus Unleashed", {"1.3.6.1.4.1.25053.1.15.1.1.1.15.2": True},
     "ruckus_unleashed"),
    # Catalyst 9800: a Cisco IOS product OID, found by sysDescr and confirmed by its WLAN table.
    ("1.3.6.1.4.1.9.1.2391", "Cisco IOS Software [Cupertino], C9800 Software (C9800_IOSXE-K9), Version 17.9",
     {"1.3.6.1.4.1.14179.2.1.1.1.2": True}, "cisco_9800"),
    # Japanese-market APs without a published client MIB: recognised, IF-MIB only.
    ("1.3.6.1.4.1.1182.1.99", "WLX402 Rev.16.00.18", {}, "yamaha_wlx"),
    # A Cisco switch is not an autonomous AP.
    ("1.3.6.1.4.1.9.1.1208", "Cisco IOS Software, C2960X", {}, "generic"),
    # Aruba Instant: both have the AP table; 8.4+ has aiRadioClientNum, 6.x does not. Whether a client is
    # associated (a row in aiClientTable) decides nothing.
    ("1.3.6.1.4.1.14823.1.2.34", "ArubaOS (MODEL: 225)", {"1.3.6.1.4.1.14823.2.3.3.1.2.1.1.1": True,
                                                            "1.3.6.1.4.1.14823.2.3.3.1.2.2.1.21": True},
     "aruba_instant"),
    ("1.3.6.1.4.1.14823.1.2.34", "ArubaOS (MODEL: 225)", {"1.3.6.1.4.1.14823.2.3.3.1.2.1.1.1": True},
     "aruba_instant6"),
    ("1.3.6.1.4.1.14823.1.2.34", "ArubaOS (MODEL: 225)", {"1.3.6.1.4.1.14823.2.3.3.1.2.1.1.1": True,
                                                            "1.3.6.1.4.1.14823.2.3.3.1.2.4.1.1": False},
     "aruba_instant6"),
    # Every Meraki device polled locally sends 29671.2: an MS switch (no radios) is not an MR.
    ("1.3.6.1.4.1.29671.2.45", "Meraki MR28 Cloud Managed AP", {"1.2.840.10036.4.5.1.1": True}, "meraki_mr"),
    ("1.3.6.1.4.1.29671.2.106", "Meraki MS120-8LP Cloud Managed Switch", {}, "generic"),
])
def test_decide_uses_the_signature_where_prefixes_are_shared(profiles: Profiles, sys_oid: str, descr: str,
                                                             present: dict[str, bool], want: str) -> None:
    from collector.snmp.detect import candidates, decide, probe_oids

    oids = probe_oids(profiles, candidates(profiles, sys_oid, descr))
    det = decide(profiles, sys_oid, descr, {o: present.get(o, False) for o in oids})
    assert det.profile == want, det.evidence()
    assert det.probed
    if want != "generic":
        chosen = [c for c in det.candidates if c.profile == want]
        assert chosen and chosen[0].verdict.startswith("chosen")
    assert all(c.verdict for c in det.candidates)


def test_an_idle_aruba_instant6_is_detected_with_0_clients(agent: Agent, profiles: Profiles) -> None:
    """No client associated (empty aiClientTable): detected by its AP table, and 0 clients, not unknown."""

    async def run() -> list[PollResult]:
        client = SnmpClient()
        poller = ApPoller(client, profiles)
        try:
            return [await poller.poll(d, target(agent, "aruba_instant6_idle"), v)
                    for d, v in (("auto", "auto"), ("auto", "auto"), ("named", "aruba_instant6"))]
        finally:
            await client.close()

    for res in asyncio.run(run()):
        assert res.ok and res.vendor == "aruba_instant6", (res.vendor, res.error)
        assert res.clients == 0 and res.error is None, (res.clients, res.error)


def test_a_named_vendor_with_an_empty_client_table_is_0_only_if_its_signature_answers(
        agent: Agent, profiles: Profiles) -> None:
    """vendor = "aruba_instant6" set by hand: an empty aiClientTable is 0 clients on an Instant 6 AP, but
    unknown (with an error) on an agent without AI-AP-MIB: a wrong vendor or a MIB not loaded yet."""

    poller = ApPoller(SnmpClient(), profiles)

    async def run() -> list[PollResult]:
        try:
            return [await poller.poll(d, target(agent, w), "aruba_instant6")
                    for d, w in (("a", "aruba_instant6_booting"), ("a", "aruba_instant6_booting"),
                                 ("b", "aruba_instant6_idle"), ("b", "aruba_instant6_idle"))]
        finally:
            await poller.client.close()

    res = asyncio.run(run())
    assert [(r.clients, r.error_kind) for r in res] == [(None, "no_such_object")] * 2 + [(0, None)] * 2
    # probed once per AP, then remembered (asked again every REDETECT_GENERIC_EVERY polls while absent)
    assert poller._state["a"].family == ("aruba_instant6", False)
    assert poller._state["b"].family == ("aruba_instant6", True)


def test_a_generic_ap_whose_signature_appears_later_is_detected_again(agent: Agent, profiles: Profiles,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Same sysObjectID and sysDescr throughout; AI-AP-MIB answers only from the 4th poll on."""
    from collector.snmp.poller import REDETECT_GENERIC_EVERY

    async def run() -> list[PollResult]:
        client = SnmpClient()
        poller = ApPoller(client, profiles)
        try:
            out = [await poller.poll("ap1", target(agent, "aruba_instant6_booting"), "auto") for _ in range(3)]
            out += [await poller.poll("ap1", target(agent, "aruba_instant6_idle"), "auto")
                    for _ in range(REDETECT_GENERIC_EVERY)]
            return out
        finally:
            await client.close()

    caplog.set_level(logging.INFO, logger="wifiwatch")
    res = asyncio.run(run())
    vendors = [r.vendor for r in res]
    assert all(r.ok for r in res)
    # generic while AI-AP-MIB is silent, and for the polls until the next signature probe; then detected
    assert vendors[:REDETECT_GENERIC_EVERY] == ["generic"] * REDETECT_GENERIC_EVERY, vendors
    assert vendors[REDETECT_GENERIC_EVERY:] == ["aruba_instant6"] * (len(res) - REDETECT_GENERIC_EVERY), vendors
    assert res[-1].clients == 0 and res[0].clients is None
    assert "vendor detected on a later poll" in caplog.text


def test_identity_change_re_detects_and_logs(agent: Agent, profiles: Profiles,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A firmware upgrade (here: a different walk behind the same AP id) is noticed and re-detected."""

    async def run() -> list[PollResult]:
        client = SnmpClient()
        poller = ApPoller(client, profiles)
        try:
            out = [await poller.poll("ap1", target(agent, "zyxelnwa"), "auto"),
                   await poller.poll("ap1", target(agent, "zyxelnwa"), "auto"),
                   await poller.poll("ap1", target(agent, "zyxelwlc_nxc2500"), "auto")]
            assert poller.detection("ap1") is not None
            return out
        finally:
            await client.close()

    with caplog.at_level("INFO", logger="wifiwatch.collector.snmp"):
        first, steady, changed = asyncio.run(run())
    assert (first.vendor, first.clients, first.detection is not None) == ("zyxel_nwa", 65, True)
    assert steady.detection is None and steady.pdus == 1  # no probe while sysObjectID/sysDescr stay
    assert (changed.vendor, changed.clients) == ("zyxel_nxc", 45)
    assert changed.detection is not None and "zyxel_nwa: ruled out" in changed.detection.evidence()
    msgs = [r.getMessage() for r in caplog.records]
    assert "vendor detected" in msgs and any("re-detected" in m for m in msgs)


def test_detect_command_lists_candidates_and_the_winner(agent: Agent, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from wifiwatch.cli import app

    host, port = agent.endpoints[0]
    cfg = tmp_path / "sites.toml"
    cfg.write_text(f'''
[snmp]
version = "2c"
community = "env:H14_COMMUNITY"
[[sites]]
id = "omachi"
name_ja = "大町通り"
name_en = "Omachi-dori"
kind = "tourist_spot"
lat = 35.97
lon = 140.63
[[sites.aps]]
id = "ap1"
host = "{host}"
port = {port}
''', encoding="utf-8")
    monkeypatch.setenv("H14_COMMUNITY", "airos")
    r = CliRunner().invoke(app, ["detect", "ap1", "-c", str(cfg), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "unifi" in r.output and "ruled out: signature not found" in r.output
    assert "chosen: airos" in r.output and "1.3.6.1.4.1.10002.1" in r.output
    r = CliRunner().invoke(app, ["detect", "ap1", "-c", str(cfg), "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["profile"] == "airos" and {c["profile"] for c in out["candidates"]} == {"airos", "unifi"}
    r = CliRunner().invoke(app, ["detect", "nope", "-c", str(cfg)])
    assert r.exit_code == 2 and "no such AP" in r.output and "Traceback" not in r.output


# -- series cardinality (issue 19, point 2) ---------------------------------------------------------------

def test_an_agent_with_thousands_of_names_is_capped_counted_and_logged(agent: Agent, profiles: Profiles,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    from collector import metrics
    from collector.snmp.poller import SeriesCaps, to_points

    caps = SeriesCaps()
    before = {k: metrics.SERIES_DROPPED.labels(k)._value.get() for k in ("interfaces", "radios", "ssids")}

    async def run() -> list[PollResult]:
        client = SnmpClient()
        poller = ApPoller(client, profiles, caps=caps)
        t = Target(*agent.endpoints[0], V2c(Secret("many_names", "test:c")), 5.0, 1)
        try:
            return [await poller.poll("hostile", t, "unifi"), await poller.poll("hostile", t, "unifi")]
        finally:
            await client.close()

    with caplog.at_level("WARNING", logger="wifiwatch.collector.snmp"):
        first, second = asyncio.run(run())
    for res in (first, second):
        assert res.ok and res.clients == MANY  # the total still counts every row
        assert len(res.interfaces) == caps.interfaces and len(res.clients_by_ssid) == caps.ssids
        assert len(res.clients_by_radio) == caps.radios
        assert res.capped == {"interfaces": MANY - caps.interfaces, "ssids": MANY - caps.ssids,
                              "radios": MANY - caps.radios}
        points = to_points("s", "hostile", "ap", res, 0, None)
        assert len(points) == 1 + caps.radios + caps.ssids + caps.interfaces
    after = {k: metrics.SERIES_DROPPED.labels(k)._value.get() for k in before}
    assert after["interfaces"] - before["interfaces"] == 2 * (MANY - caps.interfaces)
    assert after["ssids"] - before["ssids"] == 2 * (MANY - caps.ssids)
    warned = [r for r in caplog.records if "more series than allowed" in r.getMessage()]
    assert len(warned) == 1  # once while it lasts, not every poll


# -- radio health (issue 14, point 5) --------------------------------------------------------------------

RADIO = json.loads((REAL_DIR / "radio_expected.json").read_text(encoding="utf-8"))["walks"]
# zyxelnwa.snmprec is not in OID order (radio 2's rows follow radio 1's other columns): snmpsim answers a
# GETNEXT in file order, so walking a column stops after radio 1 (LibreNMS GETs each OID instead).
UNWALKABLE = {("zyxelnwa", "1.3.6.1.4.1.890.1.15.3.5.1.1.6.2")}
PHYSICAL = {"frequency_mhz": (2400, 7125), "noise_dbm": (-130, -20), "tx_power_dbm": (-10, 40),
            "utilization_pct": (0, 100)}


@pytest.mark.parametrize("walk", sorted(w for w in RADIO if PROFILE[w] != "generic"))
def test_radio_health_matches_librenms(polled: dict[str, Polled], profiles: Profiles, walk: str) -> None:
    """Every LibreNMS radio sensor read from a column our profile declares has the same value in ap_radio."""
    prof = profiles[PROFILE[walk]]
    columns = {r.oid for r in prof.radio}
    res = polled[walk].named[-1]
    checked = 0
    for sensor in RADIO[walk]:
        if not any(sensor["oid"].startswith(c + ".") for c in columns):
            continue
        lo, hi = PHYSICAL[sensor["metric"]]
        if not lo <= sensor["value"] <= hi:  # a disabled radio's 0: unknown, not written
            assert all(sensor["metric"] not in h or h[sensor["metric"]] != sensor["value"] for h in res.radios.values())
            continue
        if (walk, sensor["oid"]) in UNWALKABLE:
            continue
        values = [h.get(sensor["metric"]) for h in res.radios.values()]
        assert sensor["value"] in values, (walk, sensor, res.radios)
        checked += 1
    if prof.radio:
        assert checked, f"{walk}: profile {prof.id} declares radio columns but none was checked"
    for health in res.radios.values():  # the band is derived wherever a channel or frequency is known
        if "frequency_mhz" in health or "channel" in health:
            assert health["band"] in ("2.4GHz", "5GHz", "6GHz"), health


def test_radio_points_follow_the_schema(polled: dict[str, Polled]) -> None:
    from collector.snmp.poller import to_points
    from core.schema import MEASUREMENTS

    res = polled["airos"].named[-1]
    points = [p for p in to_points("s", "a", "ap", res, 0, None) if p.measurement == "ap_radio"]
    assert [(p.tags["radio"], p.fields) for p in points] == [
        ("wlan0", {"frequency_mhz": 5745.0, "tx_power_dbm": 27.0, "noise_dbm": -103.0, "band": "5GHz"})]
    tags, fields = MEASUREMENTS["ap_radio"]
    assert set(points[0].tags) == set(tags) and set(points[0].fields) <= set(fields)
