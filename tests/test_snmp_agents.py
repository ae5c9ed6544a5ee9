"""The SNMP collector against real snmpsim agents over UDP on loopback (127.0.3.0/24).

One agent process serves every recording (v2c community = recording name; the SNMPv3 empty context serves
the UniFi recording); a second one is started and stopped to play a dead AP.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.snmp.client import V3, SnmpClient, Target, V2c, parse_oid
from collector.snmp.poller import ApPoller, PollResult, TargetError, snmp_heartbeat, target_for, to_points
from collector.snmp.profiles import load_profiles
from core.inventory import Inventory
from core.schema import MEASUREMENTS
from core.secrets import Secret, SecretResolver
from tests.test_snmp_recordings import DATA_DIR, RECORDINGS, expected
from wifiwatch.sim.process import stop_process

REPO = Path(__file__).resolve().parent.parent
SNMPSIM = REPO / ".venv" / "bin" / "snmpsim-command-responder"
BAD_DIR = Path(__file__).parent / "data" / "snmp"
V3_USER = "wifiwatch"
AUTH_KEY = "test-auth-key-5f2a"
PRIV_KEY = "test-priv-key-9c1d"
# More users on the same agent: every security level and each auth/priv protocol at least once.
V3_MATRIX = [
    ("u-md5-des", "md5", "des"),
    ("u-sha-3des", "sha", "3des"),
    ("u-sha224-aes192", "sha224", "aes192"),
    ("u-sha384-aes256", "sha384", "aes256"),
    ("u-sha512-nopriv", "sha512", "none"),
    ("u-noauth", "none", "none"),
]
SNMPSIM_PRIV = {"des": "DES", "3des": "3DES", "aes192": "AES192BLMT", "aes256": "AES256BLMT"}


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Agent:
    proc: subprocess.Popen[bytes]
    endpoints: list[tuple[str, int]]

    def stop(self) -> None:
        stop_process(self.proc, 5)


def start_agent(data_dir: Path, cache_dir: Path, n_endpoints: int = 1, community: str = "generic") -> Agent:
    """snmpsim on fresh loopback endpoints; returns once the first endpoint answers ``community``."""
    base = random.randint(10, 200)
    endpoints = []
    for k in range(n_endpoints):
        host = f"127.0.3.{base + k}"
        endpoints.append((host, _free_port(host)))
    args = [str(SNMPSIM), f"--data-dir={data_dir}", f"--cache-dir={cache_dir}", "--log-level=error",
            f"--v3-user={V3_USER}", f"--v3-auth-key={AUTH_KEY}", "--v3-auth-proto=SHA256",
            f"--v3-priv-key={PRIV_KEY}", "--v3-priv-proto=AES"]
    for user, auth, priv in V3_MATRIX:
        args.append(f"--v3-user={user}")
        if auth != "none":
            args += [f"--v3-auth-key={AUTH_KEY}", f"--v3-auth-proto={auth.upper()}"]
        if priv != "none":
            args += [f"--v3-priv-key={PRIV_KEY}", f"--v3-priv-proto={SNMPSIM_PRIV[priv]}"]
    args += [f"--agent-udpv4-endpoint={h}:{p}" for h, p in endpoints]
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = Agent(proc, endpoints)

    async def ready() -> bool:
        client = SnmpClient()
        try:
            t = Target(endpoints[0][0], endpoints[0][1], V2c(Secret(community, "test:c")), 0.3, 0)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return False
                ok, _ = await snmp_heartbeat(client, t)
                if ok:
                    return True
            return False
        finally:
            await client.close()

    if not asyncio.run(ready()):
        agent.stop()
        raise RuntimeError("snmpsim did not start")
    return agent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("snmpdata")
    for f in [*DATA_DIR.glob("*.snmprec"), *BAD_DIR.glob("*.snmprec")]:
        shutil.copy(f, d / f.name)
    # An empty SNMPv3 context (what real APs use) is served by the file named self.snmprec at the root.
    shutil.copy(DATA_DIR / "unifi.snmprec", d / "self.snmprec")
    return d


@pytest.fixture(scope="module")
def agent(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    a = start_agent(data_dir, tmp_path_factory.mktemp("snmpcache"), n_endpoints=3)
    yield a
    a.stop()


@pytest.fixture(scope="module")
def profiles():  # type: ignore[no-untyped-def]
    return load_profiles()


def v2c(agent: Agent, community: str, i: int = 0, timeout: float = 1.0, retries: int = 1) -> Target:
    host, port = agent.endpoints[i]
    return Target(host, port, V2c(Secret(community, "test:community")), timeout, retries)


def v3(agent: Agent, auth_key: str = AUTH_KEY, priv_key: str = PRIV_KEY) -> Target:
    host, port = agent.endpoints[0]
    creds = V3(V3_USER, "sha256", Secret(auth_key, "test:auth"), "aes128", Secret(priv_key, "test:priv"))
    return Target(host, port, creds, 1.0, 0)


def poll(profiles, targets: list[tuple[str, Target, str]], max_concurrency: int = 64,  # type: ignore[no-untyped-def]
         rounds: int = 1, pause_s: float = 0.0) -> list[list[PollResult]]:
    async def run() -> list[list[PollResult]]:
        client = SnmpClient(max_concurrency=max_concurrency)
        poller = ApPoller(client, profiles)
        out = []
        try:
            for r in range(rounds):
                if r:
                    await asyncio.sleep(pause_s)
                out.append(list(await asyncio.gather(*(poller.poll(d, t, v) for d, t, v in targets))))
        finally:
            await client.close()
        return out

    return asyncio.run(run())


def _check_counts(name: str, res: PollResult, t_before: float, t_after: float) -> None:
    # The curve may cross an integer between the agent's reading and ours: accept either side's value.
    options = [expected(name, t_before), expected(name, t_after)]
    assert any(res.clients == e.total for e in options), (name, res.clients, options)
    assert any(res.clients_by_radio == e.by_radio for e in options), (name, res.clients_by_radio, options)
    assert any(res.clients_by_ssid == e.by_ssid for e in options), (name, res.clients_by_ssid, options)


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_each_profile_reads_its_recorded_clients(agent: Agent, profiles, name: str) -> None:  # type: ignore[no-untyped-def]
    t0 = time.time()
    [[res]] = poll(profiles, [(name, v2c(agent, name), name)])
    t1 = time.time()
    assert res.ok and res.error is None, res.error
    assert res.vendor == name
    assert res.sys_object_id == RECORDINGS[name].sys_object_id
    assert res.uptime_s is not None and res.uptime_s >= 12 * 86400
    _check_counts(name, res, t0, t1)
    names = {i.name for i in RECORDINGS[name].ifaces} - {"lo"}
    assert set(res.interfaces) == names
    first = next(iter(res.interfaces.values()))
    assert first.rx_bytes is not None and first.rx_bps is None  # a first sample gives no rate
    assert res.pdus >= 1  # scalars ride in the first GETBULK (collector/snmp/README.md)


def test_auto_detection_picks_each_profile(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    [results] = poll(profiles, [(name, v2c(agent, name, i % 3), "auto") for i, name in enumerate(RECORDINGS)])
    assert {r.device_id: r.vendor for r in results} == {n: n for n in RECORDINGS}
    t = time.time()
    for r in results:
        if r.device_id != "generic":
            assert r.clients is not None and abs(r.clients - (expected(r.device_id, t).total or 0)) <= 2


def test_generic_has_no_clients_and_uses_32_bit_counters(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    [[res]] = poll(profiles, [("g", v2c(agent, "generic"), "generic")])
    assert res.ok and res.clients is None and res.clients_by_radio == {} and res.clients_by_ssid == {}
    assert {n: s.bits for n, s in res.interfaces.items()} == {"eth0": 32, "wlan0": 32}
    assert res.interfaces["eth0"].oper_up is True


def test_rates_come_from_two_polls(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    first, second = poll(profiles, [("u", v2c(agent, "unifi"), "unifi"), ("g", v2c(agent, "generic"), "generic")],
                         rounds=2, pause_s=1.0)
    assert first[0].rx_bps is None
    unifi, generic = second
    eth0 = unifi.interfaces["eth0"]
    assert eth0.rx_bps == pytest.approx(250_000 * 8, rel=0.1)
    assert eth0.tx_bps == pytest.approx(1_250_000 * 8, rel=0.1)
    wanted = sum(i.rx_rate for i in RECORDINGS["unifi"].ifaces if i.name != "lo") * 8
    assert unifi.rx_bps == pytest.approx(wanted, rel=0.1)
    g = generic.interfaces["eth0"]
    # 32-bit counters may wrap between the polls; either way the rate is right (or withheld, never a spike).
    assert g.rx_bps is None or g.rx_bps == pytest.approx(200_000 * 8, rel=0.1)


def test_v3_auth_priv_sha256_aes128(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    t0 = time.time()
    [[res]] = poll(profiles, [("v3", v3(agent), "auto")])
    assert res.ok and res.error is None and res.vendor == "unifi"
    _check_counts("unifi", res, t0, time.time())


@pytest.mark.parametrize(("user", "auth", "priv"), V3_MATRIX)
def test_v3_security_levels_and_protocols(agent: Agent, profiles, user: str, auth: str, priv: str) -> None:  # type: ignore[no-untyped-def]
    host, port = agent.endpoints[1]
    creds = V3(user, auth, Secret(AUTH_KEY, "test:auth") if auth != "none" else None,
               priv, Secret(PRIV_KEY, "test:priv") if priv != "none" else None)
    [[res]] = poll(profiles, [(user, Target(host, port, creds, 1.0, 0), "auto")])
    assert res.ok and res.error is None and res.vendor == "unifi", res.error


def test_v3_wrong_auth_key_is_an_auth_error(agent: Agent, profiles, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    wrong = "wrong-auth-key-771"
    [[bad_auth, bad_priv]] = poll(profiles, [("a", v3(agent, auth_key=wrong), "unifi"),
                                             ("p", v3(agent, priv_key="wrong-priv-key-88"), "unifi")])
    for res in (bad_auth, bad_priv):
        assert not res.ok and res.error_kind == "auth"
        assert res.error and "SNMPv3 authentication failed" in res.error
    for text in (bad_auth.error or "", bad_priv.error or "", caplog.text):
        assert wrong not in text and AUTH_KEY not in text and PRIV_KEY not in text


def test_wrong_community_is_a_timeout(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    [[res]] = poll(profiles, [("x", v2c(agent, "not-a-community-4711", timeout=0.3, retries=0), "auto")])
    assert not res.ok and res.error_kind == "timeout"
    assert "not-a-community-4711" not in (res.error or "")


def test_dead_agent_times_out_without_delaying_the_others(data_dir: Path, agent: Agent, profiles,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    doomed = start_agent(data_dir, tmp_path / "cache")
    host, port = doomed.endpoints[0]
    doomed.stop()
    dead = Target(host, port, V2c(Secret("unifi", "test:c")), 1.0, 1)
    live = [(f"live{i}", v2c(agent, name, i % 3), name) for i, name in enumerate(RECORDINGS)]
    t0 = time.perf_counter()
    [results] = poll(profiles, [("dead", dead, "unifi"), *live])
    elapsed = time.perf_counter() - t0
    by_id = {r.device_id: r for r in results}
    d = by_id.pop("dead")
    assert not d.ok and d.error_kind == "timeout"
    # Reported after its timeout x (retries + 1), within its own poll budget.
    # (pysnmp checks timeouts on a coarse timer, so the lower bound is loose.)
    assert dead.attempt_budget_s * 1000 * 0.5 <= d.poll_ms <= dead.attempt_budget_s * 3 * 1000 + 500
    assert all(r.ok for r in by_id.values()), [r.error for r in by_id.values()]
    # Live APs did not wait for the dead one: each finished before the dead one's first timeout.
    assert max(r.poll_ms for r in by_id.values()) < dead.timeout_s * 1000
    assert elapsed < dead.attempt_budget_s * 3 + 2

    async def beats() -> tuple[tuple[bool, float | None], tuple[bool, float | None]]:
        client = SnmpClient()
        try:
            return await snmp_heartbeat(client, dead), await snmp_heartbeat(client, v2c(agent, "unifi"))
        finally:
            await client.close()

    (dead_ok, dead_rtt), (live_ok, live_rtt) = asyncio.run(beats())
    assert (dead_ok, dead_rtt) == (False, None)
    assert live_ok and live_rtt is not None and live_rtt > 0


def test_concurrency_limit_still_polls_everyone(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    targets = [(f"ap{i}", v2c(agent, "unifi", i % 3), "unifi") for i in range(12)]
    [results] = poll(profiles, targets, max_concurrency=2)
    assert len(results) == 12 and all(r.ok and r.error is None for r in results)


def test_bad_agent_data_is_dropped_not_raised(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    [[bad, empty, empty_auto]] = poll(profiles, [("bad", v2c(agent, "bad_unifi"), "unifi"),
                                                 ("empty", v2c(agent, "empty_unifi"), "unifi"),
                                                 ("empty_auto", v2c(agent, "empty_unifi"), "auto")])
    assert bad.ok and bad.error_kind == "bad_data" and bad.error
    assert bad.sys_object_id is None and bad.uptime_s is None
    assert bad.clients == 8
    assert bad.clients_by_radio == {"5GHz": 5, "2.4GHz": 3}
    assert bad.clients_by_ssid == {"ssid3": 5, "Kashima_Free_Wi-Fi": 3}
    assert any("1000000000 clients is implausible" in d for d in bad.dropped)
    assert any("OctetString is not a count" in d for d in bad.dropped)
    assert bad.interfaces["eth0"].bits == 32 and bad.interfaces["eth0"].rx_bytes == 1000
    assert empty.ok and empty.vendor == "unifi" and empty.clients is None
    assert empty.error_kind == "no_such_object"
    assert empty.interfaces["eth0"].oper_up is False
    # In auto mode a UniFi sysObjectID without unifiVapTable is not taken for UniFi: the probe says why.
    assert empty_auto.ok and empty_auto.vendor == "generic" and empty_auto.error is None
    assert empty_auto.detection is not None and "signature not found" in empty_auto.detection.evidence()


def test_points_follow_the_schema(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    [[res]] = poll(profiles, [("ap1", v2c(agent, "unifi"), "unifi")])
    points = to_points("site1", "ap1", "ap", res, 1_700_000_000_000_000_000, (True, 1.5, 0.0))
    kinds = {p.measurement for p in points}
    assert kinds == {"ap_status", "ap_clients", "ap_traffic"}
    for p in points:
        tags, fields = MEASUREMENTS[p.measurement]
        assert set(p.tags) == set(tags), p
        assert set(p.fields) <= set(fields), p
        assert p.to_line()
    status = next(p for p in points if p.measurement == "ap_status")
    assert status.fields["reachable"] is True and status.fields["rtt_ms"] == 1.5
    assert status.fields["clients"] == res.clients and status.tags["vendor"] == "unifi"
    radios = {p.tags["radio"]: p.fields["clients"] for p in points if p.measurement == "ap_clients"}
    assert radios["2.4GHz"] == res.clients_by_radio["2.4GHz"]
    assert radios["ssid:Kashima_Staff"] == 3
    assert {p.tags["interface"] for p in points if p.measurement == "ap_traffic"} == {"eth0", "wifi0", "wifi1"}


def test_target_for_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    inv = Inventory.model_validate({
        "snmp": {"version": "3", "user": "wifiwatch", "auth_key": "env:WW_TEST_AUTH_ABSENT",
                 "priv_key": "env:WW_TEST_PRIV"},
        "sites": [{"id": "s1", "name_ja": "鹿嶋", "name_en": "Kashima", "kind": "park", "lat": 35.96, "lon": 140.64,
                   "aps": [{"id": "ap-1", "host": "127.0.3.9", "poll": {"timeout_s": 0.7, "retries": 2}}]}],
    })
    monkeypatch.delenv("WW_TEST_AUTH_ABSENT", raising=False)
    monkeypatch.setenv("WW_TEST_PRIV", "priv-secret-value")
    site, ap = inv.ap("ap-1")
    with pytest.raises(TargetError) as e:
        target_for(inv, site, ap, SecretResolver())
    assert "ap-1" in str(e.value) and "WW_TEST_AUTH_ABSENT" in str(e.value)
    monkeypatch.setenv("WW_TEST_AUTH_ABSENT", "auth-secret-value")
    t = target_for(inv, site, ap, SecretResolver())
    assert (t.host, t.port, t.timeout_s, t.retries) == ("127.0.3.9", 161, 0.7, 2)
    assert isinstance(t.credentials, V3) and "auth-secret-value" not in repr(t)


def test_get_of_several_scalars_is_one_pdu(agent: Agent) -> None:
    async def run() -> tuple[int, dict]:  # type: ignore[type-arg]
        client = SnmpClient()
        try:
            from collector.snmp.client import PduCounter

            c = PduCounter()
            out = await client.get(v2c(agent, "unifi"), [parse_oid("1.3.6.1.2.1.1.5.0"),
                                                          parse_oid("1.3.6.1.2.1.1.2.0"),
                                                          parse_oid("1.3.6.1.2.1.1.99.0")], c)
            return c.pdus, out
        finally:
            await client.close()

    pdus, out = asyncio.run(run())
    assert pdus == 1
    assert out[parse_oid("1.3.6.1.2.1.1.5.0")].value == b"sim-unifi"
    assert out[parse_oid("1.3.6.1.2.1.1.99.0")].missing


def test_a_dropped_in_profile_counts_table_rows(agent: Agent) -> None:
    profiles = load_profiles([BAD_DIR / "profiles"])
    [[res]] = poll(profiles, [("old", v2c(agent, "legacy_aruba"), "aruba_instant_legacy")])
    assert res.ok and res.error is None and res.vendor == "aruba_instant_legacy"
    assert res.clients == 3 and res.clients_by_radio == {} and res.clients_by_ssid == {}


def test_radio_health_from_the_aruba_recording(agent: Agent, profiles) -> None:  # type: ignore[no-untyped-def]
    """aiRadioTable: a text channel ("36E"), tx power, noise floor, utilisation; band and frequency derived."""
    [[res]] = poll(profiles, [("a", v2c(agent, "aruba_instant"), "aruba_instant")])
    assert res.radios == {
        "5GHz": {"channel": 36.0, "tx_power_dbm": 18.0, "noise_dbm": -95.0, "utilization_pct": 23.0,
                 "frequency_mhz": 5180.0, "band": "5GHz"},
        "2.4GHz": {"channel": 6.0, "tx_power_dbm": 12.0, "noise_dbm": -91.0, "utilization_pct": 41.0,
                   "frequency_mhz": 2437.0, "band": "2.4GHz"},
    }
