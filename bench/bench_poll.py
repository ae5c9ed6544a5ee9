"""Poll-cycle benchmark: N simulated APs (snmpd on loopback), the daemon's engine polling them.

    .venv/bin/python -m bench.bench_poll --sizes 100,1000,5000,10000 --cycles 3

Each size runs in its own process (so peak RSS is that size's), polls the fleet ``cycles`` times
back to back with the same FleetEngine the daemon's poll job runs (one GET + GETBULK per AP,
writes to the embedded store), and reports cycle p50/p95, APs completed, PDUs per AP, CPU seconds
per 1,000 polls, peak RSS and errors. The baseline polls a sample of the same fleet for the same
OIDs with ezsnmp (Net-SNMP's C library) in the same run; the ratio compares PDUs per second.
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

from bench.snmpd_fleet import inventory_toml, running

COMMUNITY_ENV = "WIFIWATCH_BENCH_COMMUNITY"
IF_COLUMNS = ["1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.10",
              "1.3.6.1.2.1.31.1.1.1.15"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(n: int, cycles: int, concurrency: int, store_dir: Path, shard: str = "0/1",
            fleet_n: int | None = None) -> dict[str, Any]:
    """Start the fleet, poll it ``cycles`` times, return the figures (runs inside a child process)."""
    from collector.engine import FleetEngine
    from core.config import parse_config
    from core.secrets import SecretResolver

    community = os.environ.setdefault(COMMUNITY_ENV, "bench-" + os.urandom(4).hex())
    writer: Any = None
    try:
        from core.inventory import StoreSettings
        from core.store.sqlite_store import SqliteStore

        writer = SqliteStore(store_dir / "bench.sqlite3", StoreSettings(min_free_mb=0))
    except ImportError:
        writer = None
    with running(fleet_n or n, community) as fleet:
        hosts = fleet.hosts()[:n] if fleet_n is None else fleet.hosts()
        inv = parse_config(inventory_toml(hosts, COMMUNITY_ENV, shard=shard), "bench.toml")

        async def main() -> tuple[list[float], list[int], list[int], list[int], float, list[str]]:
            engine = FleetEngine(inv, SecretResolver(), writer, use_icmp=False, max_concurrency=concurrency)
            durations, completed, pdus, errors = [], [], [], []
            polled: list[str] = []
            cpu0 = _cpu()
            for _ in range(cycles):
                t0 = time.perf_counter()
                res = await engine.poll_once()
                durations.append(time.perf_counter() - t0)
                completed.append(sum(1 for r in res.values() if r.ok))
                pdus.append(sum(r.pdus for r in res.values()))
                errors.append(sum(1 for r in res.values() if not r.ok))
                polled = sorted(res)
            cpu = _cpu() - cpu0
            await engine.close()
            return durations, completed, pdus, errors, cpu, polled

        durations, completed, pdus, errors, cpu, polled = asyncio.run(main())
        snmpd_rss_mb = fleet.rss_kb() / 1024
        baseline = ezsnmp_baseline(hosts[: min(len(hosts), 500)], community)
    polls = sum(completed) + sum(errors)
    return {
        "n": n, "devices": len(polled), "cycles": cycles, "concurrency": concurrency,
        "cycle_p50_s": statistics.median(durations),
        "cycle_p95_s": sorted(durations)[max(0, int(round(0.95 * len(durations))) - 1)],
        "cycle_max_s": max(durations),
        "completed_per_cycle": min(completed), "errors_per_cycle": max(errors),
        "pdus_per_ap": sum(pdus) / max(1, sum(completed)),
        "cpu_s_per_1000_polls": 1000 * cpu / max(1, polls),
        "pdus_per_s": sum(pdus) / sum(durations),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "snmpd_rss_mb": snmpd_rss_mb,
        "baseline": baseline,
        "polled_ids": polled if shard != "0/1" else None,
    }


def ezsnmp_baseline(hosts: list[tuple[str, int]], community: str) -> dict[str, Any] | None:
    """The same OIDs from Net-SNMP's C library (ezsnmp): one GET + one bulk walk per AP, sequential."""
    try:
        import ezsnmp
    except ImportError:
        return None
    pdus = 0
    t0 = time.perf_counter()
    for host, port in hosts:
        s = ezsnmp.Session(hostname=host, port_number=str(port), community=community, version="2c",
                           timeout="2", retries="1")
        s.get(["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.2.0"])
        s.bulk_walk(IF_COLUMNS)
        # GET plus one GETBULK per column walk step; snmpd has few interfaces, so one step each + end
        pdus += 1 + len(IF_COLUMNS) + 1
    dt = time.perf_counter() - t0
    return {"aps": len(hosts), "seconds": dt, "aps_per_s": len(hosts) / dt, "pdus_per_s_est": pdus / dt}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000,10000")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=512)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    ap.add_argument("--fleet", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as d:
            print(json.dumps(run_one(args.one, args.cycles, args.concurrency, Path(d), args.shard, args.fleet)))
        return
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        out = subprocess.run([sys.executable, "-m", "bench.bench_poll", "--one", str(n), "--cycles",
                              str(args.cycles), "--concurrency", str(args.concurrency)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        b = row["baseline"] or {}
        print(f"N={n:>6}: p50 {row['cycle_p50_s']:.2f}s p95 {row['cycle_p95_s']:.2f}s completed "
              f"{row['completed_per_cycle']} errors {row['errors_per_cycle']} PDUs/AP {row['pdus_per_ap']:.2f} "
              f"CPU/1000 {row['cpu_s_per_1000_polls']:.2f}s RSS {row['peak_rss_mb']:.0f}MB "
              f"PDUs/s {row['pdus_per_s']:.0f} vs C {b.get('pdus_per_s_est', 0):.0f}", flush=True)
    print(f"machine: {machine()}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
