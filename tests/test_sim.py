"""The simulated fleet: real agents answer v3 and v2c; down/up silence and restore ICMP and SNMP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collector.icmp import ping_batch, raw_sockets_permitted
from collector.snmp.client import SnmpClient
from collector.snmp.poller import snmp_heartbeat, target_for
from core.config import parse_config
from core.secrets import SecretResolver
from tests.fixtures_sim import SimHandle, readdress
from wifiwatch.sim.fleet import Fleet, SimError

ROOT = Path(__file__).resolve().parent.parent


def heartbeats(h: SimHandle) -> dict[str, bool]:
    async def run() -> dict[str, bool]:
        client = SnmpClient()
        try:
            out = {}
            for site in h.inventory.sites:
                devs = [*([site.uplink] if site.uplink else []), *site.aps]
                for d in devs:
                    t = target_for(h.inventory, site, d, SecretResolver())
                    out[d.id] = (await snmp_heartbeat(client, t))[0]
            return out
        finally:
            await client.close()

    return asyncio.run(run())


def test_every_device_answers_v3_and_v2c(kashima_fleet: SimHandle) -> None:
    assert heartbeats(kashima_fleet) == {"omachi-router": True, "omachi-1": True, "omachi-2": True,
                                         "omachi-3": True, "kominkan-1": True}
    status = {s["id"]: s for s in kashima_fleet.fleet.status()}
    assert status["omachi-3"]["recording"] == "mikrotik" and status["omachi-router"]["recording"] == "generic"
    assert all(s["alive"] and not s["down"] for s in status.values())


@pytest.mark.skipif(os.geteuid() != 0 or not raw_sockets_permitted(), reason="nft and ICMP need root")
def test_down_silences_icmp_and_snmp_and_up_restores(kashima_fleet: SimHandle) -> None:
    _, ap = kashima_fleet.inventory.ap("omachi-2")
    _, other = kashima_fleet.inventory.ap("omachi-1")
    assert kashima_fleet.fleet.down("omachi-2") == "nft"
    pings = {p.host: p.reachable for p in ping_batch([ap.host, other.host], timeout_s=1.0)}
    assert pings == {ap.host: False, other.host: True}
    beats = heartbeats(kashima_fleet)
    assert beats["omachi-2"] is False and beats["omachi-1"] is True
    # another Fleet object (another CLI process) sees and reverses the state
    again = Fleet(kashima_fleet.inventory, SecretResolver(), kashima_fleet.fleet.state_dir)
    assert {s["id"]: s["down"] for s in again.status()}["omachi-2"] is True
    again.up("omachi-2")
    assert ping_batch([ap.host], timeout_s=1.0)[0].reachable
    assert heartbeats(kashima_fleet)["omachi-2"] is True


def test_non_loopback_host_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace('"127.0.1.11"', '"192.0.2.11"')
    inv = parse_config(text, "x.toml")
    with pytest.raises(SimError, match="only serves loopback"):
        Fleet(inv, SecretResolver(), tmp_path / "s").start()
    assert not (tmp_path / "s" / "fleet.json").exists()


def test_unknown_device_is_a_clear_error(kashima_fleet: SimHandle) -> None:
    with pytest.raises(SimError, match="no simulated device 'nope'"):
        kashima_fleet.fleet.down("nope")


def test_cli_start_down_up_status_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "sites.toml"
    cfg.write_text(readdress((ROOT / "config" / "sites.toml").read_text(encoding="utf-8"), tmp_path))
    env = {**os.environ, "WIFIWATCH_SNMP_AUTH_KEY": "cli-auth-key-1", "WIFIWATCH_SNMP_PRIV_KEY": "cli-priv-key-1",
           "WIFIWATCH_SNMP_COMMUNITY": "cli-community-1"}
    state = str(tmp_path / "state")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wifiwatch.cli", "sim", *args, "--config", str(cfg),
                               "--state-dir", state], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)

    try:
        r = cli("start")
        assert r.returncode == 0, r.stderr
        assert "omachi-2" in r.stdout and "aruba_instant" in r.stdout
        assert cli("down", "omachi-2").returncode == 0
        assert "down" in cli("status", "--lang", "en").stdout and "停止" in cli("status").stdout
        bad = cli("down", "nope")
        assert bad.returncode == 2 and "no simulated device 'nope'" in bad.stderr and "Traceback" not in bad.stderr
        assert cli("up", "omachi-2").returncode == 0
    finally:
        assert cli("stop").returncode == 0
    assert "not running" in cli("status").stdout
    assert "cli-auth-key-1" not in r.stdout + r.stderr


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "sites.toml"
    cfg.write_text(readdress((ROOT / "config" / "sites.toml").read_text(encoding="utf-8"), tmp_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIFIWATCH_SNMP")}
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "sim", "start", "--config", str(cfg), "--state-dir",
                        str(tmp_path / "st")], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "WIFIWATCH_SNMP" in r.stderr and "Traceback" not in r.stderr
