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
import contextlib
import logging
import re
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
    ap.add_argument("--http", action="store_true", help="issue 26: the console under a hostile LAN instead")
    ap.add_argument("--phase-s", type=float, default=20.0, help="--http: seconds per phase")
    ap.add_argument("--phases", default=",".join(PHASES), help="--http: which phases, comma-separated")
    args = ap.parse_args()
    if args.http:
        http_main(args.phase_s, args.pause, tuple(args.phases.split(",")))
        return
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



# -- issue 26: the console's HTTP under a hostile LAN, polling beside it -----------------------------------------
#
#     .venv/bin/python -m bench.bench_hostile --http [--phase-s 20]
#
# The console is served as the daemon serves it (Litestar on the guarded uvicorn server, in a thread of this
# process) while this process's event loop polls the four good APs a round a second, as the daemon's poll job.
# The attackers and the monitor run in two other processes (a client's CPU is not the server's). Phase by phase:
# nothing; 230 slow-body connections from one address (the attack); 240 slow heads from 8 addresses
# (more than the pool), each connection reopened when cut; 190 addresses each POSTing a 10 MiB form without a
# login, again and again; 100 addresses each sending a wrong password (each its own user name) at once, again
# and again. The monitor asks /healthz and the console's /login from two other addresses every 0.5 s. Per
# phase: poll-cycle time, the monitor's answers and latency, this
# process's CPU seconds and RSS (start and peak), and the password gate's peak concurrency.

SLOW_BODY = (b"POST /lang HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
             b"Content-Length: 1000\r\n\r\nus")
SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
BODY_MB = 10


async def _hold(port: int, source: str, payload: bytes, drip: bytes, end: float) -> None:
    """One attacker connection: send ``payload``, then ``drip`` every 5 s; reconnect whenever cut or answered."""
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            w.write(payload)
            while time.monotonic() < end:
                try:
                    if await asyncio.wait_for(r.read(100), 5.0) is not None:
                        break  # answered or closed
                except TimeoutError:
                    w.write(drip)
            w.close()
        except OSError:
            await asyncio.sleep(0.1)


async def _big_post(port: int, source: str, end: float, out: dict[str, int]) -> None:
    piece = b"a" * 65536
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            w.write(b"POST /lang HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + f"Content-Length: {BODY_MB * 2**20}\r\n\r\n".encode())
            for _ in range(BODY_MB * 16):
                w.write(piece)
                await w.drain()
            line = await asyncio.wait_for(r.readline(), 10.0)
            key = line.split()[1].decode() if len(line.split()) > 1 else "closed"
        except (OSError, TimeoutError):
            key = "reset"
        out[key] = out.get(key, 0) + 1
        with contextlib.suppress(Exception):  # the server may have cut it
            w.close()


async def _wrong_password(port: int, source: str, name: str, end: float, out: dict[str, int]) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                 transport=httpx.AsyncHTTPTransport(local_address=source)) as c:
        while time.monotonic() < end:
            try:
                tok = re.search(r'name="_csrf_token" value="([^"]+)"', (await c.get("/login")).text)
                r = await c.post("/login", data={"user": name, "password": "wrong", "_csrf_token": tok[1] if tok
                                                  else ""})
                key = str(r.status_code)
            except httpx.HTTPError as e:
                key = type(e).__name__
            out[key] = out.get(key, 0) + 1


async def _monitor(port: int, end: float, out: dict[str, Any]) -> None:
    import httpx

    for name in ("healthz", "console"):
        out[name] = {"ok": 0, "not_ok": 0, "ms": []}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.40.1")) as mon, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10,
                              transport=httpx.AsyncHTTPTransport(local_address="127.0.40.2")) as browser:
        while time.monotonic() < end:
            for name, c, path in (("healthz", mon, "/healthz"), ("console", browser, "/login")):
                t0 = time.perf_counter()
                try:
                    ok = (await c.get(path)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                out[name]["ms"].append((time.perf_counter() - t0) * 1000)
                out[name]["ok" if ok else "not_ok"] += 1
            await asyncio.sleep(0.5)


def _attack(phase: str, port: int, seconds: float, results: Any) -> None:
    """The attacker (``phase``) or, for phase "monitor", the monitoring system and a browser: another process
    each, so neither slows the other."""
    async def main() -> dict[str, Any]:
        end = time.monotonic() + seconds
        out: dict[str, Any] = {"attack": {}}
        tasks = []
        if phase == "monitor":
            tasks.append(_monitor(port, end, out))
        elif phase == "slow-1-address":
            tasks += [_hold(port, "127.0.30.1", SLOW_BODY, b"e", end) for _ in range(230)]
        elif phase == "slow-8-addresses":
            tasks += [_hold(port, f"127.0.31.{i % 8 + 1}", SLOW_HEAD, b"a", end) for i in range(240)]
        elif phase == "bodies":
            tasks += [_big_post(port, f"127.0.32.{i + 1}", end, out["attack"]) for i in range(190)]
        elif phase == "logins":
            tasks += [_wrong_password(port, f"127.0.{33 + i // 250}.{i % 250 + 1}", f"user{i}", end, out["attack"])
                      for i in range(100)]
        await asyncio.gather(*tasks)
        return out

    results.put(asyncio.run(main()))


async def _poll_phase(poller: ApPoller, good: list[tuple[str, Target]], seconds: float, pause: float,
                      rss: dict[str, float]) -> dict[str, Any]:
    cycles, polls, fails = [], [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        res = await asyncio.gather(*(poller.poll(i, t, "generic") for i, t in good))
        cycles.append((time.perf_counter() - t0) * 1000)
        polls += [r.poll_ms for r in res]
        fails += sum(not r.ok for r in res)
        rss["peak"] = max(rss["peak"], _rss_mb())
        await asyncio.sleep(pause)
    return {"cycles": len(cycles), "cycle_p50_ms": statistics.median(cycles), "cycle_p95_ms": _p95(cycles),
            "cycle_max_ms": max(cycles), "good_fail": fails}


PHASES = ("alone", "slow-1-address", "slow-8-addresses", "bodies", "logins")


def http_main(phase_s: float, pause: float, phases: tuple[str, ...] = PHASES) -> None:
    import multiprocessing

    from collector.http import StatusServer
    from console.app import create_app
    from console.context import open_context
    from core.config import parse_config
    from tests.test_console_auth import BASE

    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        proc, addrs = start_good_agent(Path(d))
        inv = parse_config(BASE.format(store=Path(d) / "s.sqlite3", reports=Path(d) / "reports", console=""),
                           "bench.toml", {"generic"})
        ctx = open_context(inv, None)
        ctx.users.add("bench", "bench-password-0123", "viewer")
        app = create_app(ctx)
        srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=app)
        srv.start()
        good = [("g2c-0", t_v2c(addrs[0])), ("g2c-1", t_v2c(addrs[1])), ("g3-0", t_v3(addrs[2])),
                ("g3-1", t_v3(addrs[3]))]
        mp = multiprocessing.get_context("fork")

        async def run_phases() -> None:
            client = SnmpClient(max_concurrency=64)
            poller = ApPoller(client, load_profiles())
            try:
                for phase in phases:
                    q, mq = mp.Queue(), mp.Queue()
                    attacker = mp.Process(target=_attack, args=(phase, srv.port, phase_s, q))
                    monitor = mp.Process(target=_attack, args=("monitor", srv.port, phase_s, mq))
                    rss = {"start": _rss_mb(), "peak": _rss_mb()}
                    cpu0 = time.process_time()
                    gate = getattr(app.state, "hash_gate", None)  # None: the code before issue 26 (a baseline run)
                    if gate is not None:
                        gate.peak = 0
                    attacker.start()
                    monitor.start()
                    row = await _poll_phase(poller, good, phase_s, pause, rss)
                    loop = asyncio.get_running_loop()
                    seen = await loop.run_in_executor(None, mq.get, True, 60)
                    seen["attack"] = (await loop.run_in_executor(None, q.get, True, 60))["attack"]
                    attacker.join(10)
                    monitor.join(10)
                    await asyncio.sleep(3)  # the attack's connections drain before the next phase
                    row.update(phase=phase, cpu_s=time.process_time() - cpu0, rss_start_mb=rss["start"],
                               rss_peak_mb=rss["peak"], hash_peak=gate.peak if gate else "-", attack=seen["attack"],
                               **{f"{k}_ok": f"{v['ok']}/{v['ok'] + v['not_ok']}" for k, v in seen.items()
                                  if k != "attack"},
                               **{f"{k}_max_ms": max(v["ms"]) for k, v in seen.items() if k != "attack"},
                               **{f"{k}_p50_ms": statistics.median(v["ms"]) for k, v in seen.items() if k != "attack"})
                    print(row, flush=True)
                    rows.append(row)
            finally:
                await client.close()

        try:
            asyncio.run(run_phases())
        finally:
            srv.stop()
            proc.terminate()
            proc.wait(5)
    print(f"load average at end: {Path('/proc/loadavg').read_text().split()[:3]}")
    print("| phase | poll cycles | cycle p50 ms | p95 ms | max ms | good failures | /healthz 200 | p50 / max ms |"
          " console 200 | p50 / max ms | CPU s | RSS start → peak MB | hashing at once | attack outcomes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['phase']} | {r['cycles']} | {r['cycle_p50_ms']:.1f} | {r['cycle_p95_ms']:.1f} | "
              f"{r['cycle_max_ms']:.1f} | {r['good_fail']} | {r['healthz_ok']} | {r['healthz_p50_ms']:.0f} / "
              f"{r['healthz_max_ms']:.0f} | {r['console_ok']} | {r['console_p50_ms']:.0f} / "
              f"{r['console_max_ms']:.0f} | {r['cpu_s']:.1f} | {r['rss_start_mb']:.0f} → "
              f"{r['rss_peak_mb']:.0f} | {r['hash_peak']} | {r['attack']} |")


if __name__ == "__main__":
    main()
