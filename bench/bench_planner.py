"""The expansion planner at city scale: 2,000 candidates x 20,000 demand points, exact (HiGHS) vs greedy.

    .venv/bin/python -m bench.bench_planner [--candidates 2000] [--demand 20000] [--seed 7]
                                            [--budgets 20000000,60000000,150000000] [--repeat 1]
    .venv/bin/python -m bench.bench_planner --console [--runs 20]   # 整備計画 on the Kashima sample

``--console``: the console's 整備計画 on the Kashima sample (config/sites.toml) with the demo's 30 days of
simulated history in a temporary store, served as the daemon serves it (Litestar on uvicorn in a thread,
loopback), requests from httpx logged in as a planner: ``GET /planning`` (the default plan with the
sensitivity re-solves, as `wifiwatch rank` makes it) and ``POST /planning/run`` with scenarios A and B and the
A − B table. The first request (which reads the 30 days of observed demand) is reported on its own; baselines in
the same run: ``GET /healthz`` and one ``make_plan`` call in-process.

Random but seeded instances over a Kashima-sized area (lat 35.86-36.05, lon 140.57-140.70, about 20 km x
12 km). Visitors gather: 85% of the demand points lie around 40 hot spots (Gaussian, sigma 200 m), the rest
anywhere; weights are log-normal (median 2,000 visitors a year). 90% of the candidates are proposed near a
hot spot (sigma 200 m), each with a coverage radius of 100-250 m (an outdoor AP) and a cost of 0.8-5 M yen,
so candidates overlap and compete for the same visitors, which is what makes the choice hard. Costs are not round
(0.8-5 M yen to the yen), so the integer re-check has work to do. For each budget: time to build the coverage
(k-d tree of nearby pairs, analytics/planner/coverage.py), the whole exact call (model, HiGHS to a proven optimum,
integer re-check, marginal-gain ordering) and the greedy baseline (best gain per yen first); values, the gap greedy
leaves, and the process's peak RSS. Times are the median of --repeat.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from analytics.planner.coverage import cover_matrix
from analytics.planner.model import Solution, solve_exact, solve_greedy

LAT, LON = (35.86, 36.05), (140.57, 140.70)
M_PER_DEG_LAT, M_PER_DEG_LON = 111_320.0, 111_320.0 * np.cos(np.radians(35.95))
T = TypeVar("T")


def points_near(rng: np.random.Generator, n: int, centres: np.ndarray, sigma_m: float, share: float) -> np.ndarray:
    """n (lat, lon) points: ``share`` of them Gaussian around random centres, the rest uniform over the city."""
    k = int(round(n * share))
    c = centres[rng.integers(0, len(centres), k)]
    near = c + rng.normal(0, sigma_m, (k, 2)) / [M_PER_DEG_LAT, M_PER_DEG_LON]
    anywhere = np.column_stack([rng.uniform(*LAT, n - k), rng.uniform(*LON, n - k)])
    return np.vstack([near, anywhere])


def instance(n_cand: int, n_dem: int, seed: int) -> tuple[np.ndarray, Any, np.ndarray, float]:
    """(weights, sparse coverage matrix, costs in whole yen, seconds to build the coverage)."""
    rng = np.random.default_rng(seed)
    hot = np.column_stack([rng.uniform(*LAT, 40), rng.uniform(*LON, 40)])
    dem = points_near(rng, n_dem, hot, 200.0, 0.85)
    cand = points_near(rng, n_cand, hot, 200.0, 0.9)
    weights = np.round(rng.lognormal(np.log(2000.0), 1.0, n_dem))
    radius = rng.uniform(100.0, 250.0, n_cand)
    costs = np.round(rng.uniform(0.8e6, 5e6, n_cand)).astype(np.int64)
    t0 = time.perf_counter()
    cover = cover_matrix(dem[:, 0], dem[:, 1], cand[:, 0], cand[:, 1], radius)
    return weights, cover, costs, time.perf_counter() - t0


def inventory_instance(n_cand: int, n_dem: int, seed: int) -> tuple[Any, list[Any]]:
    """The same geography as an inventory (candidates of five kinds, radii 100-250 m) and extra demand points,
    for timing the public ``make_plan`` call as the CLI, the map and the console make it."""
    import tomlkit

    from analytics.planner.demand import DemandPoint
    from core.config import parse_config

    rng = np.random.default_rng(seed)
    hot = np.column_stack([rng.uniform(*LAT, 40), rng.uniform(*LON, 40)])
    dem = points_near(rng, n_dem, hot, 200.0, 0.85)
    cand = points_near(rng, n_cand, hot, 200.0, 0.9)
    weights = np.round(rng.lognormal(np.log(2000.0), 1.0, n_dem))
    kinds = ["public_facility", "tourist_spot", "station", "park", "commercial"]
    costs = np.round(rng.uniform(0.8e6, 5e6, n_cand)).astype(np.int64)
    doc = {"snmp": {"version": "2c", "community": "env:WIFIWATCH_BENCH_UNUSED"}, "sites": [],
           "planner": {"coverage_radius_m": dict(zip(kinds, [100.0, 140.0, 180.0, 220.0, 250.0], strict=True))},
           "candidates": [{"id": f"c{j:04d}", "name_ja": f"候補{j}", "name_en": f"site {j}", "kind": kinds[j % 5],
                           "lat": float(cand[j, 0]), "lon": float(cand[j, 1]), "annual_visitors": 0,
                           "install_cost_yen": int(costs[j])} for j in range(n_cand)]}
    inv = parse_config(tomlkit.dumps(doc), "bench.toml")
    extra = [DemandPoint(float(dem[i, 0]), float(dem[i, 1]), float(weights[i]), f"csv:p{i}") for i in range(n_dem)]
    return inv, extra


def whole(args: argparse.Namespace) -> None:
    """make_plan end to end: demand, coverage, the exact plan, figures, reasons, and the sensitivity re-solves."""
    from analytics.planner.plan import Scenario, make_plan

    inv, extra = inventory_instance(args.candidates, args.demand, args.seed)
    print("| budget (yen) | sensitivity | picks | covered | proven optimal | whole call s | CPU s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for budget in (int(b) for b in args.budgets.split(",")):
        for sens in (False, True):
            t0, c0 = time.perf_counter(), time.process_time()
            r = make_plan(inv, Scenario(budget_yen=budget, extra_demand=tuple(extra), sensitivity=sens))
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            picks = sum(1 for c in r.candidates if c.selected)
            print(f"| {budget:,} | {'yes' if sens else 'no'} | {picks} | {r.covered:,} | "
                  f"{'yes' if r.proven_optimal else 'no'} | {dt:.1f} | {cpu:.1f} | {rss:.0f} |", flush=True)


def console_bench(runs: int) -> None:
    """GET /planning and POST /planning/run (A and B) on the Kashima sample with 30 days of simulated history."""
    import json
    import re
    import tempfile

    from analytics.planner.plan import Scenario, make_plan
    from bench.bench_console import login
    from collector.http import StatusServer
    from console.app import create_app
    from console.context import open_context
    from console.scenario import observed
    from core.config import load_config
    from core.inventory import StoreSettings
    from wifiwatch.commands.demo import _seed_history

    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="bench-planning-"))
    inv = load_config(str(root / "config" / "sites.toml"))
    inv = inv.model_copy(update={"store": StoreSettings(path=str(tmp / "store.sqlite3"), min_free_mb=0)})
    t0 = time.perf_counter()
    n = _seed_history(inv, 30)
    print(f"seeded {n:,} simulated points (30 days) in {time.perf_counter() - t0:.1f} s", flush=True)
    ctx = open_context(inv, None)
    ctx.users.add("bench", "bench-password-0123", "planner")
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
    srv.start()
    c = login(f"http://127.0.0.1:{srv.port}", "bench", "bench-password-0123")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/planning").text)  # also the cold read
    assert csrf
    form = {"_csrf_token": csrf[1], "a_budget": "4000000", "compare": "1", "b_budget": "6000000",
            "b_exclude__kashima-jingu": "1", "run": "1"}

    def ms(fn: Callable[[], Any], k: int) -> dict[str, float]:
        """Wall time per call, and this process's CPU time per call (server and client are both in it): on a
        shared machine the wall time includes waiting for a core, the CPU time does not."""
        ts = []
        c0 = time.process_time()
        for _ in range(k):
            t = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t) * 1000)
        cpu = (time.process_time() - c0) * 1000 / k
        ts.sort()
        return {"median_ms": round(statistics.median(ts), 1), "p95_ms": round(ts[int(0.95 * (len(ts) - 1))], 1),
                "max_ms": round(ts[-1], 1), "cpu_ms": round(cpu, 1)}

    def page(r: Any) -> None:
        assert r.status_code == 200 and "data-kind=\"warning\"" in r.text, r.status_code

    cold_ctx = open_context(inv, None)  # a second context: its observed demand is not read yet
    t = time.perf_counter()
    observed(cold_ctx)
    cold_observed = (time.perf_counter() - t) * 1000
    plan_only = ms(lambda: make_plan(inv, Scenario(), observed(ctx)), runs)
    from analytics.planner.observed import observed_demand

    def before() -> None:  # what GET /planning did per request before: read 30 days, plan without sensitivity
        now = time.time_ns()
        make_plan(inv, Scenario(sensitivity=False), observed_demand(inv, ctx.history, now - 30 * 86400 * 10**9, now))

    out = {"load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
           "first_read_of_30_days_observed_demand_ms": round(cold_observed, 1),
           "baseline_healthz": ms(lambda: c.get("/healthz"), runs),
           "baseline_make_plan_in_process_with_sensitivity": plan_only,
           "baseline_old_page_work_in_process": ms(before, max(3, runs // 4)),
           "get_planning": ms(lambda: page(c.get("/planning")), runs),
           "post_planning_run_a_and_b": ms(lambda: page(c.post("/planning/run", data=form)), runs),
           "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}
    srv.stop()
    print(json.dumps(out, indent=1))


def timed(fn: Callable[[], T], repeat: int) -> tuple[T, float, float]:
    """(result, median wall seconds, median CPU seconds of this process: less moved by a shared machine)."""
    times, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert out is not None
    return out, statistics.median(times), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--demand", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budgets", default="20000000,60000000,150000000")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--whole", action="store_true", help="time the public make_plan call instead of the solver")
    ap.add_argument("--console", action="store_true", help="the console's 整備計画 on the Kashima sample")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    if args.console:
        console_bench(args.runs)
        return
    load = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    print(f"load average at start: {load}")
    if args.whole:
        whole(args)
        load = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
        print(f"load average at end: {load}")
        return
    w, cover, costs, build_s = instance(args.candidates, args.demand, args.seed)
    reach = np.asarray(cover.sum(axis=1)).ravel() > 0
    print(f"{args.candidates} candidates x {args.demand} demand points (seed {args.seed}): coverage matrix "
          f"{build_s * 1000:.0f} ms, {int(cover.nnz):,} pairs, {int(reach.sum()):,} points reachable by some "
          f"candidate ({w[reach].sum() / w.sum():.0%} of the weight)")
    print("| budget (yen) | exact: picks, visitors, cost | exact s (CPU s) | proven optimal | re-solves | greedy: "
          "picks, visitors | greedy s | greedy gap | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for budget in (float(b) for b in args.budgets.split(",")):
        exact: Solution
        greedy: Solution
        exact, ex_s, ex_cpu = timed(lambda: solve_exact(w, cover, costs, budget), args.repeat)  # noqa: B023
        greedy, gr_s, _ = timed(lambda: solve_greedy(w, cover, costs, budget), args.repeat)  # noqa: B023
        gap = 100.0 * (exact.covered - greedy.covered) / exact.covered if exact.covered else 0.0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert exact.cost <= budget and abs(sum(exact.gains) - exact.covered) < 1e-6 * max(1.0, exact.covered)
        print(f"| {budget:,.0f} | {len(exact.picks)}, {exact.covered:,.0f}, {exact.cost:,} | "
              f"{ex_s:.1f} ({ex_cpu:.1f}) | "
              f"{'yes' if exact.proven_optimal else f'no (gap {exact.mip_gap})'} | {exact.resolves} | "
              f"{len(greedy.picks)}, {greedy.covered:,.0f} | {gr_s:.3f} | {gap:.2f}% | {rss:.0f} |", flush=True)
    load = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    print(f"load average at end: {load}")


if __name__ == "__main__":
    main()
