"""Time from unplugging an AP to its DOWN e-mail arriving, and from plugging it back to the recovery e-mail.

    .venv/bin/python -m bench.bench_alert_latency [--outages 20] [--seed 1]

Default timings (10 s heartbeat, 2 s timeout, 3 misses, 2 replies to recover). A simulated fleet of N APs
(one snmpsim agent each, on loopback), the real daemon as its own process, and a real SMTP server
(aiosmtpd) on loopback that stamps each message's arrival. Each AP is unplugged once (nft), 2-6 s
(seeded random) after the previous one, so the unplug falls at every phase of the heartbeat and the fleet
never loses every target at once; once its DOWN e-mail has arrived it is plugged back after another
random 0-10 s. Latency: unplug -> DOWN received, plug back -> recovery received.

``--mode traps`` measures the trap path instead (issue 20): heartbeats every 60 s (so only a trap can be
quick), the daemon's trap receiver on a loopback port, and for each AP: unplug it and send the controller's
bsnAPDisassociated (Debian's ``snmptrap``, v2c, naming the AP in bsnAPName) -> DOWN received; plug it back
and send bsnAPAssociated -> recovery received. Latency is measured from the moment the trap is sent.
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


def config(n: int, smtp_port: int, store: Path, trap_port: int | None = None) -> str:
    lines = ['[snmp]', 'version = "2c"', 'community = "env:BENCH_COMMUNITY"', '']
    if trap_port is not None:
        lines += ['[defaults]', 'heartbeat_s = 60', '', '[traps]', 'enabled = true', 'bind = "127.0.0.1"',
                  f'port = {trap_port}', '']
    lines += [
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


class _Done(Exception):
    """The trap phase finished (leaves the heartbeat loop's try block the same way)."""


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


DISASSOC, ASSOC, AP_NAME = "1.3.6.1.4.1.14179.2.6.3.8", "1.3.6.1.4.1.14179.2.6.3.7", "1.3.6.1.4.1.14179.2.2.1.1.3.0"


def send_trap(port: int, oid: str, ap: str) -> float:
    """Send a controller trap naming ``ap``; returns when it was sent."""
    t = time.time()
    subprocess.run(["snmptrap", "-v2c", "-c", os.environ["BENCH_COMMUNITY"], f"127.0.0.1:{port}", "", oid,
                    AP_NAME, "s", ap], check=True, capture_output=True, timeout=10)
    return t


def trap_phase(fleet: Fleet, box: StampedMailbox, outages: int, trap_port: int, deadline: float,
               rng: random.Random) -> tuple[dict[str, float], dict[str, float]]:
    """One AP at a time: unplug + leave trap -> DOWN; plug back + join trap -> recovery."""
    down_lat: dict[str, float] = {}
    up_lat: dict[str, float] = {}
    for i in range(outages):
        aid = f"ap{i:02d}"
        fleet.down(aid)
        t0 = send_trap(trap_port, DISASSOC, aid)
        end = t0 + deadline
        while time.time() < end and (t := box.first("【停止】", aid, t0)) is None:
            time.sleep(0.02)
        if t is not None:
            down_lat[aid] = t - t0
        time.sleep(rng.uniform(0.5, 2.0))
        fleet.up(aid)
        t1 = send_trap(trap_port, ASSOC, aid)
        end = t1 + deadline
        while time.time() < end and (t := box.first("【復旧】", aid, t1)) is None:
            time.sleep(0.02)
        if t is not None:
            up_lat[aid] = t - t1
        time.sleep(rng.uniform(0.2, 1.0))
    return down_lat, up_lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outages", type=int, default=20)
    ap.add_argument("--mode", choices=["heartbeat", "traps"], default="heartbeat")
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
        trap_port = free_port() if args.mode == "traps" else None
        cfg.write_text(config(args.outages + 2, port, tmp / "store.sqlite3", trap_port), encoding="utf-8")
        inv = parse_config(cfg.read_text(encoding="utf-8"), str(cfg))
        fleet = Fleet(inv, SecretResolver(), tmp / "sim")
        fleet.start()
        log = (tmp / "daemon.log").open("wb")
        daemon = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config",
                                   str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            time.sleep(25)  # every AP confirmed UP first (first heartbeats, jittered start)
            if trap_port is not None:
                down_lat, up_lat = trap_phase(fleet, box, args.outages, trap_port, args.deadline, rng)
                raise _Done
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
        except _Done:
            pass
        finally:
            daemon.terminate()
            daemon.wait(10)
            fleet.stop()
            smtp.stop()
    print(f"load average at end: {loadavg()}")
    what = ("controller trap", "join trap") if args.mode == "traps" else ("unplug", "plug back")
    print(summary(f"DOWN ({what[0]} -> e-mail)", list(down_lat.values()), args.outages))
    print(summary(f"recovery ({what[1]} -> e-mail)", list(up_lat.values()), args.outages))
    others = [subj for _, subj in box.arrivals if not subj.startswith(("【停止】", "【復旧】"))]
    if others:
        print(f"other messages: {others}")
    if len(down_lat) < args.outages or len(up_lat) < args.outages:
        sys.exit(1)


if __name__ == "__main__":
    main()
