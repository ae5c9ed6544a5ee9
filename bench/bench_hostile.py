"""Hostile agents for minutes: good APs' poll times, memory and the log, minute by minute (issue 19.1).

    .venv/bin/python -m bench.bench_hostile --minutes 10

The agents of tests/test_hostile_agents.py (oversized, huge OIDs, truncated, wrong ids, endless GETBULK,
flood, varbind bomb over v2c; garbage, truncated, oversized over SNMPv3) and four good APs (Debian's snmpd,
two v2c, two v3 authPriv) are polled together by one SnmpClient + ApPoller, the code the daemon's poll job
runs, a round every ``--pause`` seconds. First 30 s of the good APs alone (the baseline), then
``--minutes`` with the hostile ones. Per minute: good APs' poll time p50/p95, good failures, RSS, log
records at WARNING or above, records with a traceback, the v2c OID cache size.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from collector.snmp import v2c
from collector.snmp.client import SnmpClient, Target
from collector.snmp.poller import ApPoller
from collector.snmp.profiles import load_profiles
from tests.test_hostile_agents import _rss_mb, hostile_agents, start_good_agent, t_v2c, t_v3


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records = 0
        self.tracebacks = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        self.tracebacks += bool(record.exc_info)


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, -(-95 * len(s) // 100) - 1)] if s else float("nan")


async def run(good: list[tuple[str, Target]], hostile: list[tuple[str, Target]], minutes: float,
              counter: Counter, pause: float) -> list[dict[str, Any]]:
    client = SnmpClient(max_concurrency=64)
    poller = ApPoller(client, load_profiles())
    rows: list[dict[str, Any]] = []
    try:
        for phase, targets, seconds in (("alone", good, 30.0), ("hostile", good + hostile, minutes * 60)):
            start = time.monotonic()
            bucket_end = start + min(60.0, seconds)
            ms: list[float] = []
            fails = 0
            kinds: dict[str, set[str]] = {}
            while True:
                res = await asyncio.gather(*(poller.poll(i, t, "generic") for i, t in targets))
                for r in res:
                    if r.device_id.startswith("g"):
                        ms.append(r.poll_ms)
                        fails += not r.ok
                    else:
                        kinds.setdefault(r.device_id, set()).add(str(r.error_kind))
                await asyncio.sleep(pause)
                now = time.monotonic()
                if now >= bucket_end:
                    rows.append({"phase": phase, "minute": round((bucket_end - start) / 60, 1),
                                 "good_polls": len(ms), "good_fail": fails,
                                 "p50_ms": statistics.median(ms), "p95_ms": _p95(ms), "rss_mb": _rss_mb(),
                                 "log_warn_plus": counter.records, "tracebacks": counter.tracebacks,
                                 "oid_cache": v2c._decode_oid_cached.cache_info().currsize,
                                 "hostile": {k: sorted(v) for k, v in kinds.items()}})
                    print(rows[-1] if phase == "alone" or len(rows) < 3 else
                          {k: v for k, v in rows[-1].items() if k != "hostile"}, flush=True)
                    ms, fails, kinds = [], 0, {}
                    if now - start >= seconds:
                        break
                    bucket_end += 60.0
    finally:
        await client.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between rounds (a poll cycle's rhythm)")
    args = ap.parse_args()
    counter = Counter()
    logging.getLogger().addHandler(counter)
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        proc, addrs = start_good_agent(Path(d))
        agents = hostile_agents()
        try:
            good = [("g2c-0", t_v2c(addrs[0])), ("g2c-1", t_v2c(addrs[1])), ("g3-0", t_v3(addrs[2])),
                    ("g3-1", t_v3(addrs[3]))]
            hostile = [(k, t_v3(a.addr) if k.startswith("v3_") else t_v2c(a.addr)) for k, a in agents.items()]
            rows = asyncio.run(run(good, hostile, args.minutes, counter, args.pause))
        finally:
            for a in agents.values():
                a.close()
            proc.terminate()
            proc.wait(5)
    print(f"load average at end: {Path('/proc/loadavg').read_text().split()[:3]}")
    print("| phase | minute | good polls | good failures | p50 ms | p95 ms | RSS MB | log ≥ WARNING | tracebacks |"
          " OID cache |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['phase']} | {r['minute']} | {r['good_polls']} | {r['good_fail']} | {r['p50_ms']:.1f} | "
              f"{r['p95_ms']:.1f} | {r['rss_mb']:.1f} | {r['log_warn_plus']} | {r['tracebacks']} | {r['oid_cache']} |")
    print("hostile outcomes (last minute):", rows[-1]["hostile"])


if __name__ == "__main__":
    main()
