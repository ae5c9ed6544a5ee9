"""Residents by JIS X 0410 regional mesh, from an e-Stat census mesh CSV (国勢調査 地域メッシュ統計).

e-Stat's mesh tables (e.g. tblT001100H5340.txt for the 2020 census, 2分の1地域メッシュ) are CSV: a header
row of codes (KEY_CODE, HTKSYORI, HTKSAKI, GASSAN, T001100001, ...), a second row of labels (人口（総数）, ...),
then one row per mesh; concealed cells are "*" and empty ones "-" or blank. KEY_CODE is the mesh code (8 digits:
1 km, 9: 500 m, 10: 250 m) and ``jismesh`` turns it into the cell's corners. Rows that HTKSYORI marks as merged
into another mesh (秘匿処理 1: their people are counted in the mesh named by HTKSAKI, which carries 2) are skipped,
so nobody is counted twice. A cell's residents are spread evenly over a grid of points about GRID_M apart, so an
AP of 50 m reach covers the share of the cell it reaches. Shift_JIS (as e-Stat serves it) and UTF-8 both read; every bad
row is reported as FILE:LINE: 列: reason.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import jismesh.utils as ju
import numpy as np

from analytics.planner.demand import DemandPoint

GRID_M = 50.0
MAX_ROWS = 200_000
MAX_BYTES = 100 * 1024 * 1024
POP_LABELS = ("人口（総数）", "人口(総数)", "人口総数", "総数", "population")
CELL_M = {3: 1000.0, 4: 500.0, 5: 250.0, 6: 125.0}


class PopulationCsvError(Exception):
    """Bad rows in a population mesh CSV; the message lists FILE:LINE: 列: reason for each."""


def _read(path: Path) -> list[list[str]]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise PopulationCsvError(f"{path}:1: (file): larger than {MAX_BYTES // 2**20} MB")
        raw = path.read_bytes()
    except OSError as e:
        raise PopulationCsvError(f"{path}:1: (file): cannot read: {e.strerror or e}") from None
    for enc in ("utf-8-sig", "cp932"):
        try:
            return list(csv.reader(raw.decode(enc).splitlines()))
        except UnicodeDecodeError:
            continue
    raise PopulationCsvError(f"{path}:1: (file): neither UTF-8 nor Shift_JIS")


def load_population_mesh(path: Path, grid_m: float = GRID_M) -> list[DemandPoint]:
    """Residents as demand points (weight: people), spread over each mesh cell."""
    rows = _read(path)
    if not rows:
        raise PopulationCsvError(f"{path}:1: (header): empty file")
    head = [h.strip() for h in rows[0]]
    if "KEY_CODE" not in head:
        raise PopulationCsvError(f"{path}:1: KEY_CODE: no mesh-code column (e-Stat census mesh CSV expected)")
    i_key = head.index("KEY_CODE")
    labels = [h.strip() for h in rows[1]] if len(rows) > 1 else []
    i_pop = next((i for lab in POP_LABELS for i, h in enumerate(labels) if h == lab), None)
    start = 2
    if i_pop is None:  # no label row: a header named like a label, or the first T-code column
        i_pop = next((i for lab in POP_LABELS for i, h in enumerate(head) if h == lab), None)
        if i_pop is None:
            i_pop = next((i for i, h in enumerate(head) if h.startswith("T") and h[1:].isdigit()), None)
        start = 1 if not labels or labels[i_key].strip().isdigit() else 2
    if i_pop is None:
        raise PopulationCsvError(f"{path}:2: 人口（総数）: no population column")
    i_merge = head.index("HTKSYORI") if "HTKSYORI" in head else None
    problems: list[str] = []
    codes: list[int] = []
    people: list[float] = []
    for line, row in enumerate(rows[start:], start=start + 1):
        if line > MAX_ROWS + start:
            problems.append(f"{path}:{line}: (file): more than {MAX_ROWS:,} meshes; the rest is not read")
            break
        if not any(c.strip() for c in row):
            continue
        key = row[i_key].strip() if i_key < len(row) else ""
        if not (key.isdigit() and len(key) in (8, 9, 10, 11)):
            problems.append(f"{path}:{line}: KEY_CODE: '{key[:20]}' is not a JIS X 0410 mesh code")
            continue
        if i_merge is not None and i_merge < len(row) and row[i_merge].strip() == "1":
            continue  # merged into the mesh HTKSAKI names: counted there
        val = row[i_pop].strip().replace(",", "") if i_pop < len(row) else ""
        if val in ("", "-", "*", "X", "x"):
            continue  # none, or concealed (秘匿)
        try:
            n = float(val)
            if not math.isfinite(n) or n < 0:
                raise ValueError
        except ValueError:
            problems.append(f"{path}:{line}: 人口（総数）: '{val[:20]}' is not a count")
            continue
        try:
            ju.to_meshlevel(int(key))
        except (ValueError, KeyError):
            problems.append(f"{path}:{line}: KEY_CODE: '{key}' is not a JIS X 0410 mesh code")
            continue
        codes.append(int(key))
        people.append(n)
    if problems:
        raise PopulationCsvError("\n".join(problems))
    out: list[DemandPoint] = []
    for code, n in zip(codes, people, strict=True):
        if n <= 0:
            continue
        level = int(ju.to_meshlevel(code))
        k = max(1, int(round(CELL_M.get(level, 1000.0) / grid_m)))
        sw_lat, sw_lon = (float(v) for v in ju.to_meshpoint(code, 0.0, 0.0))
        ne_lat, ne_lon = (float(v) for v in ju.to_meshpoint(code, 1.0, 1.0))
        f = (np.arange(k) + 0.5) / k
        lats, lons = np.meshgrid(sw_lat + f * (ne_lat - sw_lat), sw_lon + f * (ne_lon - sw_lon), indexing="ij")
        w = n / (k * k)
        out += [DemandPoint(float(a), float(b), w, f"mesh:{code}") for a, b in zip(lats.ravel(), lons.ravel(),
                                                                                  strict=True)]
    return out
