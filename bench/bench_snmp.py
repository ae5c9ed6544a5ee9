"""How long one SNMP poll cycle of N APs takes with the shared-engine client (snmpd fleet on loopback).

    .venv/bin/python -m bench.bench_snmp --aps 100 500 1000 --concurrency 256

Each size: a first cycle (no rates yet), a second one (rates), and the same fleet with 5 % of the APs dead
(so their timeouts overlap the live polls). Prints one line per run: complete polls (answered, no error),
wall time, polls/s, PDUs, CPU seconds of this process, the slowest complete poll. The target is Debian's
snmpd (bench/snmpd_fleet.py), 100 endpoints per process, sharing the 2 CPUs with the poller.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import socket
import time

from bench.snmpd_fleet import running
from collector.snmp.client import SnmpClient, Target, V2c
from collector.snmp.poller import ApPoller
from collector.snmp.profiles import load_profiles
from core.secrets import Secret


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def cycles(targets: list[Target], concurrency: int, label: str) -> None:
    client = SnmpClient(max_concurrency=concurrency)
    poller = ApPoller(client, load_profiles())
    try:
        for n in (1, 2):
            if n == 2:
                await asyncio.sleep(1.0)
            cpu0, t0 = _cpu_s(), time.perf_counter()
            results = await asyncio.gather(*(poller.poll(f"ap-{i}", t, "generic") for i, t in enumerate(targets)))
            wall = time.perf_counter() - t0
            cpu = _cpu_s() - cpu0
            ok = sum(r.ok and r.error is None for r in results)
            pdus = sum(r.pdus for r in results)
            slowest_live = max((r.poll_ms for r in results if r.ok and r.error is None), default=0.0)
            with_rates = sum(1 for r in results if r.rx_bps is not None)
            print(f"{label:>14} cycle {n}: {len(targets):5d} APs  complete {ok:5d}  wall {wall:6.2f} s  "
                  f"{len(targets) / wall:7.1f} polls/s  pdus {pdus:6d}  cpu {cpu:6.2f} s  "
                  f"slowest live {slowest_live:7.1f} ms  with rates {with_rates}", flush=True)
    finally:
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aps", type=int, nargs="+", default=[100, 500])
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    community = "bench-" + os.urandom(4).hex()
    print(f"bench_snmp: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs, "
          f"concurrency {args.concurrency}, timeout {args.timeout} s, retries 1")
    for n in args.aps:
        port = _free_udp_port()
        with running(n, community) as fleet:
            hosts = [(h, fleet.port) for h, _ in fleet.hosts()]
            secret = Secret(community, "env:BENCH_COMMUNITY")
            targets = [Target(h, p, V2c(secret), args.timeout, 1) for h, p in hosts]
            asyncio.run(cycles(targets, args.concurrency, "all alive"))
            dead = set(random.Random(n).sample(range(n), max(1, n // 20)))
            # a dead AP: same address, a port nothing listens on
            mixed = [Target(t.host, port if i in dead else t.port, t.credentials, t.timeout_s, t.retries)
                     for i, t in enumerate(targets)]
            asyncio.run(cycles(mixed, args.concurrency, f"{len(dead)} dead"))


if __name__ == "__main__":
    main()
