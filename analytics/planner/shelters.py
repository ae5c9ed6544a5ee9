"""Designated evacuation sites and shelters (指定緊急避難場所・指定避難所) from the national recommended open-data CSV.

The 自治体標準オープンデータセット files 指定緊急避難場所一覧 and 指定避難所一覧 share the columns this needs:
名称, 緯度, 経度, and for shelters 収容人数 (capacity). Columns are found by their header names, so either file
(or a city's variant with extra columns) reads; UTF-8 (with or without BOM) and Shift_JIS (cp932) are accepted.
Every bad row is reported as FILE:LINE: 列: reason; no row crashes the reader. Work is bounded (MAX_ROWS).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from analytics.planner.demand import DemandPoint, DemandWeights

MAX_ROWS = 100_000
MAX_BYTES = 50 * 1024 * 1024


class ShelterCsvError(Exception):
    """Bad rows in a shelter CSV; the message lists FILE:LINE: 列: reason for each."""


@dataclass(frozen=True)
class Shelter:
    name: str
    lat: float
    lon: float
    capacity: int | None  # 収容人数 (指定避難所); None for an evacuation site without one


def _text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ShelterCsvError(f"{path}:1: (file): larger than {MAX_BYTES // 2**20} MB")
        raw = path.read_bytes()
    except OSError as e:
        raise ShelterCsvError(f"{path}:1: (file): cannot read: {e.strerror or e}") from None
    for enc in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ShelterCsvError(f"{path}:1: (file): neither UTF-8 nor Shift_JIS")


def load_shelters(path: Path) -> list[Shelter]:
    rows = list(csv.reader(_text(path).splitlines()))
    if not rows:
        raise ShelterCsvError(f"{path}:1: (header): empty file")
    head = [h.strip() for h in rows[0]]

    def col(*names: str) -> int | None:
        for n in names:
            if n in head:
                return head.index(n)
        return None

    i_name, i_lat, i_lon = col("名称", "指定緊急避難場所_名称", "指定避難所_名称"), col("緯度"), col("経度")
    i_cap = col("収容人数", "想定収容人数")
    missing = [n for n, i in (("名称", i_name), ("緯度", i_lat), ("経度", i_lon)) if i is None]
    if missing:
        raise ShelterCsvError(f"{path}:1: (header): needs columns {', '.join(missing)} "
                              "(指定緊急避難場所一覧 / 指定避難所一覧 format)")
    assert i_name is not None and i_lat is not None and i_lon is not None
    out: list[Shelter] = []
    problems: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if line > MAX_ROWS + 1:
            problems.append(f"{path}:{line}: (file): more than {MAX_ROWS:,} rows; the rest is not read")
            break
        if not any(c.strip() for c in row):
            continue
        def cell(i: int | None, row: list[str] = row) -> str:
            return row[i].strip() if i is not None and i < len(row) else ""

        name = cell(i_name)
        vals: dict[str, float] = {}
        for label, i in (("緯度", i_lat), ("経度", i_lon)):
            try:
                v = float(cell(i))
                if not math.isfinite(v):
                    raise ValueError
                vals[label] = v
            except ValueError:
                problems.append(f"{path}:{line}: {label}: '{cell(i)[:40]}' is not a number")
        if not name:
            problems.append(f"{path}:{line}: 名称: empty")
        if len(vals) < 2 or not name:
            continue
        if not (20.0 <= vals["緯度"] <= 46.0 and 122.0 <= vals["経度"] <= 154.0):
            problems.append(f"{path}:{line}: 緯度/経度: ({vals['緯度']}, {vals['経度']}) is outside Japan")
            continue
        cap: int | None = None
        raw_cap = cell(i_cap).replace(",", "")
        if raw_cap:
            try:
                cap = int(float(raw_cap))
                if cap < 0:
                    raise ValueError
            except ValueError:
                problems.append(f"{path}:{line}: 収容人数: '{raw_cap[:40]}' is not a count")
                continue
        out.append(Shelter(name[:200], vals["緯度"], vals["経度"], cap))
    if problems:
        raise ShelterCsvError("\n".join(problems))
    return out


def shelter_demand(shelters: list[Shelter] | tuple[Shelter, ...], weights: DemandWeights,
                   must_cover: bool) -> list[DemandPoint]:
    """One demand point per shelter: capacity x weight (1 x weight without a capacity); must-cover if asked."""
    return [DemandPoint(s.lat, s.lon, (s.capacity if s.capacity else 1) * weights.shelter, f"shelter:{s.name}",
                        must=must_cover) for s in shelters]
