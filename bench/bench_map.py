"""地図 in the console: ``GET /map`` (the page) and ``GET /map/view`` (the folium map with live states, the
default plan, 30-day availability and usage heat) for the Kashima sample over 30 days of simulated history,
and for a fleet of ``--aps`` APs, with ``/healthz`` in the same run as the baseline (issue 27 point 8: < 500 ms).

    python -m bench.bench_map --runs 20 [--aps 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from analytics.synthetic import synthetic_history
from bench.bench_console import PASSWORD, inventory, login, samples, timed
from collector.http import StatusServer
from console.app import create_app
from console.context import open_context
from core.config import load_config
from core.inventory import Inventory, StoreSettings
from core.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent


def _store(inv: Inventory, days: int, synthetic: bool) -> None:
    store = SqliteStore(Path(inv.store.path), inv.store)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = now - dt.timedelta(days=days)
    points = synthetic_history(inv, start, now, seed=7, step_s=300) if synthetic else samples(inv, start, now, 300)
    batch: list[Any] = []
    for p in points:
        batch.append(p)
        if len(batch) >= 50000:
            store.write(batch)
            batch = []
    store.write(batch)
    store.rollup(time.time_ns())
    store.close()


def measure(inv: Inventory, runs: int) -> dict[str, Any]:
    ctx = open_context(inv, None)
    if ctx.users.get("bench") is None:
        ctx.users.add("bench", PASSWORD, "viewer")
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
    srv.start()
    try:
        c = login(f"http://127.0.0.1:{srv.port}", timeout=120)
        t0 = time.perf_counter()
        first = c.get("/map/view")
        first_ms = (time.perf_counter() - t0) * 1000
        assert first.status_code == 200 and "ww-ap" in first.text
        return {"aps": len(inv.aps()), "healthz_baseline": timed(lambda: c.get("/healthz"), runs),
                "map_page": timed(lambda: c.get("/map"), runs),
                "map_view_first_after_start_ms": round(first_ms, 1),
                "map_view": timed(lambda: c.get("/map/view"), runs),
                "map_view_bytes": len(first.content), "heat_points": first.text.count("heatLayer") and
                len(ctx.map_figures()["heat"])}
    finally:
        srv.stop()
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--aps", type=int, default=0, help="also a fleet of this many APs (4 per site)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-map-"))
    out: dict[str, Any] = {"machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python "
                                      f"{platform.python_version()}",
                           "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
    kashima = load_config(ROOT / "config" / "sites.toml").model_copy(update={"store": StoreSettings(
        path=str(tmp / "kashima.sqlite3"), min_free_mb=0)})
    _store(kashima, args.days, synthetic=True)
    out["kashima"] = measure(kashima, args.runs)
    if args.aps:
        fleet = inventory(args.aps).model_copy(update={"store": StoreSettings(path=str(tmp / "fleet.sqlite3"),
                                                                              min_free_mb=0)})
        _store(fleet, 2, synthetic=False)
        out["fleet"] = measure(fleet, max(3, args.runs // 4))
    out["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
