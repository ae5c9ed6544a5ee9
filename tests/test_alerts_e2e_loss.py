"""End to end: 10% random heartbeat loss for 10 minutes raises no DOWN; the same harness at 100% loss does.

The real daemon (its own process) watches a simulated fleet (snmpsim agents on loopback) with ICMP
heartbeats and sends alerts to a webhook receiver on loopback. An nftables rule drops packets to one
AP's address at random (``numgen random mod 10 0``: one in ten), as the simulator's own unplug does.

Time is compressed, not the count: with a 1 s heartbeat (0.3 s timeout), 60 s of wall time are the
60 heartbeats that 10 minutes at the default 10 s heartbeat would be. The alert state machine counts
heartbeats (DOWN after 3 missed in a row), so the outcome over 60 heartbeats is the same at either pace.

Even so, 10% loss gives three misses in a row in about 6% of 10-minute windows, and then DOWN is the
right answer (the pure state machine's property test makes the same point). So the test reads the
daemon's own heartbeat record for the AP: when it has no three consecutive misses (about 94% of runs)
no DOWN message may arrive, and when it has, exactly that must have produced one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.icmp import raw_sockets_permitted
from core.store.sqlite_store import SqliteStore
from tests.fixtures_alerts import Hook
from tests.fixtures_sim import SimHandle

ROOT = Path(__file__).resolve().parent.parent
LOSSY = "ap2"
CONFIG = """
[defaults]
heartbeat_s = 1
timeout_s = 0.3
interval_s = 30

[snmp]
version = "2c"
community = "env:WIFIWATCH_SNMP_COMMUNITY"

[alerts]
[[alerts.channels]]
name = "hook"
type = "webhook"
url = "env:WW_TEST_LOSS_HOOK"

[[sites]]
id = "loss"
name_ja = "損失試験"
name_en = "Loss test"
kind = "park"
lat = 35.97
lon = 140.63
""" + "".join(f"""
[[sites.aps]]
id = "ap{i}"
host = "127.0.0.1"
vendor = "generic"
""" for i in (1, 2, 3))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not raw_sockets_permitted() or shutil.which("nft") is None,
                       reason="needs ICMP and nftables (root)"),
]


def nft(*args: str) -> str:
    return subprocess.run(["nft", *args], check=True, capture_output=True, text=True).stdout


class LossRule:
    """Drops one packet in ten to a host (or every one), in an nftables table of its own."""

    def __init__(self) -> None:
        self.table = f"wwtest_loss_{os.getpid()}"
        nft("add", "table", "inet", self.table)
        nft("add", "chain", "inet", self.table, "input", "{ type filter hook input priority -10; policy accept; }")

    def set(self, host: str, all_packets: bool = False) -> None:
        nft("flush", "chain", "inet", self.table, "input")
        match = [] if all_packets else ["numgen", "random", "mod", "10", "0"]
        nft("add", "rule", "inet", self.table, "input", "ip", "daddr", host, *match, "counter", "drop")

    def dropped(self) -> int:
        return int(nft("list", "chain", "inet", self.table, "input").split("counter packets ")[1].split()[0])

    def remove(self) -> None:
        subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True)


@pytest.fixture
def loss_rule() -> Iterator[LossRule]:
    rule = LossRule()
    yield rule
    rule.remove()


def pings(store: SqliteStore, ap: str, since: float, until: float) -> list[bool]:
    pts = store.query("ap_ping", int(since * 1e9), int(until * 1e9), {"ap": ap})
    return [bool(p.fields["reachable"]) for p in sorted(pts, key=lambda p: p.time_ns)]


def downs(hook: Hook, ap: str) -> list[dict[str, object]]:
    return [r["json"] for r in hook.received if r["json"].get("kind") == "down" and r["json"].get("device_id") == ap]


def wait_for(cond: Callable[[], bool], timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def test_ten_percent_loss_for_ten_minutes_of_heartbeats_sends_no_down_but_full_loss_does(
        sim_fleet: Callable[..., SimHandle], webhook: Hook, loss_rule: LossRule, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WW_TEST_LOSS_HOOK", webhook.url)  # a webhook URL is a secret: by reference only
    h = sim_fleet(CONFIG)
    host = next(ap.host for _, ap in h.inventory.aps() if ap.id == LOSSY)
    store = SqliteStore(Path(h.inventory.store.path), h.inventory.store)
    log = (tmp_path / "daemon.log").open("wb")
    daemon = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config",
                               str(h.config_path)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        assert wait_for(lambda: True in pings(store, LOSSY, 0, time.time()), 30), "the AP never came up"
        time.sleep(1.5)  # every AP past its first heartbeat (UNKNOWN -> UP)
        start = time.time()
        loss_rule.set(host)
        time.sleep(60)
        end = time.time()
        dropped = loss_rule.dropped()
        beats = pings(store, LOSSY, start + 0.5, end)
        has_run = any(beats[i:i + 3] == [False] * 3 for i in range(len(beats) - 2))
        during = downs(webhook, LOSSY)

        # the same harness, every packet dropped: the DOWN must come
        loss_rule.set(host, all_packets=True)
        assert wait_for(lambda: len(downs(webhook, LOSSY)) > len(during), 15), "100% loss produced no DOWN"
    finally:
        daemon.terminate()
        daemon.wait(10)
        store.close()

    assert dropped > 0 and 50 <= len(beats) <= 90, (dropped, len(beats))
    assert 1 <= beats.count(False) <= 0.3 * len(beats), beats  # loss was there, and about one in ten
    assert bool(during) == has_run, (beats, during)  # no DOWN unless three heartbeats in a row were lost
    others = [r["json"] for r in webhook.received if r["json"].get("device_id") != LOSSY]
    assert others == [], others
