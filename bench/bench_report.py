"""Reports at fleet scale: the monthly report, the 年度 report and ``opendata export --usage`` for N APs with a month
of 1-minute data, from the embedded SQLite store and from influxd 1.6, each timed and its peak RSS measured.

    .venv/bin/python -m bench.bench_report --aps 1000 --check 8
    .venv/bin/python -m bench.bench_report --aps 10000 --sources sqlite --store /tmp/bench-10k.sqlite3

What is generated (deterministic, numpy): sites of 4 APs; every AP has one sample a minute through October 2026
(JST) of ``ap_ping`` (reachable, rtt_ms), ``ap_status`` (clients) and ``ap_traffic`` (rx_bps, tx_bps; none while
down), a daily client curve, one 30-minute outage, and every 25th AP above its capacity at the daily peak:
44,640 samples per AP and measurement, 133.9 M points for 1,000 APs.

- **InfluxDB** gets every point (line protocol POSTs of one AP's month each), then the hourly rollup its continuous
  queries keep (``InfluxQLReader.create_rollups``; here back-filled once with the same SELECT ... INTO, timed
  apart: in service that work is spread over the month's hours). The reports read the rollup measurements and
  aggregate in InfluxQL (``GROUP BY time(1h), *``) only the hours not rolled up; raw points cross the wire only
  within the hours a rollup shows a failed ping or a count above capacity.
- **SQLite** is written as the daemon leaves a month: its hourly rollup for every hour (what ``SqliteStore.rollup``
  computes, here computed by numpy and inserted directly), plus the raw rows of the hours the reports read raw
  (those whose rollup shows a failed ping or a client count above capacity). The other ~134 M raw rows are not
  written: no report reads them (reads go through the (series, time) index to the hours they need), and writing
  them takes about half an hour and 20 GB on this machine. ``--check N`` proves the shortcut: it writes N APs the
  ordinary way (``SqliteStore.write`` of every point, then ``rollup``) and asserts that all three reports' tables
  equal those from the directly written store.

Each report runs in a fresh Python process (``--one``), which prints its wall time and peak RSS (VmHWM), so one
report's memory is not hidden in another's; influxd's peak RSS (VmHWM) is read from /proc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from core.inventory import AccessPoint, Inventory, PlannerSettings, Site, StoreSettings

JST = dt.timezone(dt.timedelta(hours=9))
MONTH = "2026-10"
START = dt.datetime(2026, 10, 1, tzinfo=JST)
END = dt.datetime(2026, 11, 1, tzinfo=JST)
NOW = dt.datetime(2026, 11, 1, 9, tzinfo=JST)  # 集計時点: the morning after, as the daemon's job runs
FY = 2026
STEP = 60
HOUR_NS = 3_600_000_000_000
CAPACITY = 30  # per radio; x 2 radios = 60 clients


def inventory(n: int) -> Inventory:
    sites = []
    for s in range(math.ceil(n / 4)):
        aps = [AccessPoint(id=f"ap-{s:03d}-{k}", host=f"127.0.{s // 250}.{s % 250 + 1}", name_ja=f"AP {s}-{k}")
               for k in range(4) if s * 4 + k < n]
        sites.append(Site(id=f"site-{s:03d}", name_ja=f"拠点 {s}", name_en=f"Site {s}",
                          kind="tourist_spot" if s % 2 else "public_facility",
                          lat=35.96 + s * 0.001, lon=140.62 + s * 0.001, aps=aps))
    return Inventory(sites=sites, planner=PlannerSettings(capacity_per_radio=CAPACITY))


def series(i: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.int64],
                            npt.NDArray[np.float64]]:
    """AP number i: (times s, up, clients, rx_bps) at one sample a minute through the month."""
    t = np.arange(int(START.timestamp()), int(END.timestamp()), STEP, dtype=np.int64)
    out_at = t[0] + (i * 3541) % (29 * 86400)
    up = ~((t >= out_at) & (t < out_at + 1800))
    h = ((t / 3600) + 9) % 24
    base = 20 + (i * 7) % 30 + (40 if i % 25 == 0 else 0)  # every 25th AP peaks above 60
    clients = np.where(up & (h >= 6) & (h <= 21), (base * np.maximum(0.0, np.sin(np.pi * (h - 6) / 15))), 0)
    clients = clients.astype(np.int64)
    return t, up, clients, clients * 250e3


def tags_of(inv: Inventory) -> list[tuple[int, Site, AccessPoint]]:
    return [(i, s, ap) for i, (s, ap) in enumerate(inv.aps())]


# -- loading ------------------------------------------------------------------------------------------------
def load_influx(inv: Inventory, url: str, db: str) -> dict[str, float]:
    n = 0
    t0 = time.perf_counter()
    gen = 0.0
    with httpx.Client(timeout=600) as client:
        for i, s, ap in tags_of(inv):
            g = time.perf_counter()
            t, up, cl, rx = series(i)
            ns = (t * 10**9).astype(str)
            upv = np.where(up, "true", "false")
            rtt = np.where(up, "1.5", "0")
            lines = [f"ap_ping,ap={ap.id},role=ap,site={s.id} reachable={u},rtt_ms={r} {x}"
                     for u, r, x in zip(upv.tolist(), rtt.tolist(), ns.tolist(), strict=True)]
            lines += [f"ap_status,ap={ap.id},role=ap,site={s.id},vendor=generic clients={c}i {x}"
                      for c, x in zip(cl.tolist(), ns.tolist(), strict=True)]
            lines += [f"ap_traffic,ap={ap.id},interface=eth0,site={s.id} rx_bps={r!r},tx_bps={r * 0.2!r} {x}"
                      for r, x, u in zip(rx.tolist(), ns.tolist(), up.tolist(), strict=True) if u]
            body = "\n".join(lines).encode()
            gen += time.perf_counter() - g
            r = client.post(f"{url}/write", params={"db": db, "precision": "ns"}, content=body)
            r.raise_for_status()
            n += len(lines)
    return {"points": n, "wall_s": round(time.perf_counter() - t0, 1), "line_building_s": round(gen, 1)}


def _agg(hours: npt.NDArray[np.int64], v: npt.NDArray[np.float64]) -> tuple[Any, ...]:
    """Per hour: (hour ns, count, mean, min, max) as the rollup keeps them."""
    hs, first, cnt = np.unique(hours, return_index=True, return_counts=True)  # hours ascending
    return hs, cnt, np.add.reduceat(v, first) / cnt, np.minimum.reduceat(v, first), np.maximum.reduceat(v, first)


def load_sqlite_direct(inv: Inventory, path: Path) -> dict[str, float]:
    """The month as the daemon leaves it: rollup rows for every hour, raw rows where reports read raw."""
    from core.store.sqlite_store import SqliteStore

    t0 = time.perf_counter()
    store = SqliteStore(path, StoreSettings(min_free_mb=0))
    c = store._conn  # the bench writes the tables the store defines, in bulk
    rollup: list[tuple[int, int, str, int, float, float, float]] = []
    n_rollup = 0
    raw: list[tuple[int, int, str]] = []
    cap = CAPACITY * 2

    def sid(measurement: str, tags: dict[str, str]) -> int:
        key = (measurement, json.dumps(tags, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        c.execute("INSERT OR IGNORE INTO store_series (measurement, tags) VALUES (?, ?)", key)
        return int(c.execute("SELECT id FROM store_series WHERE measurement=? AND tags=?", key).fetchone()[0])

    with store._tx():  # one transaction (the store's connection is in autocommit mode)
        for i, s, ap in tags_of(inv):
            t, up, cl, rx = series(i)
            ns = t * 10**9
            hours = ns // HOUR_NS * HOUR_NS
            p_id = sid("ap_ping", {"ap": ap.id, "role": "ap", "site": s.id})
            s_id = sid("ap_status", {"ap": ap.id, "role": "ap", "site": s.id, "vendor": "generic"})
            t_id = sid("ap_traffic", {"ap": ap.id, "interface": "eth0", "site": s.id})
            for sid_, field, hh, v in ((p_id, "reachable", hours, up.astype(np.float64)),
                                       (p_id, "rtt_ms", hours, np.where(up, 1.5, 0.0)),
                                       (s_id, "clients", hours, cl.astype(np.float64)),
                                       (t_id, "rx_bps", hours[up], rx[up]),
                                       (t_id, "tx_bps", hours[up], rx[up] * 0.2)):
                hs, cnt, mean, mn, mx = _agg(hh, v)
                rollup += [(sid_, int(h), field, int(k), float(a), float(b), float(d))
                           for h, k, a, b, d in zip(hs, cnt, mean, mn, mx, strict=True)]
            if len(rollup) > 200_000:  # keep the loader's own memory small
                c.executemany("INSERT INTO store_rollup_hourly (series_id, hour_ns, field, count, mean, min, max) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)", rollup)
                n_rollup += len(rollup)
                rollup = []
            for k in np.flatnonzero(np.isin(hours, hours[~up])).tolist():
                raw.append((p_id, int(ns[k]), json.dumps({"reachable": bool(up[k]), "rtt_ms": 1.5 if up[k] else 0.0})))
            for k in np.flatnonzero(np.isin(hours, hours[cl > cap])).tolist():
                raw.append((s_id, int(ns[k]), json.dumps({"clients": int(cl[k])})))
        c.executemany("INSERT INTO store_rollup_hourly (series_id, hour_ns, field, count, mean, min, max) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", rollup)
        n_rollup += len(rollup)
        c.executemany("INSERT INTO store_points (series_id, time_ns, fields) VALUES (?, ?, ?)", raw)
        top = c.execute("SELECT COALESCE(MAX(id), 0) FROM store_points").fetchone()[0]
        c.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('rollup_row', ?)", (str(top),))
    store.close()
    return {"rollup_rows": n_rollup, "raw_rows": len(raw), "wall_s": round(time.perf_counter() - t0, 1),
            "bytes": sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))}


def load_sqlite_ordinary(inv: Inventory, path: Path) -> int:
    """Every point through ``SqliteStore.write``, then the rollup job: the way the daemon fills the store."""
    from core.schema import Point
    from core.store.sqlite_store import SqliteStore

    store = SqliteStore(path, StoreSettings(min_free_mb=0))
    n = 0
    for i, s, ap in tags_of(inv):
        t, up, cl, rx = series(i)
        pts: list[Point] = []
        for x, u, k, r in zip((t * 10**9).tolist(), up.tolist(), cl.tolist(), rx.tolist(), strict=True):
            pts.append(Point("ap_ping", {"ap": ap.id, "role": "ap", "site": s.id},
                             {"reachable": u, "rtt_ms": 1.5 if u else 0.0}, x))
            pts.append(Point("ap_status", {"ap": ap.id, "role": "ap", "site": s.id, "vendor": "generic"},
                             {"clients": k}, x))
            if u:
                pts.append(Point("ap_traffic", {"ap": ap.id, "interface": "eth0", "site": s.id},
                                 {"rx_bps": r, "tx_bps": r * 0.2}, x))
        store.write(pts)
        n += len(pts)
    store.rollup(int(NOW.timestamp() * 1e9))
    store.close()
    return n


# -- one report in its own process --------------------------------------------------------------------------
def reader_for(source: str, where: str) -> Any:
    if source == "influx":
        from core.store.influxql import InfluxQLReader

        url, db = where.rsplit("/", 1)
        return InfluxQLReader(url, db, timeout_s=600, chunk_size=50000)
    from core.store.sqlite_store import SqliteStore

    return SqliteStore(Path(where), StoreSettings(min_free_mb=0))


def run_one(kind: str, source: str, where: str, n: int, out: Path, pdf: bool) -> dict[str, Any]:
    inv = inventory(n)
    reader = reader_for(source, where)
    formats = ("html", "csv", "xlsx", "pdf") if pdf else ("html", "csv", "xlsx")
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = ru0.ru_utime + ru0.ru_stime
    t = time.perf_counter()
    if kind == "monthly":
        from analytics.monthly import write_monthly

        files = write_monthly(inv, reader, MONTH, out, "ja", now=NOW.timestamp(), formats=formats)
    elif kind == "fiscal":
        from analytics.fiscal import write_fiscal

        files = write_fiscal(inv, reader, FY, out, "ja", now=NOW.timestamp(), formats=formats)
    else:
        from analytics.opendata import USAGE_COLUMNS, to_csv, usage_export

        export = usage_export(inv, reader, [MONTH], now=NOW.timestamp())
        path = out / "usage.csv"
        out.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_csv(export.rows, USAGE_COLUMNS))
        files = [path]
    wall = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)  # this process's CPU: on a shared machine, steadier than wall time
    return {"kind": kind, "source": source, "aps": n, "wall_s": round(wall, 2),
            "cpu_s": round(ru.ru_utime + ru.ru_stime - cpu0, 2),
            # VmHWM: this process image's peak (ru_maxrss would carry the forking parent's, kept across execve)
            "max_rss_mb": vm_hwm_mb(os.getpid()),
            "files": [f.name for f in files]}


def tables(source: str, where: str, n: int) -> dict[str, Any]:
    """The tables of the three reports, for --check."""
    from analytics.monthly import month_period
    from analytics.opendata import usage_export
    from analytics.tables import availability_rows, capacity_rows, usage_rows

    inv = inventory(n)
    r = reader_for(source, where)
    p = month_period(MONTH, NOW.timestamp())
    return {"availability": availability_rows(inv, r, p), "usage": usage_rows(inv, r, p),
            "capacity": capacity_rows(inv, r, p), "opendata": usage_export(inv, r, [MONTH], now=NOW.timestamp()).rows}


def child(kind: str, source: str, where: str, n: int, out: Path, pdf: bool) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "bench.bench_report", "--one", kind, "--source", source, "--where",
                        where, "--aps", str(n), "--out", str(out)] + (["--pdf"] if pdf else []),
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{kind} from {source} failed: {r.stderr[-3000:]}")
    res: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return res


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def vm_hwm_mb(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aps", type=int, default=1000)
    ap.add_argument("--check", type=int, default=0, help="also prove the direct SQLite load on N APs")
    ap.add_argument("--sources", default="sqlite,influx")
    ap.add_argument("--pdf", action="store_true", help="also print each report to PDF (Chromium)")
    ap.add_argument("--one", choices=("monthly", "fiscal", "opendata"))
    ap.add_argument("--source")
    ap.add_argument("--where")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--store", type=Path, help="SQLite: load the store into this file and keep it, or reuse it if it "
                                               "exists (10,000 APs take minutes to load)")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(run_one(a.one, a.source, a.where, a.aps, a.out, a.pdf)))
        return
    from tests.fixtures_influx import InfluxServer

    sources = a.sources.split(",")
    result: dict[str, Any] = {"aps": a.aps, "month": MONTH, "machine": platform.platform(), "cpus": os.cpu_count(),
                              "python": platform.python_version(), "loadavg": {"start": loadavg()}}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as d:
        tmp = Path(d)
        inv = inventory(a.aps)
        server = None
        try:
            if a.check:
                small = inventory(a.check)
                load_sqlite_direct(small, tmp / "direct.sqlite3")
                n = load_sqlite_ordinary(small, tmp / "ordinary.sqlite3")
                same = tables("sqlite", str(tmp / "direct.sqlite3"), a.check) == \
                    tables("sqlite", str(tmp / "ordinary.sqlite3"), a.check)
                result["check"] = {"aps": a.check, "ordinary_points": n, "tables_equal": same}
                print(json.dumps(result["check"]), file=sys.stderr)
                if not same:
                    raise SystemExit("the direct SQLite load does not give the ordinary store's tables")
            runs = []
            if "sqlite" in sources:
                db = a.store or tmp / "bench.sqlite3"
                if a.store is not None and a.store.exists():
                    result["load_sqlite"] = {"reused": str(a.store), "bytes": a.store.stat().st_size}
                else:
                    result["load_sqlite"] = load_sqlite_direct(inv, db)
                print(json.dumps(result["load_sqlite"]), file=sys.stderr)
                result["loadavg"]["sqlite_loaded"] = loadavg()
                for kind in ("monthly", "fiscal", "opendata"):
                    runs.append(child(kind, "sqlite", str(db), a.aps, tmp / f"s-{kind}", a.pdf))
                    print(json.dumps(runs[-1]), file=sys.stderr)
            if "influx" in sources:
                (tmp / "influxd").mkdir()
                server = InfluxServer(tmp / "influxd")
                server.start()
                server.create_db("bench")
                result["load_influx"] = load_influx(inv, server.url, "bench")
                print(json.dumps(result["load_influx"]), file=sys.stderr)
                result["loadavg"]["influx_loaded"] = loadavg()
                from core.store.influxql import InfluxQLReader

                rq = InfluxQLReader(server.url, "bench", timeout_s=3600)
                t = time.perf_counter()
                rq.create_rollups()
                rq.backfill_rollups(int(START.timestamp() * 1e9), int(END.timestamp() * 1e9))
                result["influx_rollup_backfill_s"] = round(time.perf_counter() - t, 1)
                rq.close()
                print(json.dumps({"rollup_backfill_s": result["influx_rollup_backfill_s"]}), file=sys.stderr)
                result["loadavg"]["influx_rolled_up"] = loadavg()
                for kind in ("monthly", "fiscal", "opendata"):
                    runs.append(child(kind, "influx", f"{server.url}/bench", a.aps, tmp / f"i-{kind}", a.pdf))
                    print(json.dumps(runs[-1]), file=sys.stderr)
                assert server.proc is not None
                result["influxd_peak_rss_mb"] = vm_hwm_mb(server.proc.pid)
                result["influx_bytes"] = sum(p.stat().st_size for p in (tmp / "influxd").rglob("*") if p.is_file())
            result["runs"] = runs
            result["loadavg"]["end"] = loadavg()
        finally:
            if server is not None:
                server.stop()
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
