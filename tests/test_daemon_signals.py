"""`wifiwatch run` as a real process: SIGHUP with a broken file keeps the running inventory and says
why; a valid reload is applied; SIGTERM stops it within 5 s; /healthz answers meanwhile."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures_sim import SimHandle
from tests.test_daemon import fast_config

ROOT = Path(__file__).resolve().parent.parent


def wait_for(path: Path, pattern: str, timeout: float = 20.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, path.read_text(encoding="utf-8", errors="replace"))
        if m:
            return m
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in log:\n{path.read_text()[-3000:]}")


def test_reload_refuses_broken_file_then_applies_good_one_and_stops_fast(sim_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h: SimHandle = sim_fleet(fast_config())
    log = tmp_path / "daemon.log"
    good = h.config_path.read_text(encoding="utf-8")
    with log.open("wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config",
                                 str(h.config_path)], stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, **h.env})
    try:
        port = int(wait_for(log, r'http endpoint listening.*port=(\d+)')[1])
        wait_for(log, r'msg="poll cycle" devices=5 errors=0')
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert health["ok"] and health["devices"] == 5

        h.config_path.write_text(good.replace('kind = "tourist_spot"', 'kind = "volcano"', 1), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        m = wait_for(log, r'reload refused.*problems=(.*)')
        assert "kind" in m[1] and proc.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["devices"] == 5

        h.config_path.write_text(good.replace('[[sites.aps]]\nid = "omachi-3"', '[[sites.aps]]\nid = "omachi-3x"'),
                                 encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_for(log, r'configuration reloaded" devices=5')

        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - t0 < 5.0
        wait_for(log, r'daemon stopped')
    finally:
        if proc.poll() is None:
            proc.kill()
