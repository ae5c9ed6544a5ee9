"""Store benchmark: points/s into SQLite and forwarded to a real influxd 1.6, against a plain batched POST.

    .venv/bin/python -m bench.bench_store --points 200000 --batch 5000 --repeat 3

Three measurements on the same generated points (ap_status-shaped: 4 tags, 8 fields, 1,000 series):
- ``sqlite_write``: SqliteStore.write in daemon-sized batches (one transaction per batch; WAL, NORMAL).
- ``forward``: Forwarder.drain from that store to influxd 1.6 (read rows after the cursor, build line
  protocol, POST, persist the cursor), ``--batch`` lines per request.
- ``baseline_post``: the same lines, pre-built, POSTed with httpx in ``--batch``-line requests to a fresh
  database on the same server: the floor our forwarding overhead is measured against (ratio = forward/baseline).
The median of ``--repeat`` runs is reported; influxd is started by this script on loopback in a tmp dir.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from core.inventory import StoreSettings
from core.schema import Point
from core.store.forwarder import Forwarder
from core.store.influx_v1 import InfluxV1Sink
from core.store.sqlite_store import SqliteStore
from tests.fixtures_influx import InfluxServer

T0 = 1_760_000_000 * 10**9


def make_points(n: int) -> list[Point]:
    return [
        Point("ap_status", {"site": f"site-{i % 50}", "ap": f"ap-{i % 1000}", "vendor": "generic", "role": "ap"},
              {"reachable": True, "snmp_ok": True, "rtt_ms": 1.25 + i % 7, "loss_pct": 0.0, "uptime_s": 10**6 + i,
               "clients": i % 40, "poll_ms": 12.5, "error": ""}, T0 + (i // 1000) * 60 * 10**9 + i % 1000)
        for i in range(n)
    ]


def run_once(server: InfluxServer, points: list[Point], batch: int, write_batch: int, tmp: Path, k: int) -> dict:
    store = SqliteStore(tmp / f"bench{k}.sqlite3", StoreSettings(min_free_mb=0))
    t = time.perf_counter()
    for i in range(0, len(points), write_batch):
        store.write(points[i:i + write_batch])
    w = time.perf_counter() - t

    db = f"bench_fwd_{k}"
    server.create_db(db)
    sink = InfluxV1Sink(server.url, db, timeout_s=60)
    t = time.perf_counter()
    r = Forwarder(store, sink, batch_size=batch).drain()
    f = time.perf_counter() - t
    assert r.error is None and r.sent == len(points), r
    sink.close()
    store.close()

    lines = [p.to_line() for p in points]
    base_db = f"bench_base_{k}"
    server.create_db(base_db)
    with httpx.Client(timeout=60) as c:
        t = time.perf_counter()
        for i in range(0, len(lines), batch):
            resp = c.post(f"{server.url}/write", params={"db": base_db, "precision": "ns"},
                          content="\n".join(lines[i:i + batch]).encode())
            resp.raise_for_status()
        b = time.perf_counter() - t
    n = len(points)
    assert server.count(db, "ap_status", "clients") == n == server.count(base_db, "ap_status", "clients")
    return {"sqlite_write": n / w, "forward": n / f, "baseline_post": n / b}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5000, help="lines per InfluxDB request")
    ap.add_argument("--write-batch", type=int, default=500, help="points per SqliteStore.write")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    points = make_points(a.points)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "influxd").mkdir()
        server = InfluxServer(tmp / "influxd")
        server.start()
        try:
            runs = [run_once(server, points, a.batch, a.write_batch, tmp, k) for k in range(a.repeat)]
        finally:
            server.stop()
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    out = {
        "points": a.points, "batch": a.batch, "write_batch": a.write_batch, "repeat": a.repeat,
        "points_per_s": {k: round(v) for k, v in med.items()},
        "forward_vs_baseline": round(med["forward"] / med["baseline_post"], 3),
        "python": platform.python_version(), "machine": platform.platform(),
    }
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
