"""The simulated fleet: one real SNMP agent (snmpsim) per AP and uplink, on its own loopback address.

Each agent serves a per-vendor recording (wifiwatch/sim/data/<name>.snmprec) whose counters grow and
whose client counts follow a daily curve. SNMPv3 with an empty context (what real APs use) reads
``self.snmprec`` at the data dir's root; v2c reads ``<community>.snmprec``; both are laid out per agent.

``down(id)`` unplugs a device: an nftables set of dropped addresses silences ICMP and SNMP alike, as a
cable pulled out would. Without nft (not root), the agent is SIGSTOPped instead, so only SNMP goes silent.

The agents get their throw-away v3 keys on the command line, which other local users can read: fine
for a loopback simulator, never for real credentials. The simulator refuses any non-loopback address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.inventory import Device, Inventory, Site
from core.secrets import SecretResolver

log = logging.getLogger("wifiwatch.sim")

RECORDINGS = Path(__file__).resolve().parent / "data"
NFT_TABLE = "wifiwatch_sim"
AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA224", "sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512",
        "none": "NONE"}
PRIV = {"des": "DES", "3des": "3DES", "aes": "AES", "aes128": "AES", "aes192": "AES192", "aes256": "AES256",
        "none": "NONE"}


class SimError(Exception):
    """A simulator problem the user can act on (bad address, missing recording, agent not starting)."""


@dataclass
class AgentState:
    id: str
    site: str
    role: str
    host: str
    port: int
    recording: str
    pid: int
    probe_community: str
    down: bool = False


def _snmpsim_bin() -> str:
    local = Path(sys.executable).with_name("snmpsim-command-responder")
    found = str(local) if local.exists() else shutil.which("snmpsim-command-responder")
    if not found:
        raise SimError("snmpsim is not installed: pip install 'wifiwatch[demo]'")
    return found


def _check_loopback(device: Device) -> None:
    try:
        ok = ipaddress.ip_address(device.host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        ok = False
    if not ok:
        raise SimError(f"{device.id}: host {device.host} is not a 127.0.0.0/8 address; "
                       "the simulator only serves loopback")


def recording_for(device: Device, role: str) -> str:
    if role == "uplink":
        return "generic"
    name = getattr(device, "simulate_as", None) or getattr(device, "vendor", "auto")
    return "generic" if name in (None, "auto") else name


def _nft(*args: str) -> bool:
    nft = shutil.which("nft")
    if nft is None or os.geteuid() != 0:
        return False
    r = subprocess.run([nft, *args], capture_output=True, text=True)
    return r.returncode == 0


class Fleet:
    def __init__(self, inv: Inventory, resolver: SecretResolver, state_dir: Path, recordings_dir: Path = RECORDINGS):
        self.inv = inv
        self.resolver = resolver
        self.state_dir = Path(state_dir)
        self.recordings = recordings_dir

    # -- state ------------------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "fleet.json"

    def _load(self) -> dict[str, AgentState]:
        try:
            raw = json.loads(self._state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {k: AgentState(**v) for k, v in raw.get("agents", {}).items()}

    def _save(self, agents: dict[str, AgentState]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"agents": {k: asdict(v) for k, v in agents.items()}}, indent=1), encoding="utf-8")
        tmp.replace(self._state_file)

    def devices(self) -> list[tuple[Site, Device, str]]:
        out: list[tuple[Site, Device, str]] = []
        for site in self.inv.sites:
            if site.uplink is not None:
                out.append((site, site.uplink, "uplink"))
            out.extend((site, ap, "ap") for ap in site.aps)
        return out

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> dict[str, AgentState]:
        """Start every agent in parallel; returns when all answer (or raises, leaving nothing running)."""
        if self._load():
            self.stop()
        self._nft_reset()
        binary = _snmpsim_bin()
        agents: dict[str, AgentState] = {}
        for _, device, _ in self.devices():
            _check_loopback(device)
        try:
            for site, device, role in self.devices():
                agents[device.id] = self._spawn(binary, site, device, role)
            self._save(agents)
            self._wait_ready(agents, timeout_s)
        except BaseException:
            self._kill(agents.values())
            self._state_file.unlink(missing_ok=True)
            raise
        log.info("simulated fleet started: %d agents", len(agents))
        return agents

    def _spawn(self, binary: str, site: Site, device: Device, role: str) -> AgentState:
        rec = recording_for(device, role)
        src = self.recordings / f"{rec}.snmprec"
        if not src.is_file():
            raise SimError(f"{device.id}: no recording '{rec}' in {self.recordings}")
        data = self.state_dir / "agents" / device.id / "data"
        cache = self.state_dir / "agents" / device.id / "cache"
        shutil.rmtree(data.parent, ignore_errors=True)
        data.mkdir(parents=True)
        cache.mkdir(parents=True)
        text = src.read_text(encoding="utf-8")
        probe = "wwsim-" + secrets.token_hex(6)
        snmp = self.inv.snmp_for(site, device)
        args = [binary, f"--data-dir={data}", f"--cache-dir={cache}", "--log-level=error",
                f"--agent-udpv4-endpoint={device.host}:{device.port}"]
        names = ["self", probe]
        if snmp is not None and snmp.version == "2c" and snmp.community:
            names.append(self.resolver.resolve(snmp.community).reveal())
        if snmp is not None and snmp.version == "3":
            args.append(f"--v3-user={snmp.user}")
            if snmp.auth_protocol != "none" and snmp.auth_key:
                args += [f"--v3-auth-key={self.resolver.resolve(snmp.auth_key).reveal()}",
                         f"--v3-auth-proto={AUTH[snmp.auth_protocol]}"]
            if snmp.priv_protocol != "none" and snmp.priv_key:
                args += [f"--v3-priv-key={self.resolver.resolve(snmp.priv_key).reveal()}",
                         f"--v3-priv-proto={PRIV[snmp.priv_protocol]}"]
        for name in names:
            (data / f"{name}.snmprec").write_text(text, encoding="utf-8")
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        return AgentState(device.id, site.id, role, device.host, device.port, rec, proc.pid, probe)

    def _wait_ready(self, agents: dict[str, AgentState], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = dict(agents)
        while pending:
            for aid, a in list(pending.items()):
                if not _alive(a.pid):
                    raise SimError(f"{aid}: snmpsim exited at start (is {a.host}:{a.port} already in use?)")
                if _answers(a):
                    del pending[aid]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise SimError(f"agents not answering after {timeout_s:.0f} s: {', '.join(sorted(pending))}")
            time.sleep(0.2)

    def stop(self) -> None:
        agents = self._load()
        self._kill(agents.values())
        self._nft_reset(delete_only=True)
        self._state_file.unlink(missing_ok=True)
        # the v2c data files are named after the community: leave nothing secret behind
        shutil.rmtree(self.state_dir / "agents", ignore_errors=True)

    @staticmethod
    def _kill(agents: object) -> None:
        items = list(agents)  # type: ignore[call-overload]
        for a in items:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(a.pid, signal.SIGCONT)
                os.kill(a.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for a in items:
            while _alive(a.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if _alive(a.pid):
                    os.kill(a.pid, signal.SIGKILL)

    # -- faults ---------------------------------------------------------------------------------------
    def _agent(self, device_id: str) -> tuple[dict[str, AgentState], AgentState]:
        agents = self._load()
        if not agents:
            raise SimError(f"the simulated fleet is not running (no state in {self.state_dir})")
        if device_id not in agents:
            raise SimError(f"no simulated device '{device_id}' (known: {', '.join(sorted(agents))})")
        return agents, agents[device_id]

    def down(self, device_id: str) -> str:
        """Unplug: returns "nft" (ICMP and SNMP silent) or "sigstop" (SNMP silent only)."""
        agents, a = self._agent(device_id)
        how = "nft" if self._nft_ensure() and _nft("add", "element", "inet", NFT_TABLE, "down", f"{{ {a.host} }}") \
            else "sigstop"
        if how == "sigstop":
            os.kill(a.pid, signal.SIGSTOP)
            log.warning("nft unavailable: %s stopped with SIGSTOP, so it still answers ping", device_id)
        a.down = True
        self._save(agents)
        return how

    def up(self, device_id: str) -> None:
        agents, a = self._agent(device_id)
        _nft("delete", "element", "inet", NFT_TABLE, "down", f"{{ {a.host} }}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(a.pid, signal.SIGCONT)
        a.down = False
        self._save(agents)

    def status(self) -> list[dict[str, object]]:
        return [{**asdict(a), "alive": _alive(a.pid)} for a in self._load().values()]

    def _nft_ensure(self) -> bool:
        if _nft("list", "set", "inet", NFT_TABLE, "down"):
            return True
        return (_nft("add", "table", "inet", NFT_TABLE)
                and _nft("add", "set", "inet", NFT_TABLE, "down", "{ type ipv4_addr; }")
                and _nft("add", "chain", "inet", NFT_TABLE, "input",
                         "{ type filter hook input priority 0; policy accept; }")
                and _nft("add", "rule", "inet", NFT_TABLE, "input", "ip", "daddr", "@down", "drop"))

    def _nft_reset(self, delete_only: bool = False) -> None:
        """Remove our addresses from the drop set (other fleets may share the table)."""
        hosts = [d.host for _, d, _ in self.devices()]
        for h in hosts:
            _nft("delete", "element", "inet", NFT_TABLE, "down", f"{{ {h} }}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _answers(a: AgentState) -> bool:
    """A v2c GET of sysUpTime with the agent's private probe community (works for v3-only devices too)."""
    snmpget = shutil.which("snmpget")
    if snmpget is not None:
        r = subprocess.run([snmpget, "-v2c", "-c", a.probe_community, "-t", "0.3", "-r", "0", "-Oqv",
                            f"{a.host}:{a.port}", "1.3.6.1.2.1.1.3.0"], capture_output=True)
        return r.returncode == 0
    import asyncio

    from pysnmp.hlapi.v1arch.asyncio import CommunityData, ObjectIdentity, ObjectType, SnmpDispatcher, get_cmd
    from pysnmp.hlapi.v1arch.asyncio import UdpTransportTarget as T

    async def probe() -> bool:
        target = await T.create((a.host, a.port), timeout=0.3, retries=0)
        err, status, _, _ = await get_cmd(SnmpDispatcher(), CommunityData(a.probe_community), target,
                                          ObjectType(ObjectIdentity("1.3.6.1.2.1.1.3.0")), lookupMib=False)
        return not err and not status

    try:
        return asyncio.run(probe())
    except Exception:
        return False
