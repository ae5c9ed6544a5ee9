"""Poll-cycle benchmark: N simulated APs (Debian's snmpd on loopback), the daemon's engine polling them.

    .venv/bin/python -m bench.bench_poll --sizes 100,1000,5000,10000 --json poll.json

Each size runs in its own process (so peak RSS is that size's): it starts N snmpd endpoints on 127.1.x.y,
polls them once to learn (first poll: vendor columns, table sizes), then ``--cycles`` times back to back
with the same FleetEngine the daemon's poll job runs, writing to the embedded SQLite store. Reported:
cycle p50/p95, APs completed per cycle, errors, PDUs per AP, CPU seconds per 1,000 polls, peak RSS.

Baselines polled in the same process from the same fleet, so their ratios survive a busy machine:

* ``pysnmp``: the same engine on a sample of APs with v2c sent through pysnmp/pyasn1 (what every v2c
  poll cost before collector/snmp/v2c.py; WIFIWATCH_SNMP_V2C_WIRE=pysnmp);
* ``ezsnmp``: Net-SNMP's C library for the same sample and OIDs: one GET of the scalars and one GETBULK
  of the columns per AP (sessions opened beforehand, as our transports are), sequential (it blocks).
* ``gufo_v2c``: the same engine with v2c sent through gufo-snmp (WIFIWATCH_SNMP_V2C_WIRE=gufo).

``--snmp v3`` gives every agent an SNMPv3 user (SHA-256 + AES-128, authPriv) and polls as that user: ours
goes over gufo-snmp (collector/snmp/gufo_wire.py), the ``pysnmp`` baseline through pysnmp
(WIFIWATCH_SNMP_V3_WIRE=pysnmp) and ezsnmp with the same user.

``cat /proc/loadavg`` is printed before and after every size: other work shares the machine.
``--profile FILE`` writes a pyinstrument profile of the measured cycles of each size (pip install
pyinstrument). ``--loop uvloop`` runs the engine on uvloop (pip install uvloop) for comparison.
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
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.snmpd_fleet import V3User, inventory_toml, running

COMMUNITY_ENV = "WIFIWATCH_BENCH_COMMUNITY"
V3_KEY_ENVS = ("WIFIWATCH_BENCH_V3_AUTH", "WIFIWATCH_BENCH_V3_PRIV")
WIRE_ENV = "WIFIWATCH_SNMP_V2C_WIRE"
V3_WIRE_ENV = "WIFIWATCH_SNMP_V3_WIRE"
SCALARS = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.2.0"]  # sysUpTime.0, sysObjectID.0
# What the generic profile walks once the agent has shown it has ifXTable (collector/snmp/poller.py).
IF_COLUMNS = ["1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.31.1.1.1.6",
              "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.31.1.1.1.15"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, -(-95 * len(s) // 100) - 1)]


def _runner(loop: str) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    if loop == "uvloop":
        import uvloop  # type: ignore[import-not-found]

        return uvloop.run  # type: ignore[no-any-return]
    return asyncio.run


def _store(path: Path) -> Any:
    from core.inventory import StoreSettings
    from core.store.sqlite_store import SqliteStore

    return SqliteStore(path, StoreSettings(min_free_mb=0))


async def _cycles(inv: Any, writer: Any, concurrency: int, cycles: int, profile: Path | None) -> dict[str, Any]:
    """Two learning polls, then ``cycles`` measured ones: the figures of the measured ones."""
    from collector.engine import FleetEngine
    from core.secrets import SecretResolver

    engine = FleetEngine(inv, SecretResolver(), writer, use_icmp=False, max_concurrency=concurrency)
    t0 = time.perf_counter()
    first = await engine.poll_once()
    first_s = time.perf_counter() - t0
    # The second poll walks again for the steady column set (the poller drops redundant IF-MIB columns
    # once it has seen them): also learning, not steady state.
    t0 = time.perf_counter()
    await engine.poll_once()
    second_s = time.perf_counter() - t0
    durations: list[float] = []
    error_kinds: dict[str, int] = {}
    completed: list[int] = []
    errors: list[int] = []
    pdus = 0
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    cpu0 = _cpu()
    for _ in range(cycles):
        t0 = time.perf_counter()
        res = await engine.poll_once()
        durations.append(time.perf_counter() - t0)
        completed.append(sum(1 for r in res.values() if r.ok))
        for r in res.values():
            if not r.ok:
                error_kinds[str(r.error_kind)] = error_kinds.get(str(r.error_kind), 0) + 1
        for d in engine.devices:
            if d.id not in res:
                error_kinds["no_result"] = error_kinds.get("no_result", 0) + 1
        errors.append(len(engine.devices) - completed[-1])
        pdus += sum(r.pdus for r in res.values())
    cpu = _cpu() - cpu0
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")
    # SNMP heartbeats (what the daemon sends every heartbeat_s when ICMP is not permitted): 3 cycles.
    hb_cpu0, hb_t0 = _cpu(), time.perf_counter()
    hb_ok = 0
    for _ in range(3):
        beats = await engine.heartbeat_once()
        hb_ok += sum(1 for b in beats.values() if b.reachable)
    hb_cpu, hb_wall = _cpu() - hb_cpu0, (time.perf_counter() - hb_t0) / 3
    stats = getattr(engine.client, "stats", None)
    gufo = getattr(engine.client, "_gufo", None)
    await engine.close()
    polls = sum(completed) + sum(errors)
    return {
        "devices": len(engine.devices), "first_cycle_s": first_s, "second_cycle_s": second_s,
        "first_cycle_pdus_per_ap": sum(r.pdus for r in first.values()) / max(1, len(first)),
        "cycle_p50_s": statistics.median(durations), "cycle_p95_s": _p95(durations), "cycle_max_s": max(durations),
        "cycle_s": durations,
        "completed_per_cycle": min(completed), "errors_per_cycle": max(errors), "error_kinds": error_kinds,
        "pdus_per_ap": pdus / max(1, sum(completed)), "pdus_per_s": pdus / sum(durations),
        "aps_per_s": sum(completed) / sum(durations),
        "cpu_s_per_1000_polls": 1000 * cpu / max(1, polls),
        "timeouts": getattr(stats, "timeouts", None), "rcvbuf": getattr(stats, "rcvbuf", None),
        "heartbeat_cpu_s_per_1000": 1000 * hb_cpu / max(1, 3 * len(engine.devices)),
        "heartbeat_cycle_s": hb_wall, "heartbeat_ok_share": hb_ok / max(1, 3 * len(engine.devices)),
        "gufo_walks": getattr(gufo, "walks", 0), "gufo_learned_gets": getattr(gufo, "learned_gets", 0),
        "polled_ids": sorted(first),
    }


def _with_env(name: str, value: str, fn: Callable[[], Any]) -> Any:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        return fn()
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def run_one(n: int, cycles: int, concurrency: int, store_dir: Path, sample: int, loop: str,
            profile: Path | None, shard: str = "0/1", fleet_n: int | None = None, snmp: str = "v2c") -> dict[str, Any]:
    """Start the fleet, poll it, run the baselines; returns the figures (runs in a child process)."""
    from core.config import parse_config

    community = os.environ.setdefault(COMMUNITY_ENV, "bench-" + os.urandom(4).hex())
    v3 = None
    if snmp == "v3":
        v3 = V3User("wwbench", os.environ.setdefault(V3_KEY_ENVS[0], "auth-" + os.urandom(6).hex()),
                    os.environ.setdefault(V3_KEY_ENVS[1], "priv-" + os.urandom(6).hex()))
    run = _runner(loop)
    with running(fleet_n or n, community, v3=v3) as fleet:
        hosts = fleet.hosts()
        inv = parse_config(inventory_toml(hosts, COMMUNITY_ENV, shard=shard, v3=v3, v3_env=V3_KEY_ENVS), "bench.toml")
        writer = _store(store_dir / "bench.sqlite3")
        ours = run(_cycles(inv, writer, concurrency, cycles, profile))
        ours["points_written"] = _count_points(store_dir / "bench.sqlite3")
        ours["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ours["snmpd_rss_mb"] = fleet.rss_kb() / 1024
        ours["snmpd_processes"] = len(fleet.procs)
        base: dict[str, Any] = {}
        if sample > 0 and shard == "0/1":
            few = hosts[: min(n, sample)]
            inv_few = parse_config(inventory_toml(few, COMMUNITY_ENV, v3=v3, v3_env=V3_KEY_ENVS), "bench.toml")

            def sample_cycles() -> Any:
                return run(_cycles(inv_few, None, concurrency, 3, None))

            base["pysnmp"] = _with_env(V3_WIRE_ENV if v3 else WIRE_ENV, "pysnmp", sample_cycles)
            if v3 is None:
                base["gufo_v2c"] = _with_env(WIRE_ENV, "gufo", sample_cycles)
            base["ours_sample"] = sample_cycles()
            base["ezsnmp"] = ezsnmp_baseline(few, community, 2, v3)
    if shard == "0/1":
        ours["polled_ids"] = None
    import collector

    code = str(Path(collector.__file__ or ".").resolve().parent.parent)
    return {"n": n, "snmp": snmp, "shard": shard, "cycles": cycles, "concurrency": concurrency, "loop": loop,
            "code": code, **ours, "baseline": base, "machine": machine()}


def _count_points(path: Path) -> dict[str, int]:
    """ap_status rows per AP in the shard's store: proves each AP was written once per cycle, by one shard."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT s.tags, COUNT(*) FROM store_points p JOIN store_series s ON s.id = p.series_id "
                           "WHERE s.measurement = 'ap_status' GROUP BY s.id").fetchall()
    finally:
        con.close()
    out: dict[str, int] = {}
    for tags, count in rows:
        ap = json.loads(tags).get("ap", "?")
        out[ap] = out.get(ap, 0) + int(count)
    return out


def ezsnmp_baseline(hosts: list[tuple[str, int]], community: str, passes: int,
                    v3: V3User | None = None) -> dict[str, Any] | None:
    """The same OIDs from Net-SNMP's C library: GET of the scalars + one GETBULK of the columns per AP."""
    try:
        import ezsnmp  # type: ignore[import-untyped]
    except ImportError:
        return None
    reps = 5  # snmpd here has 4 interfaces: rows + 1, as the poller sizes its GETBULK after the first poll
    auth: dict[str, str] = {"community": community, "version": "2c"}
    if v3 is not None:
        auth = {"version": "3", "security_level": "authPriv", "security_username": v3.name,
                "auth_protocol": v3.auth, "auth_passphrase": v3.auth_key, "privacy_protocol": v3.priv,
                "privacy_passphrase": v3.priv_key}
    sessions = [ezsnmp.Session(hostname=h, port_number=str(p), timeout="2", retries="1", print_oids_numerically=True,
                               set_max_repeaters_to_num=str(reps), **auth)
                for h, p in hosts]
    pdus = errors = 0
    cpu0, t0 = _cpu(), time.perf_counter()
    for _ in range(passes):
        for s in sessions:
            try:
                s.get(SCALARS)
                rows = s.bulk_get(IF_COLUMNS)
                pdus += 2
                if len(rows) < len(IF_COLUMNS) * reps:
                    errors += 1
            except Exception:
                errors += 1
    dt, cpu = time.perf_counter() - t0, _cpu() - cpu0
    polls = passes * len(sessions)
    return {"aps": len(hosts), "passes": passes, "seconds": dt, "aps_per_s": polls / dt, "pdus_per_s": pdus / dt,
            "pdus_per_ap": pdus / max(1, polls), "cpu_s_per_1000_polls": 1000 * cpu / max(1, polls),
            "errors": errors}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1048576:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def child(n: int, args: argparse.Namespace, extra: list[str] | None = None) -> dict[str, Any]:
    """One size in a fresh process; its last stdout line is the JSON row."""
    cmd = [sys.executable, "-m", "bench.bench_poll", "--one", str(n), "--cycles", str(args.cycles),
           "--concurrency", str(args.concurrency), "--sample", str(args.sample), "--loop", args.loop,
           "--snmp", getattr(args, "snmp", "v2c"), *(extra or [])]
    if args.profile:
        cmd += ["--profile", f"{args.profile}.{n}.txt"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"bench child for N={n} failed (exit {out.returncode})")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def row_text(row: dict[str, Any]) -> str:
    b = row.get("baseline") or {}
    ez, py, ours_s = b.get("ezsnmp") or {}, b.get("pysnmp") or {}, b.get("ours_sample") or {}
    text = (f"{row.get('snmp', 'v2c')} N={row['n']:>6}: p50 {row['cycle_p50_s']:.2f}s p95 {row['cycle_p95_s']:.2f}s "
            f"(first {row['first_cycle_s']:.2f}s, second {row.get('second_cycle_s', float('nan')):.2f}s) "
            f"completed {row['completed_per_cycle']} errors "
            f"{row['errors_per_cycle']} PDUs/AP {row['pdus_per_ap']:.2f} CPU/1000 {row['cpu_s_per_1000_polls']:.3f}s "
            f"RSS {row['peak_rss_mb']:.0f}MB PDUs/s {row['pdus_per_s']:.0f}"
            f" errors by kind {row.get('error_kinds')}"
            f" | SNMP heartbeat cycle {row.get('heartbeat_cycle_s', float('nan')):.2f}s CPU/1000 "
            f"{row.get('heartbeat_cpu_s_per_1000', float('nan')):.3f}s")
    if ez and ours_s:
        text += (f" | sample {ez['aps']}: ours {ours_s['pdus_per_s']:.0f} PDUs/s {ours_s['aps_per_s']:.0f} APs/s "
                 f"CPU/1000 {ours_s['cpu_s_per_1000_polls']:.3f}s; ezsnmp {ez['pdus_per_s']:.0f} PDUs/s "
                 f"{ez['aps_per_s']:.0f} APs/s CPU/1000 {ez['cpu_s_per_1000_polls']:.3f}s; ratio PDUs/s "
                 f"{_ratio(ours_s['pdus_per_s'], ez['pdus_per_s']):.2f}, "
                 f"APs/s {_ratio(ours_s['aps_per_s'], ez['aps_per_s']):.2f}")
    if py and ours_s:
        text += (f" | pysnmp wire {py['aps_per_s']:.0f} APs/s CPU/1000 {py['cpu_s_per_1000_polls']:.3f}s "
                 f"p95 {py['cycle_p95_s']:.2f}s (ours/pysnmp APs/s {_ratio(ours_s['aps_per_s'], py['aps_per_s']):.1f}x,"
                 f" errors {py['errors_per_cycle']}/cycle)")
    gv = b.get("gufo_v2c") or {}
    if gv and ours_s:
        text += (f" | gufo v2c {gv['aps_per_s']:.0f} APs/s CPU/1000 {gv['cpu_s_per_1000_polls']:.3f}s PDUs/AP "
                 f"{gv['pdus_per_ap']:.2f} p95 {gv['cycle_p95_s']:.2f}s")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000,10000")
    ap.add_argument("--cycles", type=int, default=5, help="measured cycles per size (after one learning poll)")
    ap.add_argument("--concurrency", type=int, default=256, help="the engine's max_concurrency (daemon default)")
    ap.add_argument("--sample", type=int, default=500, help="APs the pysnmp and ezsnmp baselines poll")
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("--snmp", choices=["v2c", "v3"], default="v2c", help="v3: authPriv (SHA-256 + AES-128)")
    ap.add_argument("--profile", help="write a pyinstrument profile per size to PROFILE.N.txt")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    ap.add_argument("--fleet", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        profile = Path(args.profile) if args.profile else None
        if args.store:
            args.store.mkdir(parents=True, exist_ok=True)
            row = run_one(args.one, args.cycles, args.concurrency, args.store, args.sample, args.loop, profile,
                          args.shard, args.fleet, args.snmp)
        else:
            with tempfile.TemporaryDirectory() as d:
                row = run_one(args.one, args.cycles, args.concurrency, Path(d), args.sample, args.loop, profile,
                              args.shard, args.fleet, args.snmp)
        print(json.dumps(row))
        return
    print(f"bench_poll {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on {machine()}; cycles {args.cycles}, "
          f"concurrency {args.concurrency}, loop {args.loop}, SNMP {args.snmp}", flush=True)
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        before = loadavg()
        row = child(n, args)
        row["loadavg_before"], row["loadavg_after"] = before, loadavg()
        rows.append(row)
        if args.json:  # written after every size, so a long run keeps what it measured
            args.json.write_text(json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
                                             "rows": rows}, indent=2), encoding="utf-8")
        print(row_text(row), flush=True)
        print(f"         loadavg before {before} | after {row['loadavg_after']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
                                         "rows": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
