"""Rows from a suppressed cube: the report's (``wifiwatch report visitors``), the console's, the heatmap, flows and
the language mix. Nothing here decides what is hidden: a cell the cube marks suppressed becomes None (JSON null;
``<k`` in tables), and a derived figure (median, share) is None when any cell it comes from is.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from analytics.visitors.cube import BANDS, COL, DEV, LANGS, RETURNS, SES, Cube, day_date

BY = ("hour", "day", "month", "fy")
LEVEL_KEYS = ("ap", "site", "area", "city")
# The contract's columns first (issue 24 point 5), then the rest.
ROW_COLUMNS = ("site", "date", "unique_devices", "suppressed", "sessions", "median_dwell_min",
               *BANDS, *RETURNS, "randomized_pct", "simulated")
HEAD: dict[str, dict[str, str]] = {
    "ja": {"level": "集計単位", "site": "拠点", "ap": "AP", "area": "種別", "name": "名称", "date": "日付",
           "hour": "時", "month": "月", "fy": "年度",
           "unique_devices": "利用端末数", "suppressed": "秘匿", "sessions": "接続回数",
           "median_dwell_min": "滞在時間 中央値 (分)", "dwell_open": "継続中", "dwell_lt3": "3分未満",
           "dwell_3_15": "3〜15分", "dwell_15_60": "15〜60分", "dwell_ge60": "60分以上", "new": "新規 (概算)",
           "returning": "再訪 (概算)", "returning_unknown": "再訪 不明", "randomized_pct": "ランダムMAC %",
           "simulated": "模擬データ", "unique_devices_dedup": "重複除外 推定", "dedup_error_pct": "推定誤差 ±%",
           "from": "出発", "to": "到着", "devices": "端末数", "lang": "言語", "share_pct": "割合 %",
           "label": "イベント", "comparable_days": "比較日数", "baseline_devices_per_day": "比較日の平均",
           "uplift_pct": "増加率 %", "from_name": "出発", "to_name": "到着", "weekday": "曜日"},
    "en": {"level": "level", "site": "site", "ap": "AP", "area": "area", "name": "name", "date": "date",
           "hour": "hour", "month": "month", "fy": "FY", "unique_devices": "unique devices",
           "suppressed": "suppressed", "sessions": "sessions", "median_dwell_min": "median dwell (min)",
           "dwell_open": "open", "dwell_lt3": "< 3 min", "dwell_3_15": "3-15 min", "dwell_15_60": "15-60 min",
           "dwell_ge60": "60 min +", "new": "new (approx.)", "returning": "returning (approx.)",
           "returning_unknown": "returning unknown", "randomized_pct": "randomised MAC %",
           "simulated": "simulated", "unique_devices_dedup": "deduplicated estimate",
           "dedup_error_pct": "estimate error ±%", "from": "from", "to": "to", "devices": "devices",
           "lang": "language", "share_pct": "share %", "label": "event", "comparable_days": "comparable days",
           "baseline_devices_per_day": "comparable mean", "uplift_pct": "uplift %", "from_name": "from",
           "to_name": "to", "weekday": "weekday"},
}
LANG_NAMES = {"ja": {"ja": "日本語", "en": "英語", "zh-Hans": "中国語 (簡体字)", "zh-Hant": "中国語 (繁体字)",
                     "ko": "韓国語", "other": "その他", "unknown": "不明"},
              "en": {"ja": "Japanese", "en": "English", "zh-Hans": "Chinese (simplified)",
                     "zh-Hant": "Chinese (traditional)", "ko": "Korean", "other": "other", "unknown": "unknown"}}
WEEKDAYS = {"ja": ["月", "火", "水", "木", "金", "土", "日"], "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def _num(v: Any) -> int | None:
    return None if v is None else int(v)


def _figures(c: Cube, counts: np.ndarray, mask: np.ndarray, median: float | None, sim: bool) -> dict[str, Any]:
    """One row's figures with suppression applied (``counts``/``mask`` are the row's M-vectors)."""
    sup = bool(mask[DEV])
    out: dict[str, Any] = {
        "unique_devices": None if sup else int(counts[DEV]), "suppressed": sup,
        "sessions": None if sup else int(counts[SES]),
        "median_dwell_min": None if sup or median is None or math.isnan(median) else round(float(median), 1)}
    for name in (*BANDS, *RETURNS):
        out[name] = None if mask[COL[name]] else int(counts[COL[name]])
    r, g = COL["randomized"], COL["global_mac"]
    out["randomized_pct"] = (None if mask[r] or mask[g] or counts[DEV] == 0
                             else round(100.0 * counts[r] / counts[DEV], 1))
    out["simulated"] = bool(sim)
    return out


def _units(c: Cube, level: str, only: set[str] | None) -> list[int]:
    return [i for i, u in enumerate(c.units) if u.level == level and (only is None or u.id in only)]


def _row(c: Cube, i: int, level: str, lang: str, date: str, figures: dict[str, Any],
         **extra: Any) -> dict[str, Any]:
    """The contract's keys first (site, date, unique_devices, suppressed, sessions, median_dwell_min), then
    the rest; ``site`` is ``*`` on area and city rows, an AP row adds ``ap``, an area row ``area``."""
    u = c.units[i]
    site = c.units[u.parent].id if level == "ap" else u.id if level == "site" else "*"
    out: dict[str, Any] = {"site": site, "date": date, **figures}
    if level == "ap":
        out["ap"] = u.id
    elif level == "area":
        out["area"] = u.id
    out["name"] = u.name(lang)
    out.update(extra)
    return out


def figure_rows(c: Cube, start: dt.date, end: dt.date, by: str = "day", level: str = "site",
                lang: str = "ja", only: set[str] | None = None) -> list[dict[str, Any]]:
    """Rows per unit of ``level`` and per ``by`` bucket within [start, end) that saw at least one session.

    ``site`` and ``date`` (JST, YYYY-MM-DD; the bucket's first day) lead every row, as the contract has it;
    hour rows add ``hour``; month and fy rows add ``month`` / ``fy`` and the deduplicated estimate where the
    30-day key gives one. A suppressed row has None for every figure and ``suppressed`` True.
    """
    if by not in BY or level not in LEVEL_KEYS:
        raise ValueError(f"by must be one of {', '.join(BY)} and level one of {', '.join(LEVEL_KEYS)}")
    a = (start - dt.date(1970, 1, 1)).days - c.first_day
    b = (end - dt.date(1970, 1, 1)).days - c.first_day
    a, b = max(a, 0), min(b, c.n_days)
    rows: list[dict[str, Any]] = []
    units = _units(c, level, only)
    if by == "day":
        for i in units:
            for di in range(a, b):
                if c.D[i, di, DEV] == 0:
                    continue
                rows.append(_row(c, i, level, lang, day_date(c.first_day + di).isoformat(),
                                 _figures(c, c.D[i, di], c.S_D[i, di], c.D_median[i, di], c.D_sim[i, di])))
    elif by == "hour":
        if c.H is None or c.S_H is None:
            raise ValueError("this cube has no hours")
        if level == "ap":
            raise ValueError("hourly figures are per site, area or the city")
        hu = {int(u): j for j, u in enumerate(c.hour_units)}
        for i in units:
            j = hu[i]
            for di in range(a, b):
                for h in np.flatnonzero(c.H[j, di, :, DEV]).tolist():
                    rows.append(_row(c, i, level, lang, day_date(c.first_day + di).isoformat(),
                                     _figures(c, c.H[j, di, h], c.S_H[j, di, h], None, bool(c.D_sim[i, di])),
                                     hour=h))
    elif by == "month":
        months = sorted({int(c.month_of_day[d]) for d in range(a, b)})
        for i in units:
            for mi in months:
                if c.MO[i, mi, DEV] == 0:
                    continue
                f = _figures(c, c.MO[i, mi], c.S_MO[i, mi], c.MO_median[i, mi], c.MO_sim[i, mi])
                rows.append(_row(c, i, level, lang, c.months[mi] + "-01", f, month=c.months[mi],
                                 **_dedup(c, i, mi, f["suppressed"])))
    else:
        for i in units:
            if c.TOT[i, DEV] == 0:
                continue
            first = c.months[0]
            y, m = int(first[:4]), int(first[5:])
            med = c.MO_median[i]  # a year's median: the months' medians weighted by their sessions
            w = c.MO[i, :, SES].astype(float)
            ok = ~np.isnan(med) & (w > 0)
            median = float(np.average(med[ok], weights=w[ok])) if ok.any() else None
            rows.append(_row(c, i, level, lang, first + "-01",
                             _figures(c, c.TOT[i], c.S_TOT[i], median, bool(c.MO_sim[i].any())),
                             fy=y if m >= 4 else y - 1))
    return rows


def _dedup(c: Cube, i: int, mi: int, suppressed: bool) -> dict[str, Any]:
    est, lo, hi = c.MO_unique[i, mi]
    if suppressed or math.isnan(est):
        return {"unique_devices_dedup": None, "dedup_error_pct": None}
    return {"unique_devices_dedup": int(round(est)),
            "dedup_error_pct": round(100.0 * max(hi - est, est - lo) / max(est, 1.0), 1)}


def heatmap(c: Cube, unit: int, month: int) -> list[list[int | None]]:
    """Weekday (Mon first) x hour device-days of ``unit`` in month ``month``: None where suppressed."""
    if c.HM is None or c.S_HM is None:
        return [[None] * 24 for _ in range(7)]
    j = int(np.flatnonzero(c.hour_units == unit)[0])
    v, s = c.HM[j, month, :, :, DEV], c.S_HM[j, month, :, :, DEV]
    return [[None if s[d, h] else int(v[d, h]) for h in range(24)] for d in range(7)]


def flow_rows(c: Cube, lang: str = "ja", months: list[int] | None = None) -> list[dict[str, Any]]:
    """Flows between sites (A then B within ``flow_hours`` on the same JST day), device-days per month, largest
    first; a cell under k is kept with ``devices`` None so a reader sees that a flow exists but not its size.
    No flow totals are published (they would give a suppressed flow away). Where a source gave portal languages,
    each row also splits the flow as ``lang_<code>`` (Okinawa's flows by language), hidden parts None."""
    out = []
    present = sorted({j for (mi, _, _, j), n in c.flows_lang.items() if n and (months is None or mi in months)})
    if present == [LANGS.index("unknown")]:
        present = []  # no source gave a language: no language columns
    for (mi, a, b), n in c.flows.items():
        if months is not None and mi not in months:
            continue
        sup = c.S_flows.get((mi, a, b), True)
        ua, ub = c.units[a], c.units[b]
        langs = {LANGS[j]: (0 if c.flows_lang.get((mi, a, b, j), 0) == 0 else
                            None if c.S_flows_lang.get((mi, a, b, j), True) else c.flows_lang[(mi, a, b, j)])
                 for j in present}
        out.append({"month": c.months[mi], "from": ua.id, "to": ub.id, "from_name": ua.name(lang),
                    "to_name": ub.name(lang), "devices": None if sup else n, "suppressed": sup,
                    "from_lat": ua.lat, "from_lon": ua.lon, "to_lat": ub.lat, "to_lon": ub.lon,
                    **{f"lang_{x}": v for x, v in langs.items()}})
    return sorted(out, key=lambda r: (r["month"], r["devices"] is None, -(r["devices"] or 0), r["from"], r["to"]))


def language_rows(c: Cube, unit: int, month: int | None = None, lang: str = "ja") -> list[dict[str, Any]]:
    """The portal-language mix of ``unit`` (a month, or the cube's whole extent): devices and share per language;
    only languages some session gave (``unknown`` is the rest, shown so the parts add up)."""
    counts = c.TOT[unit] if month is None else c.MO[unit, month]
    mask = c.S_TOT[unit] if month is None else c.S_MO[unit, month]
    total = int(counts[DEV])
    out = []
    for x in LANGS:
        col = COL[f"lang_{x}"]
        n = int(counts[col])
        if n == 0:
            continue
        sup = bool(mask[col]) or bool(mask[DEV])
        out.append({"lang": x, "name": LANG_NAMES["en" if lang == "en" else "ja"][x],
                    "devices": None if sup else n, "suppressed": sup,
                    "share_pct": None if sup or not total else round(100.0 * n / total, 1)})
    return out


def shown(v: Any, k: int) -> str:
    """A cell as a table shows it: ``<k`` for a suppressed count, ``-`` for no figure."""
    if v is None:
        return f"<{k}"
    if isinstance(v, bool):
        return "○" if v else ""
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
