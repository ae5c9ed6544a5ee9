"""RADIUS accounting ingestion: maximum sustained rate, CPU per packet, memory, for 1,000 APs.

    .venv/bin/python -m bench.bench_visitors [--packets 60000] [--aps 1000] [--window 64]

The goal (issue 24): 1,000,000 accounting packets a day from 1,000 APs (11.6 a second on average) use less
than 10 % of a core, with memory bounded by the design. The real receiver (collector.visitors.service:
pyrad decoding, authenticator check, AP lookup, HMAC of the device, one SQLite write per packet, the
Accounting-Response) runs in a child process on loopback, with an inventory of ``--aps`` APs; the parent
sends pre-built packets (Start, Interim-Update, Stop of sessions spread over every AP) keeping ``--window``
requests in flight, and reads the child's CPU time (/proc/PID/stat) and peak RSS.

Baseline in the same run: the same child loop with a handler that answers each datagram without
reading it (the cost of Python's UDP receive/send alone), so the ratio says what accounting adds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyrad import packet as rp

from collector.visitors.radius import RadiusSender

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-radius-secret-0123456789"

CHILD = r"""
import os, sys, threading, signal
from core.config import parse_config
from core.secrets import SecretResolver
from collector.visitors.service import VisitorService
mode, cfg = sys.argv[1], sys.argv[2]
inv = parse_config(open(cfg, encoding="utf-8").read(), cfg)
svc = VisitorService(inv, SecretResolver()).start()
port = svc.port("radius")
if mode == "baseline":
    svc.radius.handle = lambda data, addr: b"ok"
    for key in list(svc._sel.get_map().values()):
        svc._sel.modify(key.fileobj, key.events, svc.radius.handle)
print(port, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
svc.run(stop)
"""


def config(tmp: Path, aps: int) -> Path:
    lines = ['[store]', f'path = "{tmp}/bench.sqlite3"', '[snmp]', 'version = "2c"', 'community = "env:X"',
             '[visitors]', 'radius_bind = "127.0.0.1:0"', 'radius_secret = "env:BENCH_RADIUS_SECRET"',
             f'key_file = "{tmp}/keys.json"', "max_packets_per_s_per_client = 1000000"]
    per_site = 20
    for s in range(aps // per_site):
        lines += ["[[sites]]", f'id = "s{s}"', f'name_ja = "拠点{s}"', f'name_en = "Site {s}"',
                  'kind = "tourist_spot"', "lat = 35.96", "lon = 140.62"]
        for a in range(per_site):
            n = s * per_site + a
            lines += ["[[sites.aps]]", f'id = "ap{n}"', 'host = "127.0.0.1"', f"port = {10000 + n}",
                      f'visitor_ids = ["02:00:5e:{n >> 8 & 255:02x}:{n & 255:02x}:01", "nas-{n}"]']
    path = tmp / "bench.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def packets(n: int, aps: int, seed: int = 1) -> list[bytes]:
    """Sessions over every AP: Start, an Interim-Update for one in three, Stop with Acct-Session-Time."""
    rnd = random.Random(seed)
    d = RadiusSender.load().dictionary
    out: list[bytes] = []
    sid = 0
    while len(out) < n:
        sid += 1
        ap = rnd.randrange(aps)
        mac = "-".join(f"{rnd.randrange(256):02X}" for _ in range(6))
        called = f"02-00-5E-{ap >> 8 & 255:02X}-{ap & 255:02X}-01:Free"
        steps = ["Start"] + (["Interim-Update"] if sid % 3 == 0 else []) + ["Stop"]
        for status in steps:
            p = rp.AcctPacket(code=rp.AccountingRequest, secret=SECRET.encode(), dict=d, id=len(out) % 256)
            p["Acct-Status-Type"] = status
            p["Calling-Station-Id"] = mac
            p["Called-Station-Id"] = called
            p["Acct-Session-Id"] = f"{sid:016X}"
            if status != "Start":
                p["Acct-Session-Time"] = rnd.randrange(30, 7200)
            out.append(p.RequestPacket())
    return out[:n]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(mode: str, cfg: Path, pkts: list[bytes], window: int) -> dict[str, float]:
    env = dict(os.environ, BENCH_RADIUS_SECRET=SECRET, X="x")
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(cfg)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env=env)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.settimeout(5.0)
        addr = ("127.0.0.1", port)
        rss0 = peak_rss_mb(child.pid)
        c0, t0 = cpu_s(child.pid), time.perf_counter()
        sent = answered = 0
        while answered < len(pkts):
            while sent < len(pkts) and sent - answered < window:
                sock.sendto(pkts[sent], addr)
                sent += 1
            try:
                sock.recvfrom(4096)
            except TimeoutError:
                break
            answered += 1
        wall = time.perf_counter() - t0
        cpu = cpu_s(child.pid) - c0
        return {"packets": answered, "wall_s": wall, "rate_per_s": answered / wall, "cpu_s": cpu,
                "cpu_us_per_packet": cpu / max(answered, 1) * 1e6, "rss_start_mb": rss0,
                "rss_peak_mb": peak_rss_mb(child.pid)}
    finally:
        child.terminate()
        child.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=60000)
    ap.add_argument("--aps", type=int, default=1000)
    ap.add_argument("--window", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg = config(tmp, args.aps)
        pkts = packets(args.packets, args.aps)
        base = run("baseline", cfg, pkts, args.window)
        real = run("radius", cfg, pkts, args.window)
        sessions = json.loads(subprocess.run(
            [sys.executable, "-c", "import sys; from core.visitors.store import VisitorStore; "
             "print(VisitorStore(sys.argv[1]).count())", str(tmp / "bench.sqlite3")],
            capture_output=True, text=True, cwd=ROOT, check=True).stdout)
    per_day = 1_000_000 / 86400
    out = {"load": os.getloadavg(), "aps": args.aps, "window": args.window, "baseline": base, "radius": real,
           "sessions_stored": sessions,
           "ratio_cpu_per_packet": real["cpu_us_per_packet"] / base["cpu_us_per_packet"],
           "core_share_at_1M_per_day_pct": real["cpu_us_per_packet"] * 1e-6 * per_day * 100}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
