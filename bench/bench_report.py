"""Monthly report benchmark: time to compute ``write_monthly`` from the embedded SQLite store and from influxd 1.6.

    .venv/bin/python -m bench.bench_report --aps 4,8,16 --year

What is generated (deterministic): APs of 4 per site; every AP gets one sample a minute of ``ap_ping``
(reachable, rtt_ms, loss_pct, method), ``ap_status`` (7 fields incl. clients) and ``ap_traffic`` (5 fields incl.
rx_bps/tx_bps) with a daily client curve and one 30-minute outage a month. The report for October 2026 reads
October plus the 31 days before it (the usage comparison), so those two months are written at full 1-minute
resolution for the largest N, into one SQLite store (through ``SqliteStore.write``) and one influxd database
(line protocol POSTs); each N then reports over its first N APs.

``--year`` adds the rest of the year for the smallest N (2025-11-01 .. 2026-08-27) the way each store would
hold it: SQLite as hourly rollups (raw rows past ``raw_retention_days`` are pruned; written as hourly raw
points, rolled up, then pruned), influxd as raw 1-minute points (no downsampling is set up), and times the
report again. The time of each report is split into the time inside the reader's reads (``query_columns``, ``query``,
``pruned_hours``) and the rest; ``--profile`` prints cProfile's top functions for the smallest N.
200 APs are not generated here (the machine is shared; see docs/benchmarks/report.md): the per-AP cost is
fitted over the N measured and extrapolated, and printed as an extrapolation.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import math
import platform
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from analytics.monthly import write_monthly
from core.inventory import AccessPoint, Inventory, Site, StoreSettings
from core.schema import Point
from core.store.columns import Columns
from core.store.influxql import InfluxQLReader
from core.store.sqlite_store import SqliteStore
from tests.fixtures_influx import InfluxServer

JST = dt.timezone(dt.timedelta(hours=9))
MONTH = "2026-10"
DATA_START = dt.datetime(2026, 8, 31, tzinfo=JST)  # 31 days before October, as usage_rows compares
DATA_END = dt.datetime(2026, 11, 1, tzinfo=JST)
YEAR_START = dt.datetime(2025, 11, 1, tzinfo=JST)
YEAR_END = dt.datetime(2026, 8, 27, 9, tzinfo=JST)  # what raw_retention_days=35 prunes on 2026-10-01 09:00
STEP = 60


def inventory(n: int) -> Inventory:
    sites = []
    for s in range(math.ceil(n / 4)):
        aps = [AccessPoint(id=f"ap-{s:03d}-{k}", host=f"127.0.{s // 250}.{s % 250 + 1}", name_ja=f"AP {s}-{k}")
               for k in range(4) if s * 4 + k < n]
        sites.append(Site(id=f"site-{s:03d}", name_ja=f"拠点 {s}", name_en=f"Site {s}",
                          kind="tourist_spot" if s % 2 else "public_facility",
                          lat=35.96 + s * 0.001, lon=140.62 + s * 0.001, aps=aps))
    return Inventory(sites=sites)


def samples(inv: Inventory, start: dt.datetime, end: dt.datetime, step: int = STEP) -> Iterator[Point]:
    """One ping, status and traffic point per AP and step; a 30-minute outage per AP and month."""
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    for i, (site, ap) in enumerate(inv.aps()):
        base = 20 + (i * 7) % 30
        ping_tags = {"site": site.id, "ap": ap.id, "role": "ap"}
        st_tags = {"site": site.id, "ap": ap.id, "vendor": "generic", "role": "ap"}
        tr_tags = {"site": site.id, "ap": ap.id, "interface": "eth0"}
        for t in range(t0 - t0 % step, t1, step):
            day = t // 86400
            out_at = (day // 30) * 30 * 86400 + (i * 3541) % (29 * 86400)
            up = not (out_at <= t < out_at + 1800)
            h = ((t / 3600) + 9) % 24
            clients = int(base * max(0.0, math.sin(math.pi * (h - 6) / 15))) if up and 6 <= h <= 21 else 0
            ns = t * 10**9
            yield Point("ap_ping", ping_tags, {"reachable": up, "rtt_ms": 1.5 if up else 0.0,
                                               "loss_pct": 0.0 if up else 100.0, "method": "icmp"}, ns)
            yield Point("ap_status", st_tags, {"reachable": up, "snmp_ok": up, "rtt_ms": 1.5, "loss_pct": 0.0,
                                               "uptime_s": t % 10**6, "clients": clients, "poll_ms": 12.0}, ns)
            if up:
                rx = clients * 250e3
                yield Point("ap_traffic", tr_tags, {"rx_bps": rx, "tx_bps": rx * 0.2, "rx_bytes": t * 1000,
                                                    "tx_bytes": t * 200, "oper_up": True}, ns)


def batched(it: Iterator[Point], n: int) -> Iterator[list[Point]]:
    batch: list[Point] = []
    for p in it:
        batch.append(p)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def load(store: SqliteStore, client: httpx.Client, url: str, db: str, points: Iterator[Point]) -> dict[str, float]:
    n, ts, ti = 0, 0.0, 0.0
    for b in batched(points, 5000):
        t = time.perf_counter()
        store.write(b)
        ts += time.perf_counter() - t
        t = time.perf_counter()
        r = client.post(f"{url}/write", params={"db": db, "precision": "ns"},
                        content="\n".join(p.to_line() for p in b).encode())
        r.raise_for_status()
        ti += time.perf_counter() - t
        n += len(b)
    return {"points": n, "sqlite_s": round(ts, 1), "influx_s": round(ti, 1)}


class Timed:
    """A reader that adds up the time and rows spent inside its reads (``query``, ``query_columns`` and, for the
    embedded store, ``pruned_hours``), passing each to the reader underneath."""

    def __init__(self, reader: Any):
        self.reader, self.seconds, self.rows, self.calls = reader, 0.0, 0, 0

    def query(self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None) -> list[Point]:
        t = time.perf_counter()
        out: list[Point] = self.reader.query(measurement, start_ns, end_ns, tags)
        self._count(t, len(out))
        return out

    def query_columns(self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
                      fields: Sequence[str] = ()) -> list[Columns]:
        t = time.perf_counter()
        out: list[Columns] = self.reader.query_columns(measurement, start_ns, end_ns, tags, fields)
        self._count(t, sum(len(c.time_ns) for c in out))
        return out

    def pruned_hours(self, measurement: str, field: str, start_ns: int, end_ns: int,
                     tags: Mapping[str, str] | None = None) -> list[Columns]:
        if not hasattr(self.reader, "pruned_hours"):
            return []  # InfluxDB: raw points are kept, nothing to fill in
        t = time.perf_counter()
        out: list[Columns] = self.reader.pruned_hours(measurement, field, start_ns, end_ns, tags)
        self._count(t, sum(len(c.time_ns) for c in out))
        return out

    def _count(self, t: float, rows: int) -> None:
        self.seconds += time.perf_counter() - t
        self.rows += rows
        self.calls += 1


def report(inv: Inventory, reader: Any, out: Path, profile: bool = False) -> dict[str, Any]:
    timed = Timed(reader)
    prof = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if prof:
        prof.enable()
    write_monthly(inv, timed, MONTH, out)
    if prof:
        prof.disable()
    total = time.perf_counter() - t
    if prof:
        print(f"--- cProfile of the report from {type(reader).__name__}, N = {len(list(inv.aps()))}", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(12)
    return {"report_s": round(total, 2), "in_query_s": round(timed.seconds, 2),
            "analytics_s": round(total - timed.seconds, 2), "queries": timed.calls, "rows_read": timed.rows}


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares seconds = a + b * N."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else my / mx
    return my - b * mx, b


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aps", default="4,8,16", help="comma-separated N to report over (data for the largest)")
    ap.add_argument("--year", action="store_true", help="also load the rest of the year and report again")
    ap.add_argument("--target", type=int, default=200, help="N to extrapolate to")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the smallest N's reports (stderr); its times then include the profiler's overhead")
    a = ap.parse_args()
    ns = sorted({int(x) for x in a.aps.split(",")})
    big = inventory(ns[-1])
    result: dict[str, Any] = {"month": MONTH, "aps": ns, "step_s": STEP, "loadavg": [loadavg()],
                              "python": platform.python_version(), "machine": platform.platform()}
    with tempfile.TemporaryDirectory() as d, httpx.Client(timeout=120) as client:
        tmp = Path(d)
        (tmp / "influxd").mkdir()
        server = InfluxServer(tmp / "influxd")
        server.start()
        store = SqliteStore(tmp / "bench.sqlite3", StoreSettings(min_free_mb=0, raw_retention_days=35))
        try:
            server.create_db("bench")
            t = time.perf_counter()
            result["load_two_months"] = load(store, client, server.url, "bench", samples(big, DATA_START, DATA_END))
            result["load_two_months"]["wall_s"] = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            store.rollup(time.time_ns())  # what the hourly job has done by the 1st
            result["load_two_months"]["sqlite_rollup_s"] = round(time.perf_counter() - t, 1)
            result["loadavg"].append(loadavg())
            influx = InfluxQLReader(server.url, "bench", timeout_s=600)
            rows = []
            for n in ns:
                inv = inventory(n)
                prof = a.profile and n == ns[0]
                s = report(inv, store, tmp / f"sqlite-{n}", prof)
                i = report(inv, influx, tmp / f"influx-{n}", prof)
                rows.append({"aps": n, "sqlite": s, "influx": i,
                             "influx_vs_sqlite": round(i["report_s"] / s["report_s"], 2)})
                print(json.dumps(rows[-1]), file=sys.stderr)
            result["loadavg"].append(loadavg())
            result["two_months"] = rows
            ext = {}
            for key in ("sqlite", "influx"):
                a0, b0 = fit([(r["aps"], r[key]["report_s"]) for r in rows])
                ext[key] = {"fixed_s": round(a0, 2), "per_ap_s": round(b0, 3),
                            f"extrapolated_{a.target}_aps_s": round(a0 + b0 * a.target, 1)}
            result["extrapolation_linear_fit"] = ext
            if a.year:
                t = time.perf_counter()
                # SQLite keeps the rest of the year as hourly rollups: write it hourly, roll up, prune the raw rows.
                small = inventory(ns[0])
                hourly = samples(small, YEAR_START, YEAR_END, step=3600)
                for b in batched(hourly, 5000):
                    store.write(b)
                store.rollup(time.time_ns())
                pruned = store.prune(int(dt.datetime(2026, 10, 1, 9, tzinfo=JST).timestamp() * 1e9))
                sq_s = time.perf_counter() - t
                t = time.perf_counter()
                n_year = 0
                for b in batched(samples(small, YEAR_START, YEAR_END), 5000):
                    r = client.post(f"{server.url}/write", params={"db": "bench", "precision": "ns"},
                                    content="\n".join(p.to_line() for p in b).encode())
                    r.raise_for_status()
                    n_year += len(b)
                result["load_rest_of_year"] = {"sqlite_rollup_rows_s": round(sq_s, 1), "sqlite_pruned": pruned,
                                               "influx_raw_points": n_year,
                                               "influx_s": round(time.perf_counter() - t, 1)}
                result["loadavg"].append(loadavg())
                s = report(small, store, tmp / "sqlite-year")
                i = report(small, influx, tmp / "influx-year")
                result["with_rest_of_year"] = {"aps": ns[0], "sqlite": s, "influx": i,
                                               "influx_vs_sqlite": round(i["report_s"] / s["report_s"], 2)}
                result["loadavg"].append(loadavg())
            result["store_bytes"] = sum(p.stat().st_size for p in tmp.glob("bench.sqlite3*"))
            result["influx_bytes"] = sum(p.stat().st_size for p in (tmp / "influxd").rglob("*") if p.is_file())
            influx.close()
        finally:
            store.close()
            server.stop()
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
