"""A large simulated fleet for benchmarks: Debian's snmpd, many loopback endpoints per process.

snmpsim is a faithful AP simulator but too slow to be a load target for thousands of APs; snmpd
answers IF-MIB and the system group in C. One snmpd serves up to ~120 endpoints from one
``agentaddress`` line here, so N APs take ceil(N / per_process) processes. Addresses are in
127.1.0.0/16 (loopback only).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"


MAX_APS = 254 * 256  # 127.1.0.1 ... 127.1.255.254


def address(i: int) -> str:
    """The i-th bench AP's loopback address (127.1.0.1 ... 127.1.255.254): never anything off this machine."""
    if not 0 <= i < MAX_APS:
        raise ValueError(f"bench fleet: AP index {i} outside 0..{MAX_APS - 1} (127.1.0.0/16)")
    addr = f"127.1.{i // 254}.{1 + i % 254}"
    assert ipaddress.ip_address(addr).is_loopback
    return addr


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 user every fleet agent knows (authPriv): Net-SNMP's createUser protocol names."""

    name: str
    auth_key: str
    priv_key: str
    auth: str = "SHA-256"  # snmpd's name; wifiwatch's is sha256
    priv: str = "AES"  # AES-128 (CFB)

    def conf(self) -> str:
        return (f'createUser {self.name} {self.auth} "{self.auth_key}" {self.priv} "{self.priv_key}"\n'
                f"rouser {self.name} priv\n")


@dataclass
class SnmpdFleet:
    n: int
    community: str
    port: int = 1161
    per_process: int = 100
    v3: V3User | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ww-snmpd-")))
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def hosts(self) -> list[tuple[str, int]]:
        return [(address(i), self.port) for i in range(self.n)]

    def start(self) -> None:
        for chunk, first in enumerate(range(0, self.n, self.per_process)):
            last = min(first + self.per_process, self.n)
            conf = self.workdir / f"snmpd-{chunk}.conf"
            endpoints = ",".join(f"udp:{address(i)}:{self.port}" for i in range(first, last))
            conf.write_text(
                f"agentaddress {endpoints}\n"
                f"rocommunity {self.community} 127.0.0.0/8\n"
                "sysLocation wifiwatch bench\nsysContact bench\n" + (self.v3.conf() if self.v3 else ""),
                encoding="utf-8",
            )
            state = self.workdir / f"state-{chunk}"  # createUser is persisted here, not in /var/lib/snmp
            state.mkdir(exist_ok=True)
            # -C: only this config; -f: foreground (we own the process); -Ln: no logging noise
            self.procs.append(subprocess.Popen(
                [SNMPD, "-f", "-Ln", "-C", "-c", str(conf), "-p", str(self.workdir / f"snmpd-{chunk}.pid")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "SNMP_PERSISTENT_DIR": str(state)},
            ))
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 90.0) -> None:
        probes = [address(i) for i in range(0, self.n, self.per_process)] + [address(self.n - 1)]
        deadline = time.monotonic() + timeout_s
        pending = set(probes)
        while pending and time.monotonic() < deadline:
            for host in list(pending):
                r = subprocess.run(
                    ["snmpget", "-v2c", "-c", self.community, "-t", "0.5", "-r", "0", "-Oqv",
                     f"{host}:{self.port}", "1.3.6.1.2.1.1.3.0"],
                    capture_output=True, text=True,
                )
                if r.returncode == 0:
                    pending.discard(host)
            if pending:
                time.sleep(0.2)
        if pending:
            self.stop()
            raise RuntimeError(f"snmpd did not answer on {sorted(pending)[:3]}...")

    def stop(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def rss_kb(self) -> int:
        total = 0
        for p in self.procs:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total


def inventory_toml(hosts: list[tuple[str, int]], community_env: str, interval_s: float = 60.0,
                   per_site: int = 50, shard: str = "0/1", v3: V3User | None = None,
                   v3_env: tuple[str, str] = ("", "")) -> str:
    """An inventory of generic (IF-MIB) APs, ``per_site`` to a site, spread over Kashima's area.

    With ``v3``, every AP is polled as that SNMPv3 user (authPriv), keys from the ``v3_env`` variables.
    """
    snmp = ['[snmp]', 'version = "2c"', f'community = "env:{community_env}"', '']
    if v3 is not None:
        snmp = ['[snmp]', 'version = "3"', f'user = "{v3.name}"', 'auth_protocol = "sha256"',
                f'auth_key = "env:{v3_env[0]}"', 'priv_protocol = "aes128"', f'priv_key = "env:{v3_env[1]}"', '']
    lines = [
        '[defaults]', f'interval_s = {interval_s}', 'heartbeat_s = 10', 'timeout_s = 2.0', 'retries = 1', '',
        *snmp,
        '[cluster]', f'shard = "{shard}"', '',
    ]
    for s in range(0, len(hosts), per_site):
        lat = 35.90 + (s // per_site % 100) * 0.001
        lines += ['[[sites]]', f'id = "site-{s // per_site}"', f'name_ja = "拠点{s // per_site}"',
                  f'name_en = "Site {s // per_site}"', 'kind = "public_facility"', f'lat = {lat:.4f}',
                  'lon = 140.60', '']
        for i in range(s, min(s + per_site, len(hosts))):
            host, port = hosts[i]
            lines += ['[[sites.aps]]', f'id = "ap-{i}"', f'host = "{host}"', f'port = {port}', 'vendor = "generic"', '']
    return "\n".join(lines)


@contextlib.contextmanager
def running(n: int, community: str, v3: V3User | None = None) -> Iterator[SnmpdFleet]:
    fleet = SnmpdFleet(n, community, v3=v3)
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.stop()
