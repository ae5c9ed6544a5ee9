"""``opendata import`` at scale: wall time, CPU time and peak memory for N rows, against reading the same
file with ``csv.reader`` alone (the floor: decoding and parsing, nothing kept).

    .venv/bin/python -m bench.bench_opendata_import --rows 300000 --shape narrow
    .venv/bin/python -m bench.bench_opendata_import --rows 300000 --shape full

Each run is a fresh ``python -m wifiwatch.cli opendata import FILE --out OUT`` process that reports its own
peak RSS and CPU seconds at exit (a forked child would otherwise start with the parent's RSS). ``narrow``
has the columns the importer needs (NO, 名称, 緯度, 経度; about 50 bytes a row), ``full`` the 18 published
columns as the exporter writes them (about 270 bytes a row). Every 50th name holds a quoted line break and
every 97th row has no coordinates, so normalising and the problem list are exercised too. On a shared
machine wall time follows the load; CPU time is the figure to compare.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analytics.opendata import COLUMNS

ROOT = Path(__file__).resolve().parent.parent


NARROW = ("NO", "名称", "緯度", "経度")  # the importer's minimum: about 29 bytes a row, like the 8.7 MB file


def write_csv(path: Path, n: int, shape: str) -> None:
    """``n`` rows, written as they are made (the parent stays small: a forked child starts with its RSS)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(COLUMNS if shape == "full" else NARROW)
        for i in range(n):
            name = f"鹿嶋市公共施設{i}" + ("\n別館" if i % 50 == 0 else "")
            lat, lon = ("", "") if i % 97 == 0 else (f"{35.9 + (i % 1000) / 10000:.4f}",
                                                     f"{140.6 + (i % 997) / 10000:.4f}")
            if shape == "full":
                w.writerow(["082228", f"s{i:06d}", "茨城県", "鹿嶋市", name, f"カシマシコウキョウシセツ{i}",
                            f"Kashima facility {i}", f"茨城県鹿嶋市大町{i % 300}番地", "", lat, lon, "鹿嶋市",
                            "0299-82-2911", "", "Kashima_Free_Wi-Fi", "館内", "https://www.city.kashima.ibaraki.jp/",
                            ""])
            else:
                w.writerow([f"s{i}", name, lat, lon])


# Runs the module in a child and writes that child's own peak RSS (KB) and CPU seconds to a file at exit.
_WRAP = ("import atexit, json, resource, runpy, sys\n"
         "def report():\n"
         "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
         "    open(out, 'w').write(json.dumps([r.ru_maxrss, r.ru_utime + r.ru_stime]))\n"
         "atexit.register(report)\n"
         "out, mod = sys.argv[1], sys.argv[2]\n"
         "sys.argv = [mod] + sys.argv[3:]\n"
         "if mod.endswith('.py'):\n"
         "    runpy.run_path(mod, run_name='__main__')\n"
         "else:\n"
         "    runpy.run_module(mod, run_name='__main__', alter_sys=True)\n")
_FLOOR = ("import csv, io, sys\n"
          "n = sum(1 for _ in csv.reader(io.open(sys.argv[1], encoding='utf-8-sig', newline='')))\n")


def _child(tmp: Path, module_args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak MB, CPU seconds) of one child process."""
    report = tmp / "rusage.json"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WRAP, str(report), *module_args], cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    rss_kb, cpu = json.loads(report.read_text())
    return wall, rss_kb / 1024, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--shape", choices=("narrow", "full"), default="narrow",
                    help="narrow: NO,名称,緯度,経度; full: the 18 published columns")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ww-bench-import-") as d:
        tmp = Path(d)
        src = tmp / "sites.csv"
        write_csv(src, args.rows, args.shape)
        (tmp / "floor.py").write_text(_FLOOR)
        out = tmp / "sites.toml"
        base = [_child(tmp, [str(tmp / "floor.py"), str(src)]) for _ in range(args.repeat)]
        runs = [_child(tmp, ["wifiwatch.cli", "opendata", "import", str(src), "--out", str(out)])
                for _ in range(args.repeat)]
        sites = out.read_text(encoding="utf-8").count("[[sites]]")
        med = statistics.median
        result = {
            "rows": args.rows, "shape": args.shape, "file_mb": round(src.stat().st_size / 2**20, 1),
            "sites_written": sites,
            "import_wall_s": round(med(r[0] for r in runs), 2), "import_cpu_s": round(med(r[2] for r in runs), 2),
            "import_peak_mb": round(max(r[1] for r in runs)),
            "floor_wall_s": round(med(b[0] for b in base), 2), "floor_cpu_s": round(med(b[2] for b in base), 2),
            "floor_peak_mb": round(max(b[1] for b in base)),
            "ratio_cpu_import_to_floor": round(med(r[2] for r in runs) / med(b[2] for b in base), 1),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
            "load_1_5_15": [round(x, 1) for x in os.getloadavg()],
        }
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
