"""Web console benchmark: the 状況 page for 1,000 APs, a 30-day chart of one AP at 1-minute data, page weight.

    .venv/bin/python -m bench.bench_console [--aps 1000] [--days 30] [--runs 30]

What is generated (deterministic): 1,000 APs (4 per site) with one hour of 1-minute
``ap_ping``/``ap_status``/``ap_traffic`` rows each, and the alert state machine's states for all of them (2 % down,
each with an open incident); one AP with ``--days`` days of 1-minute rows. The console runs as the daemon serves it
(Litestar on uvicorn in a thread, loopback); requests come from httpx, logged in as a viewer.

The hourly rollup job (which the daemon runs every hour) is run once over the generated rows, as a month of
running would have left them. Baselines in the same run: ``GET /healthz`` (the framework and the server, no
work) and the raw 30-day ``query_columns`` read a chart would need without the rollups, so the figures can be
read as ratios on another machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from collector.alerts.state import DeviceState, State
from collector.alerts.store import AlertStore
from collector.http import StatusServer
from console.app import create_app
from console.context import open_context
from console.history import chart
from core.inventory import AccessPoint, Inventory, PollSettings, Site, StoreSettings
from core.schema import Point
from core.store.sqlite_store import SqliteStore

PASSWORD = "bench-password-0123"


def inventory(n: int) -> Inventory:
    sites = []
    for s in range(math.ceil(n / 4)):
        aps = [AccessPoint(id=f"ap-{s:03d}-{k}", host=f"127.0.{s // 250}.{s % 250 + 1}", name_ja=f"AP {s}-{k}")
               for k in range(4) if s * 4 + k < n]
        sites.append(Site(id=f"site-{s:03d}", name_ja=f"拠点 {s}", name_en=f"Site {s}",
                          kind="tourist_spot" if s % 2 else "public_facility",
                          lat=35.96 + s * 0.001, lon=140.62 + s * 0.001, aps=aps))
    return Inventory(sites=sites)


def samples(inv: Inventory, start: dt.datetime, end: dt.datetime, step: int = 60) -> Iterator[Point]:
    """One ping, status and traffic point per AP and minute, with a daily client curve."""
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    for i, (site, ap) in enumerate(inv.aps()):
        base = 20 + (i * 7) % 30
        for t in range(t0 - t0 % step, t1, step):
            h = ((t / 3600) + 9) % 24
            clients = int(base * max(0.0, math.sin(math.pi * (h - 6) / 15))) if 6 <= h <= 21 else 0
            ns = t * 10**9
            yield Point("ap_ping", {"site": site.id, "ap": ap.id, "role": "ap"},
                        {"reachable": True, "rtt_ms": 1.5, "loss_pct": 0.0, "method": "icmp"}, ns)
            yield Point("ap_status", {"site": site.id, "ap": ap.id, "vendor": "generic", "role": "ap"},
                        {"reachable": True, "snmp_ok": True, "clients": clients, "poll_ms": 12.0}, ns)
            yield Point("ap_traffic", {"site": site.id, "ap": ap.id, "interface": "eth0"},
                        {"rx_bps": clients * 250e3, "tx_bps": clients * 50e3}, ns)


def batched(it: Iterator[Point], n: int) -> Iterator[list[Point]]:
    batch: list[Point] = []
    for p in it:
        batch.append(p)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def login(base: str, user: str = "bench", password: str = PASSWORD, timeout: float = 60) -> httpx.Client:
    """A client logged in to the console at ``base`` through its form (CSRF token and all), waiting up to 5 s
    for a server that is still starting."""
    c = httpx.Client(base_url=base, timeout=timeout)
    tok = None
    for _ in range(100):
        try:
            tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
            break
        except httpx.ConnectError:
            time.sleep(0.05)
    assert tok, f"no login form at {base}"
    assert c.post("/login", data={"user": user, "password": password, "_csrf_token": tok[1]}).status_code == 303
    return c


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    """Wall time per call (median, p95, max) and this process's CPU time per call (server and client are both in
    it): on a shared machine the wall time includes waiting for a core, the CPU time does not."""
    fn()  # warm-up (imports, template compile, SQLite page cache)
    ts = []
    cpu0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - cpu0) * 1000 / runs
    ts.sort()
    return {"median_ms": round(statistics.median(ts), 1), "p95_ms": round(ts[int(0.95 * (len(ts) - 1))], 1),
            "max_ms": round(ts[-1], 1), "cpu_ms": round(cpu, 1)}


def keepalive(base: str, n: int) -> dict[str, float]:
    """``GET /healthz`` requests 2..n of one kept-alive connection (issue 23.6: 44 ms each while Nagle met the
    client's delayed ACK), beside a new connection per request as the baseline."""
    with httpx.Client(base_url=base, timeout=10) as kept:
        kept.get("/healthz")  # request 1 opens the connection
        ts = []
        for _ in range(n - 1):
            t0 = time.perf_counter()
            assert kept.get("/healthz").status_code == 200
            ts.append((time.perf_counter() - t0) * 1000)
    fresh = []
    for _ in range(n - 1):
        t0 = time.perf_counter()
        with httpx.Client(base_url=base, timeout=10) as once:
            once.get("/healthz")
        fresh.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return {"kept_alive_p50_ms": round(statistics.median(ts), 2), "kept_alive_p95_ms": round(
        ts[int(0.95 * (len(ts) - 1))], 2), "new_connection_p50_ms": round(statistics.median(fresh), 2)}


def healthz_only(runs: int) -> None:
    """``--healthz-only``: the machine endpoints alone, no store to generate (seconds instead of minutes)."""
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True})
    srv.start()
    try:
        print(json.dumps({"load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
                          "healthz_requests_2_to_n": keepalive(f"http://127.0.0.1:{srv.port}", runs),
                          "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}, indent=1))
    finally:
        srv.stop()


def build(tmp: Path, n: int, days: int) -> tuple[Inventory, str]:
    inv = inventory(n).model_copy(update={"store": StoreSettings(path=str(tmp / "console.sqlite3"), min_free_mb=0)})
    first = inv.aps()[0][1].id
    if Path(inv.store.path).exists():  # --keep: reuse what an earlier run generated
        _rollup(inv)
        return inv, first
    store = SqliteStore(Path(inv.store.path), inv.store)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    t0 = time.perf_counter()
    for b in batched(samples(inv, now - dt.timedelta(hours=1), now), 20000):
        store.write(b)
    one = inventory(1)
    for b in batched(samples(one, now - dt.timedelta(days=days), now - dt.timedelta(hours=1)), 20000):
        store.write(b)
    store.close()
    _rollup(inv)
    alerts = AlertStore(Path(inv.store.path))
    nowf = time.time()
    states = {}
    with alerts.tx() as c:
        for i, (site, ap) in enumerate(inv.aps()):
            down = i % 50 == 7
            states[ap.id] = DeviceState(confirmed=State.DOWN if down else State.UP, phase=State.DOWN if down
                                        else State.UP, since=nowf - 600 - i)
            if down:
                c.execute("INSERT INTO alert_incidents(device, site, kind, start, cause, notified, severity) "
                          "VALUES (?,?,?,?,?,?,?)", (ap.id, site.id, "down", nowf - 600, "no heartbeat reply", 1,
                                                     "critical"))
        alerts.save_states(c, states)
    alerts.close()
    print(f"generated {n} APs x 1 h and 1 AP x {days} d of 1-minute rows in {time.perf_counter() - t0:.0f} s",
          flush=True)
    return inv, first


def _rollup(inv: Inventory) -> None:
    """The daemon's hourly rollup job, as it would have run over the generated month."""
    store = SqliteStore(Path(inv.store.path), inv.store)
    try:
        store.rollup(time.time_ns())
    finally:
        store.close()


def fleet_inventory(n: int, site_aps: int, path: Path) -> Inventory:
    """``n`` APs: one site of ``site_aps`` APs (the big site page), the rest 4 per site (状況 at fleet scale)."""
    rest = inventory(n - site_aps)
    big = Site(id="big-site", name_ja="大規模拠点", name_en="Big site", kind="station", lat=35.95, lon=140.61,
               aps=[AccessPoint(id=f"big-{k:03d}", host=f"127.9.{k // 250}.{k % 250 + 1}", name_ja=f"大規模 {k}")
                    for k in range(site_aps)])
    # a 10-minute heartbeat: the data written when the bench starts stays live (core.state) through every run
    # without a writer thread adding its CPU time to the figures
    return Inventory(sites=[big, *rest.sites], store=StoreSettings(path=str(path), min_free_mb=0),
                     defaults=PollSettings(heartbeat_s=600, interval_s=600))


def build_fleet(tmp: Path, n: int, site_aps: int) -> Inventory:
    """Three heartbeats and polls per AP (the daemon's last half minute: 状況 reads only the newest), 24 h of
    5-minute rows for the big site (its charts), the alert states (2 % down, each with an open incident)."""
    inv = fleet_inventory(n, site_aps, tmp / "fleet.sqlite3")
    if Path(inv.store.path).exists():
        return inv
    t0 = time.perf_counter()
    store = SqliteStore(Path(inv.store.path), inv.store)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rest = Inventory(sites=inv.sites[1:])
    for b in batched(samples(rest, now - dt.timedelta(seconds=150), now, step=60), 50000):
        store.write(b)
    big = Inventory(sites=inv.sites[:1])
    for b in batched(samples(big, now - dt.timedelta(hours=24), now, step=300), 50000):
        store.write(b)
    store.close()
    _rollup(inv)
    alerts = AlertStore(Path(inv.store.path))
    nowf = time.time()
    states = {}
    with alerts.tx() as c:
        for i, (site, ap) in enumerate(inv.aps()):
            down = i % 50 == 7
            states[ap.id] = DeviceState(confirmed=State.DOWN if down else State.UP, phase=State.DOWN if down
                                        else State.UP, since=nowf - 600 - i)
            if down:
                c.execute("INSERT INTO alert_incidents(device, site, kind, start, cause, notified, severity) "
                          "VALUES (?,?,?,?,?,?,?)", (ap.id, site.id, "down", nowf - 600, "no heartbeat reply", 1,
                                                     "critical"))
        alerts.save_states(c, states)
    alerts.close()
    print(f"generated {n} APs ({site_aps} at one site, 24 h of 5-minute rows there) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    return inv


def fleet_scale(args: argparse.Namespace) -> None:
    """``--fleet N``: 状況 for N APs and the page of a ``--site-aps``-AP site (issue 23.7, views half)."""
    from collector.snapshot import read_snapshot

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-console-fleet-"))
    tmp.mkdir(parents=True, exist_ok=True)
    inv = build_fleet(tmp, args.fleet, args.site_aps)
    store = SqliteStore(Path(inv.store.path), inv.store)  # a fresh heartbeat and poll: the daemon is running
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for b in batched(samples(inv, now - dt.timedelta(seconds=1), now, step=1), 50000):
        store.write(b)
    store.close()
    engine_states = AlertStore(Path(inv.store.path)).load_states()
    ctx = open_context(inv, None, states=lambda: dict(engine_states))
    if ctx.users.get("bench") is None:
        ctx.users.add("bench", PASSWORD, "viewer")
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
    srv.start()
    base = f"http://127.0.0.1:{srv.port}"
    c = login(base, timeout=120)
    status = c.get("/")
    assert status.status_code == 200, status.status_code
    site = c.get("/sites/big-site")
    assert site.status_code == 200 and site.text.count("data-device=") == args.site_aps
    gz = c.get("/", headers={"Accept-Encoding": "gzip"})
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "aps": args.fleet, "site_aps": args.site_aps,
        "status_rows_shown": status.text.count("data-device="),
        "baseline_healthz": timed(lambda: c.get("/healthz"), args.runs),
        "snapshot_in_process": timed(lambda: read_snapshot(inv, ctx.store, ctx.alerts, time.time(), "ja",
                                                           dict(engine_states), True), args.runs),
        "status_page": timed(lambda: c.get("/"), args.runs),
        "status_fragment": timed(lambda: c.get("/fragment/status"), args.runs),
        # every request builds the snapshot (as the first one after each half heartbeat does)
        "status_page_uncached": timed(lambda: (ctx._fleet.clear(), c.get("/")), args.runs),
        "status_page_bytes": {"html": len(status.content), "html_gzip_on_the_wire": gz.num_bytes_downloaded},
        "site_page_24h": timed(lambda: c.get("/sites/big-site"), args.runs),
        "site_page_uncached": timed(lambda: (ctx._fleet.clear(), c.get("/sites/big-site")), args.runs),
        "site_detail_24h_charts_and_timeline": timed(lambda: c.get("/sites/big-site/detail"), max(3, args.runs // 4)),
        "site_page_bytes": len(site.content),
    }
    ctx.states = None
    results["status_page_web_mode"] = timed(lambda: c.get("/"), args.runs)
    results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    srv.stop()
    print(json.dumps(results, indent=1, ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aps", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated store in this folder")
    ap.add_argument("--healthz-only", action="store_true", help="only /healthz on kept-alive and new connections")
    ap.add_argument("--fleet", type=int, help="状況 for this many APs and a --site-aps site page (fleet scale)")
    ap.add_argument("--site-aps", type=int, default=500)
    args = ap.parse_args()
    if args.fleet:
        fleet_scale(args)
        return
    if args.healthz_only:
        healthz_only(max(args.runs, 200))
        return
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-console-"))
    tmp.mkdir(parents=True, exist_ok=True)
    inv, first = build(tmp, args.aps, args.days)
    engine_states = AlertStore(Path(inv.store.path)).load_states()  # the daemon keeps these in memory
    ctx = open_context(inv, None, states=lambda: dict(engine_states))
    if ctx.users.get("bench") is None:
        ctx.users.add("bench", PASSWORD, "viewer")
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
    srv.start()
    base = f"http://127.0.0.1:{srv.port}"
    c = login(base)
    status = c.get("/")
    assert status.status_code == 200 and status.text.count("data-device=") == args.aps, status.status_code
    gz = c.get("/", headers={"Accept-Encoding": "gzip"})
    css = c.get("/static/console.css").content
    js = c.get("/static/console.js").content
    now = time.time()
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "aps": args.aps,
        "baseline_healthz": timed(lambda: c.get("/healthz"), args.runs),
        "healthz_requests_2_to_n": keepalive(base, max(args.runs, 100)),
        "status_page": timed(lambda: c.get("/"), args.runs),
        "status_fragment": timed(lambda: c.get("/fragment/status"), args.runs),
        "status_page_bytes": {"html": len(status.content), "css": len(css), "js": len(js),
                              "total": len(status.content) + len(css) + len(js),
                              "html_gzip_on_the_wire": gz.num_bytes_downloaded},
        "baseline_query_columns_30d": timed(lambda: ctx.history.query_columns(
            "ap_status", int((now - args.days * 86400) * 1e9), int(now * 1e9), {"ap": first}, ("clients",)),
            max(5, args.runs // 3)),
    }
    ctx.states = None  # `wifiwatch web`: the states are read from the store file at each request
    results["status_page_web_mode"] = timed(lambda: c.get("/"), args.runs)
    for metric in ("clients", "availability", "traffic", "rtt"):
        results[f"chart_30d_{metric}"] = timed(lambda m=metric: chart(ctx.history, m, {"ap": first}, "30d", now),
                                               max(5, args.runs // 3))
    results["ap_page_30d_all_charts"] = timed(lambda: c.get(f"/aps/{first}?range=30d"), max(5, args.runs // 3))
    results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    srv.stop()
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
