"""Time from unplugging an AP to its DOWN e-mail arriving, and from plugging it back to the recovery e-mail.

    .venv/bin/python -m bench.bench_alert_latency [--outages 20] [--seed 1]

Default timings (10 s heartbeat, 2 s timeout, 3 misses, 2 replies to recover). A simulated fleet of N APs
(one snmpsim agent each, on loopback), the real daemon as its own process, and a real SMTP server
(aiosmtpd) on loopback that stamps each message's arrival. Each AP is unplugged once (nft), 2-6 s
(seeded random) after the previous one, so the unplug falls at every phase of the heartbeat and the fleet
never loses every target at once; once its DOWN e-mail has arrived it is plugged back after another
random 0-10 s. Latency: unplug -> DOWN received, plug back -> recovery received.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


class StampedMailbox(Mailbox):
    """Records (arrival time, subject) as the SMTP server accepts each message."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        reply = await super().handle_DATA(server, session, envelope)
        self.arrivals.append((time.time(), str(self.messages[-1]["Subject"])))
        return reply

    def first(self, prefix: str, aid: str, after: float) -> float | None:
        return next((t for t, subj in list(self.arrivals) if t >= after and subj.startswith(prefix)
                     and subj.endswith(f" {aid}")), None)


def pct(vals: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    s = sorted(vals)
    return s[max(0, int(round(q * len(s))) - 1)]


def summary(name: str, vals: list[float], n: int) -> str:
    if not vals:
        return f"{name}: none of {n} arrived"
    return (f"{name} {len(vals)}/{n}: p50 {statistics.median(vals):.1f} s, p95 {pct(vals, 0.95):.1f} s, "
            f"min {min(vals):.1f} s, max {max(vals):.1f} s")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outages", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds to wait for each message")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.environ["BENCH_COMMUNITY"] = secrets.token_hex(8)
    box = StampedMailbox()
    port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    down_lat: dict[str, float] = {}
    up_lat: dict[str, float] = {}
    print(f"load average at start: {loadavg()}", flush=True)
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
        try:
            time.sleep(25)  # every AP confirmed UP first (first heartbeats, jittered start)
            unplugged: dict[str, float] = {}  # ap -> when it was unplugged
            plug_at: dict[str, float] = {}  # ap -> when to plug it back (once its DOWN arrived)
            plugged: dict[str, float] = {}  # ap -> when it was plugged back
            next_unplug = time.time()
            i = 0
            while True:
                now = time.time()
                if i < args.outages and now >= next_unplug:
                    aid = f"ap{i:02d}"
                    unplugged[aid] = time.time()
                    fleet.down(aid)
                    i += 1
                    next_unplug = now + rng.uniform(2.0, 6.0)
                for aid, t0 in unplugged.items():
                    if aid not in down_lat and aid not in plug_at:
                        t = box.first("【停止】", aid, t0)
                        if t is not None:
                            down_lat[aid] = t - t0
                            plug_at[aid] = time.time() + rng.uniform(0.0, 10.0)
                        elif now - t0 > args.deadline:
                            plug_at[aid] = now  # give up on this one; its DOWN never came
                for aid, t in plug_at.items():
                    if aid not in plugged and now >= t:
                        plugged[aid] = time.time()
                        fleet.up(aid)
                for aid, t1 in plugged.items():
                    if aid not in up_lat:
                        t = box.first("【復旧】", aid, t1)
                        if t is not None:
                            up_lat[aid] = t - t1
                waiting = [a for a, t1 in plugged.items() if a not in up_lat and now - t1 <= args.deadline]
                if i == args.outages and len(plugged) == args.outages and not waiting:
                    break
                time.sleep(0.05)
        finally:
            daemon.terminate()
            daemon.wait(10)
            fleet.stop()
            smtp.stop()
    print(f"load average at end: {loadavg()}")
    print(summary("DOWN (unplug -> e-mail)", list(down_lat.values()), args.outages))
    print(summary("recovery (plug back -> e-mail)", list(up_lat.values()), args.outages))
    others = [subj for _, subj in box.arrivals if not subj.startswith(("【停止】", "【復旧】"))]
    if others:
        print(f"other messages: {others}")
    if len(down_lat) < args.outages or len(up_lat) < args.outages:
        sys.exit(1)


if __name__ == "__main__":
    main()
