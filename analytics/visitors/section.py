"""利用分析 section of the monthly and 年度 reports: its own reading of the visitor store, so the reports only call
:func:`visitor_section` and paste its HTML (and write its CSV) whatever the rest of the report reads.

The figures are the suppressed cube's (analytics.visitors): a cell under ``[visitors] k_min`` devices is ``<k``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from analytics.coverage import NoData
from analytics.visitors.rows import WEEKDAYS, figure_rows, flow_rows, heatmap
from core.inventory import Inventory

T = {
    "ja": {"h": "利用分析（利用者数・滞在時間・回遊）", "site": "拠点", "devices": "利用端末数 (延べ)",
           "dedup": "重複を除いた推定", "sessions": "接続回数", "median": "滞在中央値 (分)", "lt3": "3分未満",
           "b3": "3〜15分", "b15": "15〜60分", "ge60": "60分以上", "random": "ランダムMAC %", "month": "月",
           "flows": "拠点間の回遊（同じ日、{h:g}時間以内）", "from": "出発", "to": "到着",
           "heat": "曜日×時間帯（市全体、延べ端末数）",
           "note": "利用端末数は端末（MACアドレスの鍵付きハッシュ）の数で、人数の目安です。"
                   "日ごとに数え、月・年度はその合計（延べ）です。{k} 台未満のセルは「<{k}」と表示し、"
                   "差し引きで分かるセルも秘匿しています。スマートフォンの MAC アドレスのランダム化のため、"
                   "再訪や重複除外の数値は概算です。",
           "sim": "模擬データを含みます。", "none": "この期間の利用データはありません。", "total": "市全体"},
    "en": {"h": "Visitors (people, dwell, flows)", "site": "Site", "devices": "Unique devices (person-days)",
           "dedup": "deduplicated estimate", "sessions": "Sessions", "median": "Median dwell (min)",
           "lt3": "< 3 min", "b3": "3-15 min", "b15": "15-60 min", "ge60": "60 min +", "random": "Randomised MAC %",
           "month": "Month", "flows": "Flows between sites (same day, within {h:g} h)", "from": "From", "to": "To",
           "heat": "Weekday x hour (whole city, device-days)",
           "note": "Unique devices count devices (keyed hashes of MAC addresses), a guide to people; counted per day, "
                   "months and years are sums (person-days). Cells under {k} devices show \"<{k}\", and cells that "
                   "would give them away are hidden too. Returning and deduplicated figures are approximate (MAC "
                   "randomisation).",
           "sim": "Contains simulated data.", "none": "No visitor data for this period.", "total": "whole city"},
}
CSV_COLUMNS = ("level", "site", "month", "unique_devices", "suppressed", "sessions", "median_dwell_min", "dwell_lt3",
               "dwell_3_15", "dwell_15_60", "dwell_ge60", "dwell_open", "new", "returning", "randomized_pct",
               "unique_devices_dedup", "dedup_error_pct", "simulated")


@dataclass
class Section:
    html: str
    rows: list[dict[str, Any]]
    k: int

    def into(self, report_html: str) -> str:
        """The report with this section added before its end."""
        i = report_html.rfind("</body>")
        return report_html[:i] + self.html + report_html[i:] if i >= 0 else report_html + self.html

    def write_csv(self, path: Path) -> Path:
        from analytics.export import write_csv

        shown = [{c: (f"<{self.k}" if r.get(c) is None and c in _COUNTS else r.get(c)) for c in CSV_COLUMNS}
                 for r in self.rows]
        write_csv(path, shown, CSV_COLUMNS)
        return path


_COUNTS = {"unique_devices", "sessions", "dwell_lt3", "dwell_3_15", "dwell_15_60", "dwell_ge60", "dwell_open", "new",
           "returning"}


def _n(v: Any, k: int) -> str:
    if v is None:
        return f"&lt;{k}"
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def visitor_section(inv: Inventory, start: dt.date, end: dt.date, lang: str = "ja") -> Section | None:
    """The section for the months in [start, end) (one month, or the twelve of a 年度); None without a visitor
    store or session (a city that has no visitor source gets no empty section)."""
    from analytics.visitors.load import read_cube

    t = T["en" if lang == "en" else "ja"]
    try:
        cube = read_cube(inv, start, end, hours=(end - start).days <= 31, lang=lang)
    except NoData:
        return None
    k = cube.k
    months = figure_rows(cube, start, end, "month", "site", lang)
    city_months = figure_rows(cube, start, end, "month", "city", lang)
    yearly = len(cube.months) > 1
    totals = figure_rows(cube, start, end, "fy", "site", lang) if yearly else months
    city_total = figure_rows(cube, start, end, "fy", "city", lang) if yearly else city_months
    head = (f"<tr><th class='l'>{t['site']}</th><th>{t['devices']}</th><th>{t['sessions']}</th><th>{t['median']}</th>"
            f"<th>{t['lt3']}</th><th>{t['b3']}</th><th>{t['b15']}</th><th>{t['ge60']}</th><th>{t['random']}</th></tr>")

    def line(label: str, r: dict[str, Any]) -> str:
        dedup = ("" if r.get("unique_devices_dedup") is None else
                 f"<br><small>{t['dedup']} {r['unique_devices_dedup']:,} ±{r['dedup_error_pct']}%</small>")
        cls = " class='prov'" if r["suppressed"] else ""
        return (f"<tr{cls}><td class='l'>{escape(label)}</td>"
                f"<td>{_n(r['unique_devices'], k)}{dedup}</td><td>{_n(r['sessions'], k)}</td>"
                f"<td>{'-' if r['median_dwell_min'] is None else _n(r['median_dwell_min'], k)}</td>"
                f"<td>{_n(r['dwell_lt3'], k)}</td><td>{_n(r['dwell_3_15'], k)}</td><td>{_n(r['dwell_15_60'], k)}</td>"
                f"<td>{_n(r['dwell_ge60'], k)}</td>"
                f"<td>{'&lt;' + str(k) if r['randomized_pct'] is None else _n(r['randomized_pct'], k)}</td></tr>")

    parts = [f"<section data-section='visitors'><h2>{t['h']}</h2>",
             f"<p class='note'>{t['note'].format(k=k)}</p>"]
    if any(r["simulated"] for r in city_total):
        parts.append(f"<p class='note sim'>{t['sim']}</p>")
    parts.append(f"<table data-table='visitors'>{head}")
    parts += [line(r["name"], r) for r in totals]
    parts += [line(t["total"], r) for r in city_total]
    parts.append("</table>")
    if yearly:
        parts.append(f"<table data-table='visitors-months'>{head.replace(t['site'], t['month'])}")
        parts += [line(r["month"], r) for r in city_months]
        parts.append("</table>")
    if not yearly and cube.HM is not None:
        grid = heatmap(cube, 0, 0)
        days = WEEKDAYS["en" if lang == "en" else "ja"]
        parts.append(f"<h3>{t['heat']}</h3><table data-table='visitors-heat'><tr><th></th>"
                     + "".join(f"<th>{h}</th>" for h in range(24)) + "</tr>")
        for d, row in enumerate(grid):
            parts.append(f"<tr><th>{days[d]}</th>" + "".join(f"<td>{_n(v, k)}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    flows = flow_rows(cube, lang)
    if flows:
        parts.append(f"<h3>{t['flows'].format(h=cube.flow_hours)}</h3><table data-table='visitors-flows'>"
                     f"<tr><th class='l'>{t['month']}</th><th class='l'>{t['from']}</th><th class='l'>{t['to']}</th>"
                     f"<th>{t['devices']}</th></tr>")
        parts += [f"<tr><td class='l'>{f['month']}</td><td class='l'>{escape(f['from_name'])}</td>"
                  f"<td class='l'>{escape(f['to_name'])}</td><td>{_n(f['devices'], k)}</td></tr>" for f in flows]
        parts.append("</table>")
    parts.append("</section>")
    rows = [{"level": "site", **r} for r in months] + [{"level": "city", **r} for r in city_months]
    if yearly:
        rows += [{"level": "site", **r, "month": f"FY{r['fy']}"} for r in totals]
        rows += [{"level": "city", **r, "month": f"FY{r['fy']}"} for r in city_total]
    return Section("".join(parts), rows, k)
