"""Collector group benchmark: 3 members x N APs through one redis-server, failover over several kills.

    .venv/bin/python -m bench.bench_cluster --aps 3000 --members 3 --kills 10 --lease-s 6 --heartbeat-s 2

Starts one snmpd fleet of ``--aps`` loopback endpoints (bench/snmpd_fleet.py), a redis-server on a free
loopback port, and ``--members`` real ``wifiwatch run`` processes sharing the inventory ([cluster] redis).
Then ``--kills`` times: SIGKILL a member (round robin) and time until the survivors' /healthz together
cover every device (the new assignment applied; its first heartbeat follows within 0.2 s + jitter), then
restart it and time until the group has rebalanced. Redis operations per second come from INFO's
total_commands_processed over a steady minute. ``cat /proc/loadavg`` is printed: other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench_poll import COMMUNITY_ENV, _p95, loadavg, machine
from bench.snmpd_fleet import inventory_toml, running

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_info(port: int) -> dict[str, Any]:
    import redis

    return dict(redis.Redis(port=port).info())


def health(port: int) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3).json())
    except (httpx.HTTPError, ValueError):
        return {}


def _p50(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aps", type=int, default=3000)
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--lease-s", type=float, default=6.0)
    ap.add_argument("--heartbeat-s", type=float, default=2.0)
    ap.add_argument("--interval-s", type=float, default=60.0)
    ap.add_argument("--steady-s", type=float, default=60.0)
    args = ap.parse_args()
    from collector.cluster.assignment import devices_by_member
    from core.config import parse_config

    tmp = Path(tempfile.mkdtemp(prefix="ww-cluster-bench-"))
    community = secrets.token_hex(8)
    env = {**os.environ, COMMUNITY_ENV: community}
    rport = free_port()
    print(f"# machine: {machine()}; load before: {loadavg()}", flush=True)
    redis_proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    names = [f"member-{i}" for i in range(args.members)]
    try:
        with running(args.aps, community) as fleet:
            base = inventory_toml(fleet.hosts(), COMMUNITY_ENV, interval_s=args.interval_s)
            timeout = min(2.0, args.heartbeat_s / 2)
            base = (base.replace("heartbeat_s = 10", f"heartbeat_s = {args.heartbeat_s}")
                    .replace("timeout_s = 2.0", f"timeout_s = {timeout}").replace("retries = 1", "retries = 0"))
            configs = {}
            for n in names:
                ports[n] = free_port()
                text = base.replace('[cluster]\nshard = "0/1"\n', (
                    f'[cluster]\nredis = "redis://127.0.0.1:{rport}/0"\nname = "{n}"\nlease_s = {args.lease_s}\n'
                    f'[store]\npath = "{tmp / (n + ".sqlite3")}"\n'
                    f'[http]\nbind = "127.0.0.1"\nport = {ports[n]}\n[console]\nenabled = false\n'))
                configs[n] = tmp / f"{n}.toml"
                configs[n].write_text(text, encoding="utf-8")
            inv = parse_config(configs[names[0]].read_text(encoding="utf-8"), "bench.toml")
            total = sum(len(v) for v in devices_by_member(inv, names).values())

            def start(n: str) -> None:
                procs[n] = subprocess.Popen(
                    [sys.executable, "-m", "wifiwatch.cli", "--log-level", "warning", "run", "--config",
                     str(configs[n])], stdout=(tmp / f"{n}.log").open("ab"), stderr=subprocess.STDOUT, env=env,
                    cwd=ROOT)

            def covered(live: list[str]) -> bool:
                want = {m: len(d) for m, d in devices_by_member(inv, live).items()}
                return all(health(ports[m]).get("devices") == want[m] for m in live)

            def wait(check: Any, timeout: float) -> float | None:
                t0 = time.monotonic()
                while time.monotonic() - t0 < timeout:
                    if check():
                        return time.monotonic() - t0
                    time.sleep(0.05)
                return None

            for n in names:
                start(n)
            startup = wait(lambda: covered(names), 180)
            print(f"# {args.members} members x {total} devices: balanced {startup:.1f} s after start", flush=True)
            time.sleep(args.heartbeat_s * 3)
            i0 = redis_info(rport)
            t0 = time.monotonic()
            time.sleep(args.steady_s)
            i1 = redis_info(rport)
            span = time.monotonic() - t0
            ops = (i1["total_commands_processed"] - i0["total_commands_processed"]) / span
            bytes_in = (i1["total_net_input_bytes"] - i0["total_net_input_bytes"]) / span
            bytes_out = (i1["total_net_output_bytes"] - i0["total_net_output_bytes"]) / span
            hs = [health(ports[n]) for n in names]
            print(f"# steady: redis {ops:.1f} ops/s ({ops / args.members:.2f} per member), "
                  f"used_memory {i1['used_memory_human']}; last poll cycle s per member: "
                  f"{[h.get('last_poll_seconds') for h in hs]}; load {loadavg()}", flush=True)
            failovers, rebalances = [], []
            for k in range(args.kills):
                victim = names[k % len(names)]
                others = [n for n in names if n != victim]
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                took = wait(lambda o=others: covered(o), args.lease_s * 4 + 30)  # type: ignore[misc]
                start(victim)
                back = wait(lambda: covered(names), 120)
                print(f"kill {k + 1}: {victim}: taken over in {took} s, rebalanced {back} s after restart; "
                      f"load {loadavg()}", flush=True)
                if took is not None:
                    failovers.append(took)
                if back is not None:
                    rebalances.append(back)
                time.sleep(args.heartbeat_s)
            out = {"aps": args.aps, "devices": total, "members": args.members, "lease_s": args.lease_s,
                   "heartbeat_s": args.heartbeat_s, "kills": args.kills,
                   "failover_p50_s": round(_p50(failovers), 2) if failovers else None,
                   "failover_p95_s": round(_p95(failovers), 2) if failovers else None,
                   "failover_max_s": round(max(failovers), 2) if failovers else None,
                   "rebalance_p50_s": round(_p50(rebalances), 2) if rebalances else None,
                   "redis_ops_per_s": round(ops, 1), "redis_ops_per_s_per_member": round(ops / args.members, 2),
                   "redis_in_bytes_per_s": round(bytes_in), "redis_out_bytes_per_s": round(bytes_out),
                   "redis_used_memory": i1["used_memory_human"],
                   "load_after": loadavg()}
            print(json.dumps(out), flush=True)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        redis_proc.terminate()
        redis_proc.wait(10)


if __name__ == "__main__":
    main()
