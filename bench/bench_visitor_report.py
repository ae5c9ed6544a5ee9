"""A month's visitor report for 1,000 APs: wall time, CPU time and peak memory (issue 24 point 6, figures half).

    .venv/bin/python -m bench.bench_visitor_report [--aps 1000] [--sites 250] [--sessions-per-ap-day 100]

Sessions for one JST month are generated into a real store file (core.visitors.store.VisitorStore.add_many):
``--aps`` APs in ``--sites`` sites, ``--sessions-per-ap-day`` sessions per AP and day from a population where a
device makes ~2.5 sessions a day at nearby APs (so flows exist), 30 % randomised, a language on half, a 30-day
hash on all (returning on). Then each measured step runs in a fresh child process that reports its own CPU
seconds and peak RSS (VmHWM):

- ``floor``: only stream the month's sessions out of the store (``iter_sessions``): the cost of reading.
- ``report``: ``wifiwatch report visitors --from M --to M+1 --by day --format json`` as a user runs it (read,
  count into the cube with hours, suppress, rows, JSON), output to /dev/null.

Goal: the report under 30 s; memory bounded by one day's sessions plus the count arrays, not the month.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MONTH = dt.date(2026, 11, 1)


def config(n_aps: int, n_sites: int, store: Path) -> str:
    out = ['city_ja = "ベンチ市"', 'city_en = "Bench City"', "[store]", f'path = "{store}"', "[visitors]",
           "returning = true", "[snmp]", 'version = "2c"', 'community = "env:C"']
    kinds = ("tourist_spot", "public_facility", "station", "park", "commercial")
    per = max(1, n_aps // n_sites)
    for s in range(n_sites):
        lat, lon = 35.9 + (s % 20) * 0.004, 140.6 + (s // 20) * 0.004
        out += ["[[sites]]", f'id = "s{s}"', f'name_ja = "拠点{s}"', f'name_en = "Site {s}"',
                f'kind = "{kinds[s % len(kinds)]}"', f"lat = {lat:.4f}", f"lon = {lon:.4f}"]
        for a in range(per):
            i = s * per + a
            if i >= n_aps:
                break
            out += ["[[sites.aps]]", f'id = "ap{i}"', f'host = "127.1.{i // 250}.{i % 250 + 1}"',
                    'vendor = "generic"']
    return "\n".join(out) + "\n"


def generate(store: Path, n_aps: int, n_sites: int, per_ap_day: int, seed: int = 7) -> int:
    from analytics.visitors.cube import day_start
    from core.visitors.model import VisitorSession
    from core.visitors.store import VisitorStore

    rnd = random.Random(seed)
    per = max(1, n_aps // n_sites)
    st = VisitorStore(store)
    n = 0
    langs = ["ja", "en", "zh-TW", "zh-CN", "ko"]
    try:
        for day in range(30):
            t0 = day_start(MONTH + dt.timedelta(days=day))
            sessions = n_aps * per_ap_day
            devices = int(sessions / 2.5)
            batch = []
            for p in range(devices):
                site = rnd.randrange(n_sites)
                dev = hashlib.sha256(f"{day}:{p}".encode()).hexdigest()
                dev30 = hashlib.sha256(f"30:{p % (devices * 2)}".encode()).hexdigest()
                lang = rnd.choice(langs) if rnd.random() < 0.5 else None
                randomized = rnd.random() < 0.3
                t = t0 + rnd.uniform(7, 21) * 3600
                for _ in range(1 + (rnd.random() < 0.75) + (rnd.random() < 0.75)):
                    ap = site * per + rnd.randrange(per)
                    dwell = rnd.expovariate(1 / 900)
                    batch.append((VisitorSession(f"ap{min(ap, n_aps - 1)}", f"s{site}", dev, dev30, t, t + dwell,
                                                 "sim", lang, randomized), None))
                    t += dwell + rnd.uniform(60, 3600)
                    if rnd.random() < 0.3:
                        site = (site + 1) % n_sites
            batch.sort(key=lambda x: x[0].start)
            n += st.add_many(batch)
    finally:
        st.close()
    return n


CHILD = r"""
import json, os, resource, sys, time
step, cfg = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
if step == "floor":
    from core.config import load_config
    from core.visitors.store import VisitorStore
    from analytics.visitors.cube import day_start
    import datetime as dt
    inv = load_config(cfg)
    st = VisitorStore(inv.store.path)
    n = sum(1 for _ in st.iter_sessions(day_start(dt.date(2026, 10, 2)), day_start(dt.date(2026, 12, 1))))
    st.close()
else:
    from typer.testing import CliRunner
    from wifiwatch.cli import app
    r = CliRunner().invoke(app, ["report", "visitors", "--from", "2026-11-01", "--to", "2026-12-01", "--by", "day",
                                 "--format", "json", "--config", cfg])
    assert r.exit_code == 0, r.output[-2000:]
    n = len(json.loads(r.stdout))
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"step": step, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "peak_rss_mb": hwm / 1024, "n": n}))
"""


def run(step: str, cfg: Path) -> dict[str, float]:
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-c", CHILD, step, str(cfg)], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aps", type=int, default=1000)
    ap.add_argument("--sites", type=int, default=250)
    ap.add_argument("--sessions-per-ap-day", type=int, default=100)
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated store in this folder")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-visitor-report-"))
    tmp.mkdir(parents=True, exist_ok=True)
    store = tmp / "w.sqlite3"
    cfg = tmp / "sites.toml"
    cfg.write_text(config(args.aps, args.sites, store), encoding="utf-8")
    if not store.exists():
        t = time.perf_counter()
        n = generate(store, args.aps, args.sites, args.sessions_per_ap_day)
        print(f"generated {n:,} sessions in {time.perf_counter() - t:.0f} s ({store.stat().st_size / 1e6:.0f} MB)")
    print("load:", os.getloadavg())
    for step in ("floor", "report"):
        r = run(step, cfg)
        print(f"{step:7s} wall {r['wall_s']:6.1f} s  cpu {r['cpu_s']:6.1f} s  peak RSS {r['peak_rss_mb']:6.0f} MB"
              f"  ({r['n']:,} {'sessions' if step == 'floor' else 'rows'})")
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
