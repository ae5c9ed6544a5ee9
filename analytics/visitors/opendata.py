"""Visitor open data in Fukuoka City's form: logins (認証回数, sessions started) and unique devices per spot
(site) per hour, one JST month per file; cells of fewer than ``[visitors] k_min`` devices are ``<k`` (the cube's
suppression, which also hides the hours that would give a hidden one away from the day's total in the reports).

No personal data: no device, hash, AP address or anything below a site and an hour leaves in this file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from analytics.visitors.cube import Cube
from analytics.visitors.rows import WEEKDAYS, figure_rows
from core.inventory import Inventory

COLUMNS = ("全国地方公共団体コード", "年月日", "曜日", "時", "NO", "名称", "名称_英語", "緯度", "経度", "認証回数",
           "利用端末数", "備考")
SIMULATED_REMARK = "模擬データ（実測ではありません）"


class SimulatedVisitors(Exception):
    """The month's sessions include simulated ones and they were not explicitly allowed."""


def hourly_rows(inv: Inventory, cube: Cube, start: dt.date, end: dt.date,
                allow_simulated: bool = False) -> list[dict[str, Any]]:
    """One row per site and hour with at least one session in [start, end); hidden counts are ``<k``."""
    sites = {s.id: s for s in inv.sites}
    rows = figure_rows(cube, start, end, "hour", "site", "ja")
    sim = sorted({r["site"] for r in rows if r["simulated"]})
    if sim and not allow_simulated:
        raise SimulatedVisitors(f"{start:%Y-%m}: 模擬データを含むため公開しません（拠点: {', '.join(sim)}）。"
                                "試しに書き出すときは --allow-simulated を付けてください")
    out = []
    hidden = f"<{cube.k}"
    for r in rows:
        s = sites.get(r["site"])
        day = dt.date.fromisoformat(r["date"])
        out.append({
            "全国地方公共団体コード": inv.municipality_code, "年月日": r["date"], "曜日": WEEKDAYS["ja"][day.weekday()],
            "時": r["hour"], "NO": r["site"], "名称": s.name_ja if s else r["name"],
            "名称_英語": s.name_en if s else "",
            "緯度": repr(s.lat) if s else "", "経度": repr(s.lon) if s else "",
            "認証回数": hidden if r["suppressed"] else r["sessions"],
            "利用端末数": hidden if r["suppressed"] else r["unique_devices"],
            "備考": SIMULATED_REMARK if r["simulated"] else ""})
    return out


def month_rows(inv: Inventory, months: list[str], allow_simulated: bool = False,
               lang: str = "ja") -> list[dict[str, Any]]:
    """The hourly rows of each month (YYYY-MM); raises ValueError (bad month), NoData, SimulatedVisitors."""
    from analytics.visitors.load import read_cube
    from core.dates import parse_month

    rows: list[dict[str, Any]] = []
    for m in months:
        y, mo = parse_month(m)  # DateError is a ValueError
        first = dt.date(y, mo, 1)
        nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        rows += hourly_rows(inv, read_cube(inv, first, nxt, lang=lang), first, nxt, allow_simulated)
    return rows
