"""`wifiwatch run` with [visitors]: the daemon answers radclient's accounting on its configured port, stores
the sessions, and picks up new visitor_ids on SIGHUP (the contract external checks rely on)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.visitors.store import VisitorStore
from tests.visitors_fixtures import SECRET, inventory_text

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("radclient") is None, reason="radclient (freeradius-utils) missing")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(port: int, tmp: Path, body: str) -> subprocess.CompletedProcess[str]:
    f = tmp / "p.txt"
    f.write_text(body)
    return subprocess.run(["radclient", "-p", "1", "-r", "2", "-t", "1", "-f", str(f), f"127.0.0.1:{port}", "acct",
                           SECRET], capture_output=True, text=True, timeout=60)


def test_daemon_accounting_contract_and_reload(tmp_path):
    port = free_udp_port()
    text = inventory_text(tmp_path, radius=True).replace('radius_bind = "127.0.0.1:0"',
                                                         f'radius_bind = "127.0.0.1:{port}"')
    text = text.replace("[snmp]", "[http]\nport = 0\n\n[snmp]", 1)
    cfg = tmp_path / "sites.toml"
    cfg.write_text(text, encoding="utf-8")
    env = dict(os.environ, WW_TEST_RADIUS_SECRET=SECRET, WW_TEST_COMMUNITY="x")
    d = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config", str(cfg),
                          "--no-icmp", "--duration", "60"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        start_stop = ('Acct-Status-Type = Start\nCalling-Station-Id = "F0-99-B6-00-00-01"\n'
                      'Called-Station-Id = "AA-BB-CC-00-00-01:Free"\nAcct-Session-Id = "d1"\n\n'
                      'Acct-Status-Type = Stop\nCalling-Station-Id = "F0-99-B6-00-00-01"\n'
                      'Called-Station-Id = "AA-BB-CC-00-00-01:Free"\nAcct-Session-Id = "d1"\nAcct-Session-Time = 754\n')
        deadline = time.monotonic() + 30
        while (r := send(port, tmp_path, start_stop)).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)  # the daemon is still starting
        assert r.returncode == 0, r.stdout + r.stderr
        new_ap = ('Acct-Status-Type = Start\nCalling-Station-Id = "F0-99-B6-00-00-02"\n'
                  'NAS-Identifier = "added-later"\nAcct-Session-Id = "d2"\n')
        assert send(port, tmp_path, new_ap).returncode == 0  # answered, but an unknown AP: not stored
        cfg.write_text(text.replace('"st-1-nas"', '"st-1-nas", "added-later"'), encoding="utf-8")
        d.send_signal(signal.SIGHUP)
        time.sleep(2.0)
        assert send(port, tmp_path, new_ap.replace('"d2"', '"d3"')).returncode == 0
        time.sleep(0.5)
    finally:
        d.send_signal(signal.SIGTERM)
        out = d.communicate(timeout=30)[0].decode()
    sessions = list(VisitorStore(tmp_path / "w.sqlite3").iter_sessions(0, 4e9))
    assert sorted((s.ap_id, s.dwell_s or -1.0) for s in sessions) == [("st-1", -1.0), ("st-1", 754.0)], out[-3000:]
    assert "visitor sources reloaded" in out
