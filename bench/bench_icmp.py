"""ICMP heartbeat benchmark: N loopback APs (127.10.x.y; 127.0.0.0/8 answers on every address), pinged by
the daemon's heartbeat and by the pingers it was chosen against, each in its own process.

    .venv/bin/python -m bench.bench_icmp --sizes 1000,10000 --beats 5 --json icmp.json

Contenders (each pings the same addresses once per beat, one ICMP echo per AP; needs root or CAP_NET_RAW):

* ``heartbeat``: ``FleetEngine.heartbeat_once`` (what the daemon's heartbeat job runs) writing its ap_ping
  points to a SQLite store: collector/icmp.py plus the engine around it;
* ``ours``: ``collector.icmp.ping_batch`` alone;
* ``scapy_before``: the scapy batch this replaced (``sr(..., threaded=False)``: send all, then read);
* ``scapy_threaded``: scapy's ``sr(..., threaded=True)`` (sends in a thread while reading) with the
  receive buffer sized: the best scapy offers;
* ``icmplib``: icmplib's ``async_multiping`` (privileged raw sockets, 50 concurrent tasks, its default).

Reported per contender and size: false DOWN (answering APs reported unreachable), wall seconds and CPU
seconds (user + system of the process, threads included) per beat, median over ``--beats`` beats, and
peak RSS. ``/proc/loadavg`` is printed before and after each run: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONTENDERS = ("heartbeat", "ours", "scapy_before", "scapy_threaded", "icmplib")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def address(i: int) -> str:
    """The i-th bench AP: 127.10.0.1 ... 127.10.249.250 (62,500 addresses), loopback only."""
    if not 0 <= i < 62_500:
        raise ValueError("bench fleet: at most 62,500 APs (127.10.0.0/16)")
    return f"127.10.{i // 250}.{1 + i % 250}"


def _inventory(n: int) -> Any:
    from core.config import parse_config

    lines = ['[defaults]', 'heartbeat_s = 10', 'timeout_s = 2.0', 'retries = 0',
             '[snmp]', 'version = "2c"', 'community = "env:WW_BENCH_ICMP"']
    for s in range(0, n, 250):
        lines += ['[[sites]]', f'id = "s{s // 250}"', f'name_ja = "拠点{s // 250}"', f'name_en = "Site {s // 250}"',
                  'kind = "park"', 'lat = 35.9', 'lon = 140.6']
        lines += [f'[[sites.aps]]\nid = "ap-{i}"\nhost = "{address(i)}"\nvendor = "generic"'
                  for i in range(s, min(n, s + 250))]
    return parse_config("\n".join(lines))


def _scapy_before(hosts: list[str], timeout_s: float) -> set[str]:
    """The batch collector/icmp.py sent until issue 23: every probe first, then the replies."""
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP
    from scapy.sendrecv import sr

    conf.verb = 0
    ident = os.getpid() & 0xFFFF
    packets = [IP(dst=h) / ICMP(id=ident, seq=i + 1) for i, h in enumerate(hosts)]
    answered, _ = sr(packets, timeout=timeout_s, verbose=0, multi=False, threaded=False)
    return {r.src for _, r in answered if (icmp := r.getlayer(ICMP)) is not None and icmp.type == 0}


def _scapy_threaded(hosts: list[str], timeout_s: float) -> set[str]:
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP
    from scapy.sendrecv import sr

    conf.verb = 0
    conf.bufsize = 32 * 1024 * 1024  # scapy's receive buffer (SO_RCVBUF of its sniffing socket)
    ident = os.getpid() & 0xFFFF
    packets = [IP(dst=h) / ICMP(id=ident, seq=(i % 65535) + 1) for i, h in enumerate(hosts)]
    answered, _ = sr(packets, timeout=timeout_s, verbose=0, multi=False, threaded=True)
    return {r.src for _, r in answered if (icmp := r.getlayer(ICMP)) is not None and icmp.type == 0}


def _icmplib(hosts: list[str], timeout_s: float) -> set[str]:
    from icmplib import async_multiping

    res = asyncio.run(async_multiping(hosts, count=1, interval=0, timeout=timeout_s, privileged=True))
    return {h.address for h in res if h.is_alive}


def _ours(hosts: list[str], timeout_s: float) -> set[str]:
    from collector.icmp import ping_batch

    return {r.host for r in ping_batch(hosts, timeout_s=timeout_s) if r.reachable}


def run_one(contender: str, n: int, beats: int, timeout_s: float) -> dict[str, Any]:
    """In this process: ``beats`` beats of one contender over n APs."""
    hosts = [address(i) for i in range(n)]
    walls: list[float] = []
    cpus: list[float] = []
    false_down: list[int] = []
    if contender == "heartbeat":
        from collector.engine import FleetEngine
        from core.inventory import StoreSettings
        from core.secrets import SecretResolver
        from core.store.sqlite_store import SqliteStore

        tmp = tempfile.mkdtemp(prefix="ww-bench-icmp-")
        store = SqliteStore(Path(tmp) / "store.db", StoreSettings(min_free_mb=0))
        engine = FleetEngine(_inventory(n), SecretResolver(), store, use_icmp=True)
        if not engine.use_icmp:
            raise SystemExit("raw ICMP sockets are not permitted: run as root or with CAP_NET_RAW")
        for _ in range(beats):
            c0, t0 = _cpu(), time.perf_counter()
            res = asyncio.run(engine.heartbeat_once())
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
            false_down.append(sum(1 for p in res.values() if not p.reachable))
        store.close()
    else:
        fn = {"ours": _ours, "scapy_before": _scapy_before, "scapy_threaded": _scapy_threaded,
              "icmplib": _icmplib}[contender]
        fn(hosts[:10], timeout_s)  # imports and first-use setup outside the measured beats
        for _ in range(beats):
            c0, t0 = _cpu(), time.perf_counter()
            up = fn(hosts, timeout_s)
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
            false_down.append(n - len(up & set(hosts)))
    return {"contender": contender, "aps": n, "beats": beats,
            "false_down_max": max(false_down), "false_down": false_down,
            "wall_s_p50": round(statistics.median(walls), 3), "wall_s_max": round(max(walls), 3),
            "cpu_s_p50": round(statistics.median(cpus), 3), "cpu_s_max": round(max(cpus), 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--beats", type=int, default=5)
    ap.add_argument("--baseline-beats", type=int, default=2, help="beats for scapy and icmplib (slow)")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds a probe waits (the fleet's timeout_s)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # contender:n:beats, run in this process
    a = ap.parse_args(argv)
    if a.one:
        name, n, beats = a.one.split(":")
        print(json.dumps(run_one(name, int(n), int(beats), a.timeout)))
        return 0
    print(f"# {platform.node()} {platform.processor() or platform.machine()} cores={os.cpu_count()} "
          f"python {platform.python_version()}")
    rows = []
    for n in (int(s) for s in a.sizes.split(",")):
        for c in a.contenders.split(","):
            beats = a.beats if c in ("heartbeat", "ours") else a.baseline_beats
            before = loadavg()
            out = subprocess.run([sys.executable, "-m", "bench.bench_icmp", "--one", f"{c}:{n}:{beats}",
                                  "--timeout", str(a.timeout)], capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{c} n={n}: failed: {out.stderr.strip()[-400:]}")
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["load_before"], row["load_after"] = before, loadavg()
            rows.append(row)
            print(f"{c:15} n={n:6} false DOWN max {row['false_down_max']:6}  wall p50 {row['wall_s_p50']:7.3f} s  "
                  f"CPU p50 {row['cpu_s_p50']:6.3f} s (max {row['cpu_s_max']:.3f})  RSS {row['peak_rss_mb']} MB  "
                  f"load {before.split()[0]} -> {row['load_after'].split()[0]}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
