"""``opendata import`` at scale: wall time and peak memory for N rows, against reading the same file with
``csv.reader`` alone (the floor: decoding and parsing, nothing kept).

    .venv/bin/python -m bench.bench_opendata_import --rows 300000 --repeat 1

Each run is a fresh ``python -m wifiwatch.cli opendata import FILE --out OUT`` process, so the peak RSS
(``ru_maxrss`` of the child) is the command's own. The file is the 18-column 公衆無線LANアクセスポイント一覧
as the exporter writes it (UTF-8 with a BOM, CRLF), every 50th name with a quoted line break and every 97th
row broken (no coordinates), so the problem list and normalisation are exercised too.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analytics.opendata import COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def make_csv(n: int) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for i in range(n):
        name = f"鹿嶋市公共施設{i}" + ("\n別館" if i % 50 == 0 else "")
        lat, lon = ("", "") if i % 97 == 0 else (f"{35.9 + (i % 1000) / 10000:.5f}", f"{140.6 + (i % 997) / 10000:.5f}")
        w.writerow(["082228", f"s{i:06d}", "茨城県", "鹿嶋市", name, f"カシマシコウキョウシセツ{i}",
                    f"Kashima facility {i}", f"茨城県鹿嶋市大町{i % 300}番地", "", lat, lon, "鹿嶋市",
                    "0299-82-2911", "", "Kashima_Free_Wi-Fi", "館内", "https://www.city.kashima.ibaraki.jp/", ""])
    return buf.getvalue().encode("utf-8-sig")


def _child(args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the maximum over all of them: run the floor first, the import last.
    return dt, max(peak, before) / 1024, r.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ww-bench-import-") as d:
        src = Path(d) / "sites.csv"
        src.write_bytes(make_csv(args.rows))
        out = Path(d) / "sites.toml"
        floor = [sys.executable, "-c", "import csv,io,sys; "
                 "sum(1 for _ in csv.reader(io.open(sys.argv[1], encoding='utf-8-sig', newline='')))", str(src)]
        cmd = [sys.executable, "-m", "wifiwatch.cli", "opendata", "import", str(src), "--out", str(out)]
        base = [_child(floor) for _ in range(args.repeat)]
        runs = [_child(cmd) for _ in range(args.repeat)]
        text = out.read_text(encoding="utf-8")
        result = {
            "rows": args.rows, "file_mb": round(src.stat().st_size / 2**20, 1),
            "import_s": round(statistics.median(r[0] for r in runs), 2),
            "import_peak_mb": round(max(r[1] for r in runs)),
            "exit_code": runs[-1][2],
            "sites_written": text.count("[[sites]]"),
            "floor_csv_reader_s": round(statistics.median(b[0] for b in base), 2),
            "floor_peak_mb": round(max(b[1] for b in base)),
            "ratio_import_to_floor": round(statistics.median(r[0] for r in runs)
                                           / statistics.median(b[0] for b in base), 1),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
            "load": os.getloadavg(),
        }
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
