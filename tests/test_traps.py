"""Traps: declared as data, received over v2c and v3 by the real daemon, confirmed by a probe, folded.

End to end: Debian's snmpd is the AP (behind a UDP relay the test can cut, as if the AP were unplugged),
the daemon runs as its own process with the trap receiver on a free loopback port, Net-SNMP's
``snmptrap``/``snmpinform`` send the notifications and a webhook receiver on loopback records the alerts.
Heartbeats are 60 s apart, so every DOWN or UP seen within seconds came from a trap.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.alerts.state import DeviceState, State, Thresholds, trap_step
from collector.traps import TrapDefError, load_trap_defs
from core.store.sqlite_store import SqliteStore
from tests.fixtures_alerts import Hook

ROOT = Path(__file__).resolve().parent.parent
COMMUNITY = "trap-test-7c1e"
V3_USER, V3_AUTH, V3_PRIV = "wwtrap", "trap-auth-5d1f0a", "trap-priv-9b2e4c"
ENGINE_ID = "8000000001020304aa"
DISASSOC, ASSOC, AP_NAME = "1.3.6.1.4.1.14179.2.6.3.8", "1.3.6.1.4.1.14179.2.6.3.7", "1.3.6.1.4.1.14179.2.2.1.1.3.0"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"

needs_netsnmp = pytest.mark.skipif(not (shutil.which("snmptrap") and Path("/usr/sbin/snmpd").exists()),
                                   reason="needs Debian's snmp and snmpd packages")


# -- definitions as data ---------------------------------------------------------------------------
def test_bundled_trap_definitions_load_and_cover_the_standard_and_controller_traps() -> None:
    defs = load_trap_defs()
    by_name = {d.name: d for d in defs.values()}
    for name, means in [("linkDown", "down"), ("linkUp", "up"), ("coldStart", "up"), ("warmStart", "up"),
                        ("bsnAPDisassociated", "down"), ("bsnAPAssociated", "up"),
                        ("ruckusSZAPDisconnectedTrap", "down"), ("ruckusSZAPConnectedTrap", "up")]:
        assert by_name[name].means == means
    assert by_name["bsnAPDisassociated"].ap_from == ["1.3.6.1.4.1.14179.2.2.1.1.3"]


def test_a_broken_trap_file_names_file_entry_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[[traps]]\nname = "x"\noid = "1.3.6.1.4.1.9.1"\nmeans = "sideways"\n'
                                       '[[traps]]\nname = "y"\noid = "not.an.oid"\nmeans = "up"\n',
                                       encoding="utf-8")
    with pytest.raises(TrapDefError) as e:
        load_trap_defs([tmp_path])
    text = str(e.value)
    assert "bad.toml: traps.0.means" in text and "bad.toml: traps.1.oid" in text and "not a numeric OID" in text


def test_trap_step_opens_and_closes_only_against_the_record() -> None:
    t = Thresholds()
    up = DeviceState(confirmed=State.UP, phase=State.UP)
    down, tr = trap_step(up, False, 100.0, t, "trap linkDown")
    assert down.confirmed == State.DOWN and [x.kind for x in tr] == ["down"] and tr[0].cause == "trap linkDown"
    assert trap_step(down, False, 101.0, t, "again") == (down, [])  # already down: nothing new
    assert trap_step(up, True, 101.0, t, "linkUp") == (up, [])  # up and answering: nothing
    back, tr = trap_step(down, True, 130.0, t, "linkUp")
    assert back.confirmed == State.UP and [x.kind for x in tr] == ["up"] and tr[0].duration_s == 30.0


# -- end to end --------------------------------------------------------------------------------------
def _free_udp(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Relay:
    """A UDP relay on loopback in front of the agent; ``cut`` drops everything (the AP unplugged)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.cut = False
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.backs: dict[tuple[str, int], socket.socket] = {}
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.front, selectors.EVENT_READ, None)
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            for key, _ in self.sel.select(0.05):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data, src = sock.recvfrom(65535)
                except OSError:
                    continue
                if self.cut:
                    continue
                if key.data is None:
                    back = self.backs.get(src)
                    if back is None:
                        back = self.backs[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        back.bind(("127.0.0.1", 0))
                        self.sel.register(back, selectors.EVENT_READ, src)
                    back.sendto(data, self.upstream)
                else:
                    self.front.sendto(data, key.data)

    def close(self) -> None:
        self.stopped = True
        self.thread.join(2)
        for s in [self.front, *self.backs.values()]:
            s.close()


@pytest.fixture(scope="module")
def snmpd_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    d = tmp_path_factory.mktemp("trapagent")
    port = _free_udp()
    (d / "snmpd.conf").write_text(
        f"agentaddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.0/8\n"
        f'createUser {V3_USER} SHA-256 "{V3_AUTH}" AES "{V3_PRIV}"\nrouser {V3_USER} priv\n', encoding="utf-8")
    (d / "state").mkdir(exist_ok=True)  # snmpd writes its persistent snmpd.conf there, not over ours
    proc = subprocess.Popen(["/usr/sbin/snmpd", "-f", "-Ln", "-C", "-c", str(d / "snmpd.conf"), "-p",
                             str(d / "pid")], env={**os.environ, "SNMP_PERSISTENT_DIR": str(d / "state")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        r = subprocess.run(["snmpget", "-v2c", "-c", COMMUNITY, "-t", "0.3", "-r", "0", f"127.0.0.1:{port}",
                            "1.3.6.1.2.1.1.3.0"], capture_output=True)
        if r.returncode == 0:
            break
        time.sleep(0.1)
    yield "127.0.0.1", port
    proc.terminate()
    proc.wait(5)


def _config(relay_port: int, relay2_port: int, trap_port: int, store: Path) -> str:
    return f"""
[defaults]
heartbeat_s = 60
interval_s = 300
timeout_s = 0.5
retries = 0

[snmp]
version = "2c"
community = "env:WW_TRAP_COMMUNITY"

[store]
path = "{store}"

[http]
port = 0

[traps]
enabled = true
bind = "127.0.0.1"
port = {trap_port}
engine_ids = ["{ENGINE_ID}"]
probe_timeout_s = 0.3

[alerts]
[[alerts.channels]]
name = "hook"
type = "webhook"
url = "env:WW_TRAP_HOOK"

[[sites]]
id = "trapsite"
name_ja = "トラップ試験"
name_en = "Trap test"
kind = "park"
lat = 35.97
lon = 140.63

[[sites.aps]]
id = "ap1"
host = "127.0.0.1"
port = {relay_port}
vendor = "generic"

[[sites.aps]]
id = "ap2"
host = "127.0.0.1"
port = {relay2_port}
vendor = "generic"
[sites.aps.snmp]
version = "3"
user = "{V3_USER}"
auth_protocol = "sha256"
auth_key = "env:WW_TRAP_AUTH"
priv_protocol = "aes128"
priv_key = "env:WW_TRAP_PRIV"
"""


def _wait(cond: Callable[[], bool], timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _events(hook: Hook, kind: str, ap: str) -> list[dict[str, object]]:
    return [r["json"] for r in hook.received if r["json"].get("kind") == kind and r["json"].get("device_id") == ap]


def _v2c_trap(port: int, oid: str, *binds: str, community: str = COMMUNITY) -> None:
    subprocess.run(["snmptrap", "-v2c", "-c", community, f"127.0.0.1:{port}", "", oid, *binds], check=True,
                   capture_output=True, timeout=10)


def _v3(kind: str, port: int, oid: str, *binds: str) -> None:
    cmd = ["snmpinform"] if kind == "inform" else ["snmptrap", "-e", "0x" + ENGINE_ID]
    subprocess.run([*cmd, "-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA-256", "-A", V3_AUTH, "-x", "AES",
                    "-X", V3_PRIV, "-t", "2", "-r", "1", f"127.0.0.1:{port}", "", oid, *binds], check=True,
                   capture_output=True, timeout=15)


@needs_netsnmp
def test_traps_open_and_close_incidents_at_once_over_v2c_and_v3_and_flapping_folds(
        snmpd_agent: tuple[str, int], webhook: Hook, tmp_path: Path) -> None:
    relay, relay2 = Relay(snmpd_agent), Relay(snmpd_agent)
    trap_port = _free_udp()
    store_path = tmp_path / "store.sqlite3"
    cfg = tmp_path / "sites.toml"
    cfg.write_text(_config(relay.port, relay2.port, trap_port, store_path), encoding="utf-8")
    env = {**os.environ, "WW_TRAP_COMMUNITY": COMMUNITY, "WW_TRAP_AUTH": V3_AUTH, "WW_TRAP_PRIV": V3_PRIV,
           "WW_TRAP_HOOK": webhook.url}
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--no-icmp",
                                   "--config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        assert _wait(lambda: store_path.exists() and _up(store_path, {"ap1", "ap2"}), 30), log_path.read_text()
        bname = f"{AP_NAME}"

        # v2c: a controller says ap1 left; the probe (cut relay) agrees -> DOWN within seconds
        relay.cut = relay2.cut = True
        t0 = time.time()
        _v2c_trap(trap_port, DISASSOC, bname, "s", "ap1")
        assert _wait(lambda: _events(webhook, "down", "ap1"), 10), log_path.read_text()
        down_latency = time.time() - t0
        # a wrong community is dropped: ap2 (also unreachable now) gets nothing from it
        _v2c_trap(trap_port, DISASSOC, bname, "s", "ap2", community="wrong-community")

        # the AP's own linkUp (sender 127.0.0.1 = ap1's host) once it answers again -> UP
        relay.cut = relay2.cut = False
        t1 = time.time()
        _v2c_trap(trap_port, LINK_UP)
        assert _wait(lambda: _events(webhook, "up", "ap1"), 10), log_path.read_text()
        up_latency = time.time() - t1

        # flapping: two trap-driven changes within hold_s already; more traps fold into the heartbeats' care
        relay.cut = relay2.cut = True
        for _ in range(3):
            _v2c_trap(trap_port, DISASSOC, bname, "s", "ap1")
            _v2c_trap(trap_port, ASSOC, bname, "s", "ap1")

        # v3 INFORM (engine discovery against the receiver) for ap2: DOWN
        _v3("inform", trap_port, DISASSOC, bname, "s", "ap2")
        assert _wait(lambda: _events(webhook, "down", "ap2"), 10), log_path.read_text()
        assert not _events(webhook, "down", "ap2")[1:]
        # v3 TRAP from a declared engine ID for ap2: UP once it answers
        relay.cut = relay2.cut = False
        _v3("trap", trap_port, ASSOC, bname, "s", "ap2")
        assert _wait(lambda: _events(webhook, "up", "ap2"), 10), log_path.read_text()
        time.sleep(1.0)  # anything the folded traps might still have caused
    finally:
        daemon.terminate()
        daemon.wait(10)
        relay.close()
        relay2.close()
    text = log_path.read_text()
    assert len(_events(webhook, "down", "ap1")) == 1 and len(_events(webhook, "up", "ap1")) == 1, webhook.received
    assert "trap folded" in text
    assert "Traceback" not in text, text
    assert down_latency < 5 and up_latency < 5, (down_latency, up_latency)


def _up(store_path: Path, aps: set[str]) -> bool:
    from core.inventory import StoreSettings

    try:
        store = SqliteStore(store_path, StoreSettings(min_free_mb=0))
    except Exception:
        return False
    try:
        seen = {p.tags.get("ap") for p in store.query("ap_ping", 0, int(time.time() * 1e9) + 10**9, {})
                if p.fields.get("reachable")}
        return aps <= seen
    finally:
        store.close()


def test_resolve_finds_the_ap_by_sender_by_name_or_by_ip_and_drops_the_rest() -> None:
    from pysnmp.proto import rfc1902

    from collector.traps import SNMP_TRAP_OID, DeviceIndex, TrapEvent, resolve
    from core.config import parse_config

    inv = parse_config(_config(1161, 1162, 1163, Path("/tmp/unused.sqlite3")).replace(
        'host = "127.0.0.1"\nport = 1162', 'host = "127.9.9.9"\nport = 1162'), "t.toml")
    defs, index = load_trap_defs(), DeviceIndex(inv)

    def trap(oid: str, *binds: tuple[str, object]) -> list[tuple[tuple[int, ...], object]]:
        return [(SNMP_TRAP_OID, rfc1902.ObjectName(oid))] + [
            (tuple(int(x) for x in o.split(".")), v) for o, v in binds]

    sz_down, ip_var = "1.3.6.1.4.1.25053.2.11.1.23", "1.3.6.1.4.1.25053.2.11.2.26.0"
    by_ip = resolve(defs, index, "10.0.0.9", trap(sz_down, (ip_var, rfc1902.OctetString(b"127.9.9.9"))), 1.0)
    assert isinstance(by_ip, TrapEvent) and (by_ip.device, by_ip.means) == ("ap2", "down")
    by_sender = resolve(defs, index, "127.0.0.1", trap(LINK_UP), 2.0)
    assert isinstance(by_sender, TrapEvent) and (by_sender.device, by_sender.means) == ("ap1", "up")
    by_name = resolve(defs, index, "10.0.0.9", trap(DISASSOC, (AP_NAME, rfc1902.OctetString(b"AP1"))), 3.0)
    assert isinstance(by_name, TrapEvent) and by_name.device == "ap1"  # names match case-insensitively
    assert resolve(defs, index, "127.0.0.1", trap("1.3.6.1.4.1.9.9.9.9"), 4.0) == "not declared"
    assert resolve(defs, index, "10.0.0.9", trap(LINK_UP), 5.0) == "unknown device"
    assert resolve(defs, index, "10.0.0.9", trap(DISASSOC, (AP_NAME, rfc1902.OctetString(b"x" * 5000))),
                   6.0) == "unknown device"
    assert resolve(defs, index, "127.0.0.1", [], 7.0) == "no snmpTrapOID"
