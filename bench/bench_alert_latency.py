"""Time from unplugging an AP to its DOWN e-mail arriving, with the default timings (10 s heartbeat, 3 misses).

    .venv/bin/python -m bench.bench_alert_latency [--outages 20]

A simulated fleet of N APs (one snmpsim agent each, on loopback), the real daemon as its own process,
and a real SMTP server (aiosmtpd) on loopback. Each AP is unplugged once (nft), a few seconds apart, so
no AP flaps and the fleet never loses every target at once; latency is unplug -> message received.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from core.config import parse_config
from core.secrets import SecretResolver
from tests.fixtures_alerts import Mailbox, free_port
from tests.fixtures_sim import readdress
from wifiwatch.sim.fleet import Fleet

ROOT = Path(__file__).resolve().parent.parent


def config(n: int, smtp_port: int, store: Path) -> str:
    lines = ['[snmp]', 'version = "2c"', 'community = "env:BENCH_COMMUNITY"', '',
             '[alerts]', '[[alerts.channels]]', 'name = "duty"', 'type = "email"', 'smtp_host = "127.0.0.1"',
             f'smtp_port = {smtp_port}', 'starttls = false', 'sender = "wifiwatch@example.lg.jp"',
             'to = ["duty@example.lg.jp"]', '',
             '[[sites]]', 'id = "bench"', 'name_ja = "ベンチ"', 'name_en = "Bench"', 'kind = "park"',
             'lat = 35.97', 'lon = 140.63', '']
    for i in range(n):
        lines += ['[[sites.aps]]', f'id = "ap{i:02d}"', 'host = "127.0.0.1"', 'port = 1161', 'vendor = "generic"', '']
    return readdress("\n".join(lines), store.parent, store)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outages", type=int, default=20)
    ap.add_argument("--spacing", type=float, default=4.0, help="seconds between unplugging successive APs")
    args = ap.parse_args()
    os.environ["BENCH_COMMUNITY"] = secrets.token_hex(8)
    box = Mailbox()
    port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg = tmp / "bench.toml"
        cfg.write_text(config(args.outages + 2, port, tmp / "store.sqlite3"), encoding="utf-8")
        inv = parse_config(cfg.read_text(encoding="utf-8"), str(cfg))
        fleet = Fleet(inv, SecretResolver(), tmp / "sim")
        fleet.start()
        log = (tmp / "daemon.log").open("wb")
        daemon = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config",
                                   str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        latencies: dict[str, float] = {}
        try:
            time.sleep(25)  # every AP confirmed UP first (first heartbeats, jittered start)
            unplugged: dict[str, float] = {}

            def watch() -> None:
                while len(latencies) < args.outages:
                    for m in list(box.messages):
                        subj = str(m["Subject"])
                        for aid, t0 in list(unplugged.items()):
                            if aid not in latencies and subj.startswith("【停止】") and subj.endswith(aid):
                                latencies[aid] = time.time() - t0
                    time.sleep(0.05)

            w = threading.Thread(target=watch, daemon=True)
            w.start()
            for i in range(args.outages):
                aid = f"ap{i:02d}"
                unplugged[aid] = time.time()
                fleet.down(aid)
                time.sleep(args.spacing)
            w.join(timeout=90)
        finally:
            daemon.terminate()
            daemon.wait(10)
            fleet.stop()
            smtp.stop()
    vals = sorted(latencies.values())
    if not vals:
        print("no DOWN message arrived")
        sys.exit(1)
    p95 = vals[max(0, int(round(0.95 * len(vals))) - 1)]
    print(f"outages {len(vals)}/{args.outages}: p50 {statistics.median(vals):.1f} s, p95 {p95:.1f} s, "
          f"min {vals[0]:.1f} s, max {vals[-1]:.1f} s")


if __name__ == "__main__":
    main()
