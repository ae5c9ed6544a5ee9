"""Scale-out benchmark: one fleet, polled by one collector and then by n shards (`[cluster] shard = "i/n"`).

    .venv/bin/python -m bench.bench_shard --aps 20000 --shards 2 --cycles 3

Starts one snmpd fleet of ``--aps`` loopback endpoints (127.1.x.y), then:

1. one collector process polls all of it (shard "0/1"): cycle p50/p95, CPU, peak RSS;
2. ``--shards`` collector processes, started together, each poll their shard of the same inventory into
   their own SQLite store. Each shard's ap_status rows are then counted per AP: every AP must appear in
   exactly one shard's store, once per poll (the learning poll + ``--cycles``), none missed, none twice.

Each collector is the same FleetEngine as the daemon (bench/bench_poll.py's measured loop). ``cat
/proc/loadavg`` is printed before and after each phase: other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_poll import COMMUNITY_ENV, _count_points, _cycles, _runner, _store, loadavg, machine
from bench.snmpd_fleet import address, inventory_toml, running


def child_main(args: argparse.Namespace) -> None:
    """One collector: poll the (already running) fleet as shard ``args.shard``; print a JSON line."""
    import resource

    from core.config import parse_config

    hosts = [(address(i), args.port) for i in range(args.aps)]
    inv = parse_config(inventory_toml(hosts, COMMUNITY_ENV, shard=args.shard), "bench.toml")
    args.store.mkdir(parents=True, exist_ok=True)
    db = args.store / "shard.sqlite3"
    out = _runner("asyncio")(_cycles(inv, _store(db), args.concurrency, args.cycles, None))
    out["points_per_ap"] = _count_points(db)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["shard"] = args.shard
    print(json.dumps(out))


def _start(shard: str, args: argparse.Namespace, store: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.bench_shard", "--child", "--shard", shard, "--aps", str(args.aps),
         "--cycles", str(args.cycles), "--concurrency", str(args.concurrency), "--store", str(store),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _collect(p: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = p.communicate()
    if p.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"collector process failed (exit {p.returncode})")
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"{label}: {r['devices']} APs, p50 {r['cycle_p50_s']:.2f}s p95 {r['cycle_p95_s']:.2f}s "
            f"(first {r['first_cycle_s']:.2f}s), completed {r['completed_per_cycle']}, errors "
            f"{r['errors_per_cycle']}, CPU/1000 polls {r['cpu_s_per_1000_polls']:.3f}s, peak RSS "
            f"{r['peak_rss_mb']:.0f} MB")


def verify(shards: list[dict[str, Any]], aps: int, polls: int) -> dict[str, Any]:
    """Every AP in exactly one shard's store, with exactly ``polls`` ap_status rows."""
    owner: dict[str, list[str]] = {}
    wrong_count: list[str] = []
    for r in shards:
        for ap, count in r["points_per_ap"].items():
            owner.setdefault(ap, []).append(r["shard"])
            if count != polls:
                wrong_count.append(f"{ap}: {count} rows in shard {r['shard']}")
    expected = {f"ap-{i}" for i in range(aps)}
    return {
        "aps": aps, "written": len(owner),
        "missed": sorted(expected - set(owner))[:10], "missed_count": len(expected - set(owner)),
        "twice": sorted(ap for ap, s in owner.items() if len(s) > 1)[:10],
        "twice_count": sum(1 for s in owner.values() if len(s) > 1),
        "wrong_count": wrong_count[:10], "wrong_count_count": len(wrong_count),
        "per_shard": {r["shard"]: len(r["points_per_ap"]) for r in shards},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aps", type=int, default=20000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--skip-single", action="store_true", help="only the sharded run")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=1161, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return
    community = os.environ.setdefault(COMMUNITY_ENV, "bench-" + os.urandom(4).hex())
    print(f"bench_shard {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on {machine()}; {args.aps} APs, "
          f"{args.shards} shards, {args.cycles} measured cycles", flush=True)
    report: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "aps": args.aps}
    t0 = time.perf_counter()
    with running(args.aps, community) as fleet, tempfile.TemporaryDirectory() as d:
        print(f"fleet: {len(fleet.procs)} snmpd processes up in {time.perf_counter() - t0:.1f}s", flush=True)
        if not args.skip_single:
            before = loadavg()
            single = _collect(_start("0/1", args, Path(d) / "single", fleet.port))
            print(_line("one collector  ", single), flush=True)
            print(f"  loadavg before {before} | after {loadavg()}", flush=True)
            single.pop("points_per_ap", None)
            report["single"] = single
        before = loadavg()
        procs = [_start(f"{i}/{args.shards}", args, Path(d) / f"shard{i}", fleet.port) for i in range(args.shards)]
        shards = [_collect(p) for p in procs]
        after = loadavg()
        for r in shards:
            print(_line(f"shard {r['shard']:>5}    ", r), flush=True)
        print(f"  loadavg before {before} | after {after}", flush=True)
        check = verify(shards, args.aps, args.cycles + 1)
        print(f"check: {check['written']} of {check['aps']} APs written; missed {check['missed_count']}, "
              f"in two shards {check['twice_count']}, wrong row count {check['wrong_count_count']}; "
              f"APs per shard {check['per_shard']}", flush=True)
        for r in shards:
            r.pop("points_per_ap", None)
            r.pop("polled_ids", None)
        report.update(shards=shards, check=check, snmpd_rss_mb=fleet.rss_kb() / 1024)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if check["missed_count"] or check["twice_count"] or check["wrong_count_count"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
