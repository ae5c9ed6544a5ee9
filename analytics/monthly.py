"""The monthly report: a self-contained HTML page (Japanese by default) with charts, plus a CSV per table.

Charts are inline SVG, so the page needs no script, no network and no plotting library; text is set in
Noto Sans CJK JP where installed. Every inventory name goes through Jinja2's autoescape.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from analytics.tables import Period, availability_rows, capacity_rows, figures, usage_by_ap, usage_rows
from analytics.usage import JST
from core.escape import spreadsheet_dict
from core.inventory import Inventory, SiteKind
from core.maintenance import expand
from core.schema import PointReader
from core.secrets import REDACTOR

L: dict[str, dict[str, Any]] = {
    "ja": {"title": "{city} 公衆無線LAN 月次報告 {month}", "avail": "稼働率", "usage": "利用状況",
           "cap": "混雑（容量超過）",
           "plan": "情報化計画の進捗（施策16・17）", "maint": "保守時間帯", "site": "拠点", "ap": "機器",
           "pct": "稼働率 %", "down": "停止時間 (時間)", "unknown": "データなし (時間)", "outages": "停止回数",
           "mttr": "平均復旧時間 (分)", "longest": "最長停止 (分)", "peak": "最大同時接続", "mean": "平均同時接続",
           "ch": "延べ接続時間 (人・時間)", "prev": "前期比 %", "rx": "受信 GB", "tx": "送信 GB",
           "hours_over": "超過時間", "capacity": "容量", "none": "該当なし", "profile": "曜日×時間帯の平均接続数",
           "installed": "整備済み", "since": "設置", "candidates": "未整備の候補地", "kind": "種別",
           "days": ["月", "火", "水", "木", "金", "土", "日"], "generated": "作成",
           "m16": "施策16: 人が集まる公共施設すべてに整備", "m17": "施策17: 観光地に隔年で整備",
           "note": "稼働率は監視していた時間に対する割合です。データのない時間は「データなし」として別に示します。"},
    "en": {"title": "{city} public Wi-Fi monthly report {month}", "avail": "Availability", "usage": "Usage",
           "cap": "Overload (above capacity)", "plan": "Plan progress (measures 16 and 17)",
           "maint": "Maintenance windows", "site": "Site", "ap": "Device", "pct": "Availability %",
           "down": "Down (h)", "unknown": "No data (h)", "outages": "Outages", "mttr": "MTTR (min)",
           "longest": "Longest (min)", "peak": "Peak clients", "mean": "Mean clients", "ch": "Client-hours",
           "prev": "vs previous %", "rx": "RX GB", "tx": "TX GB", "hours_over": "Hours over", "capacity": "Capacity",
           "none": "none", "profile": "Mean clients by weekday and hour", "installed": "Installed",
           "since": "since", "candidates": "Candidates without Wi-Fi", "kind": "Kind",
           "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "generated": "Generated",
           "m16": "Measure 16: every crowded public facility", "m17": "Measure 17: a tourist spot every other year",
           "note": "Availability is over the time the collector was watching; time with no data is shown apart."},
}
KIND = {"ja": {"public_facility": "公共施設", "tourist_spot": "観光地", "station": "駅", "park": "公園",
               "commercial": "商業施設"}, "en": {k.value: k.value.replace("_", " ") for k in SiteKind}}

TEMPLATE = Path(__file__).resolve().parent / "templates" / "monthly.html.j2"


def _svg_bars(rows: list[tuple[str, float | None]], width: int = 700) -> str:
    from html import escape

    h = 22 * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img">']
    for i, (label, pct) in enumerate(rows):
        y = 5 + i * 22
        w = 0 if pct is None else max(0.0, (pct - 90) / 10) * (width - 260)  # axis 90..100 %
        color = "#2e7d32" if (pct or 0) >= 99.5 else "#f9a825" if (pct or 0) >= 99 else "#c62828"
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="200" y="{y}" width="{w:.1f}" height="16" fill="{color}"/>')
        parts.append(f'<text x="{205 + w:.1f}" y="{y + 13}" font-size="11">'
                     f'{"-" if pct is None else f"{pct:.2f}%"}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_heat(profile: list[list[float | None]], days: list[str]) -> str:
    vmax = max((v for row in profile for v in row if v is not None), default=1.0) or 1.0
    cells = ['<svg xmlns="http://www.w3.org/2000/svg" width="720" height="190" role="img">']
    for h in range(24):
        cells.append(f'<text x="{40 + h * 27}" y="12" font-size="10">{h}</text>')
    for d, row in enumerate(profile):
        cells.append(f'<text x="0" y="{30 + d * 22}" font-size="12">{days[d]}</text>')
        for h, v in enumerate(row):
            a = 0.0 if v is None else v / vmax
            cells.append(f'<rect x="{36 + h * 27}" y="{17 + d * 22}" width="25" height="20" '
                         f'fill="rgb({int(255 - 200 * a)},{int(255 - 120 * a)},255)"/>')
    cells.append("</svg>")
    return "".join(cells)


def month_period(month: str) -> Period:
    try:
        y, m = (int(x) for x in month.split("-"))
        first = dt.datetime(y, m, 1, tzinfo=JST)
    except ValueError:
        raise ValueError(f"--month: '{month}' is not YYYY-MM") from None
    last = first + dt.timedelta(days=calendar.monthrange(y, m)[1])
    return Period(first.timestamp(), last.timestamp())


def write_monthly(inv: Inventory, reader: PointReader, month: str, out: Path, lang: str = "ja") -> list[Path]:
    t = L[lang]
    p = month_period(month)
    out.mkdir(parents=True, exist_ok=True)
    figs = figures(inv, reader, p)  # each AP's pings, status and traffic read once, shared by all tables
    avail = availability_rows(inv, reader, p, figs=figs)
    by_ap = usage_by_ap(inv, reader, p, figs=figs)
    usage = usage_rows(inv, reader, p, now=by_ap)
    cap = capacity_rows(inv, reader, p, figs=figs)
    profile: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    for u in by_ap.values():
        for d, row in enumerate(u.profile_mean()):
            for h, v in enumerate(row):
                if v is not None:
                    profile[d][h] = (profile[d][h] or 0.0) + v
    for r in avail:
        r["site_name"] = r["site_name_ja" if lang == "ja" else "site_name_en"]
        r["ap_name"] = r["ap_name_ja" if lang == "ja" else "ap_name_en"]
    for r in usage:
        r["label"] = KIND[lang].get(r["id"], r["name"]) if r["level"] == "kind" else r["name"]
    maint = sorted({f"{w.id}: {w.target} {w.reason}" for w in inv.maintenance
                    if any(expand([w], "*", "*", p.start, p.end) or expand([w], w.target, w.target, p.start, p.end))})
    installed = [{"name": s.name_ja if lang == "ja" else s.name_en, "kind": KIND[lang][s.kind.value],
                  "since": str(s.installed_on or "-"), "aps": len(s.aps)} for s in inv.sites]
    cands = [{"name": c.name_ja if lang == "ja" else c.name_en, "kind": KIND[lang][c.kind.value]}
             for c in inv.candidates]
    city = inv.city_ja if lang == "ja" else inv.city_en
    html = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
        TEMPLATE.read_text(encoding="utf-8")).render(
        lang=lang, t=t, title=t["title"].format(city=city, month=month),
        generated=dt.datetime.now(JST).strftime("%Y-%m-%d %H:%M"), period=month,
        avail=avail, avail_chart=_svg_bars([(f"{r['site_name']} {r['ap_name']}", r["availability_pct"])
                                            for r in avail if r["ap"] != "*"]),
        usage=usage, heat=_svg_heat(profile, t["days"]), cap=cap, maint=maint, installed=installed,
        candidates=cands)
    report = out / f"monthly-{month}-{lang}.html"
    report.write_text(REDACTOR(html), encoding="utf-8")
    files = [report]
    for name, rows in (("availability", avail), ("usage", usage), ("capacity", cap)):
        path = out / f"{name}-{month}.csv"
        write_csv(path, rows)
        files.append(path)
    return files


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        if not rows:
            f.write("")
            return
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(spreadsheet_dict(r) for r in rows)
