"""The monthly report: a self-contained HTML page (Japanese by default) with charts, a CSV per table, an .xlsx
workbook and a PDF of the page. Every figure carries its coverage (analytics.coverage); simulated data is
labelled; an empty month raises :class:`~analytics.coverage.NoData` instead of reporting zeros.

Charts are inline SVG, so the page needs no script, no network and no plotting library; text is set in
Noto Sans CJK JP where installed. Every inventory name goes through Jinja2's autoescape.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from analytics import coverage as cov
from analytics.coverage import NoData
from analytics.export import print_pdf, write_csv, write_xlsx
from analytics.jpdates import date_text, month_text
from analytics.radio import radio_capacity
from analytics.report_format import PRINT_CSS, report_env
from analytics.tables import (
    CAPACITY_COLUMNS,
    Period,
    availability_rows,
    capacity_rows,
    figures,
    is_empty,
    period_coverage,
    usage_by_ap,
    usage_cov_by_ap,
    usage_rows,
)
from analytics.usage import JST
from core.inventory import Inventory, SiteKind
from core.maintenance import expand
from core.schema import PointReader
from core.secrets import REDACTOR

L: dict[str, dict[str, Any]] = {
    "ja": {"title": "{city} 公衆無線LAN 月次報告 {month}", "avail": "稼働率", "usage": "利用状況",
           "cap": "混雑（容量超過）",
           "plan": "情報化計画の進捗（施策16・17）", "maint": "保守時間帯", "site": "拠点", "ap": "機器",
           "pct": "稼働率 %", "down": "停止時間 (時間)", "unknown": "データなし (時間)", "outages": "停止回数",
           "mttr": "平均復旧時間 (分)", "longest": "最長停止 (分)",
           "peak": "最大同時接続（1時間平均）", "mean": "平均同時接続",
           "ch": "延べ接続時間 (人・時間)", "prev": "前期比 %", "yoy": "前年同月比 %", "rx": "受信 GB",
           "tx": "送信 GB", "hours_over": "超過時間", "capacity": "容量",
           "none": "該当なし（容量を1時間を超えて上回ったAPはありません）", "profile": "曜日×時間帯の平均接続数",
           "installed": "整備済み", "since": "設置", "candidates": "未整備の候補地", "kind": "種別",
           "days": ["月", "火", "水", "木", "金", "土", "日"], "generated": "作成",
           "m16": "施策16: 人が集まる公共施設すべてに整備", "m17": "施策17: 観光地に隔年で整備",
           "note": "稼働率は監視していた時間に対する割合です。データのない時間は「データなし」として別に示します。",
           "period": "対象期間", "asof": "集計時点", "observed": "観測時間 (時間)", "coverage": "観測率 %",
           "remarks": "備考", "provisional": "参考値", "simulated": "模擬データ", "in_progress": "集計中",
           "progress_note": "集計中の期間です（期間の {pct:.0f}% が経過）。"
                            "まだ来ていない日は「データなし」に数えません。",
           "prov_note": "参考値: 観測率（監視できた時間 ÷ 期間。保守時間を除く）が {min:.0f}% 未満の数値です。"
                        "前期比・前年同月比は示さず、オープンデータにも含めません。",
           "cmp_note": "前期比・前年同月比は観測時間あたりの延べ接続時間（平均同時接続数）で比べ、"
                       "両期間とも観測率 {min:.0f}% 以上のときだけ示します。示せないときは「—」と理由を書きます。",
           "sim_banner": "模擬データを含みます: この報告の数値にはデモ用に生成した履歴（模擬データ）が含まれており、"
                         "実際の稼働・利用状況ではありません。",
           "nodata": "データがありません", "to": "〜", "sheet_avail": "稼働率", "sheet_usage": "利用状況",
           "sheet_cap": "容量超過", "radio": "無線ごとの状態（チャネル・混雑・雑音）", "radio_label": "無線",
           "band": "周波数帯", "channel": "チャネル", "util": "チャネル使用率 平均 %",
           "util95": "同 95パーセンタイル %",
           "noise": "雑音 平均 dBm", "radio_peak": "無線あたり最大接続", "health_n": "無線測定数 (時間)",
           "clients_n": "接続数測定数 (時間)",
           "radio_none": "この期間の無線ごとのデータはありません（機種が対応していないか、未取得）。",
           "radio_note": "チャネル使用率・雑音は無線測定数の行、最大接続は接続数測定数の行に基づきます。"
                         "「-」はデータなし（0ではありません）。",
           "sheet_radio": "無線", "cap_peak": "最大接続数（1回の測定）",
           "peak_note": "最大同時接続は、最も混んだ1時間の平均同時接続数です。拠点・種別の値は、機器ごとの1時間平均を"
                        "同じ時間帯で合計したものの最大です（機器の最大の合計でも、最大の機器の値でもありません）。"},
    "en": {"title": "{city} public Wi-Fi monthly report {month}", "avail": "Availability", "usage": "Usage",
           "cap": "Overload (above capacity)", "plan": "Plan progress (measures 16 and 17)",
           "maint": "Maintenance windows", "site": "Site", "ap": "Device", "pct": "Availability %",
           "down": "Down (h)", "unknown": "No data (h)", "outages": "Outages", "mttr": "MTTR (min)",
           "longest": "Longest (min)", "peak": "Peak clients (hourly mean)", "mean": "Mean clients",
           "ch": "Client-hours",
           "prev": "vs previous %", "yoy": "vs a year before %", "rx": "RX GB", "tx": "TX GB",
           "hours_over": "Hours over", "capacity": "Capacity",
           "none": "none (no AP was above capacity for more than an hour)",
           "profile": "Mean clients by weekday and hour", "installed": "Installed",
           "since": "since", "candidates": "Candidates without Wi-Fi", "kind": "Kind",
           "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "generated": "Generated",
           "m16": "Measure 16: every crowded public facility", "m17": "Measure 17: a tourist spot every other year",
           "note": "Availability is over the time the collector was watching; time with no data is shown apart.",
           "period": "Period", "asof": "Figures as of", "observed": "Observed (h)", "coverage": "Observed %",
           "remarks": "Remarks", "provisional": "provisional", "simulated": "simulated data",
           "in_progress": "in progress",
           "progress_note": "This period is still in progress ({pct:.0f}% elapsed); days still to come are not "
                            "counted as no data.",
           "prov_note": "Provisional: observed on less than {min:.0f}% of the period (maintenance excluded). "
                        "Not compared and never published as open data.",
           "cmp_note": "Comparisons are of client-hours per observed hour (mean concurrent clients), shown only when "
                       "both periods are observed on at least {min:.0f}%; otherwise \"—\" and the reason.",
           "sim_banner": "Contains simulated data: figures in this report include history generated for the demo; "
                         "they are not real availability or use.",
           "nodata": "No data", "to": " to ", "sheet_avail": "Availability", "sheet_usage": "Usage",
           "sheet_cap": "Capacity", "radio": "Per radio (channel, load, noise)", "radio_label": "Radio",
           "band": "Band", "channel": "Channel", "util": "Channel utilisation mean %", "util95": "Utilisation p95 %",
           "noise": "Noise mean dBm", "radio_peak": "Peak clients on radio", "health_n": "Radio samples (h)",
           "clients_n": "Client samples (h)", "radio_none": "No per-radio data in this period (the model does not "
                                                         "report it, or it was not read).",
           "radio_note": "Utilisation and noise rest on the radio samples, the peak on the client samples; "
                         "\"-\" is no data (not 0).",
           "sheet_radio": "Radios", "cap_peak": "Peak clients (one sample)",
           "peak_note": "Peak clients is the mean of concurrent clients in the busiest hour. A site's or a kind's is "
                        "the busiest hour of its devices' hourly means added up (not the sum of their peaks, nor the "
                        "largest device's)."},
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


MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits: \d also matches full-width ones
FIRST_YEAR, LAST_YEAR = 2000, 2100  # a monitoring record outside these years is a typo, not a month to read


def parse_month(month: str) -> tuple[int, int]:
    """(year, month) of exactly YYYY-MM within 2000-2100, else ValueError naming the option and the value."""
    m = MONTH_RE.fullmatch(month)
    if not m or not (1 <= int(m[2]) <= 12) or not (FIRST_YEAR <= int(m[1]) <= LAST_YEAR):
        raise ValueError(f"--month: '{month}' is not a month YYYY-MM between {FIRST_YEAR}-01 and {LAST_YEAR}-12")
    return int(m[1]), int(m[2])


CHART_MAX = 40  # bars a reader can take in: a fleet's chart shows its sites, the lowest first when there are more


def chart_rows(avail: list[dict[str, Any]], lang: str) -> list[tuple[str, float | None]]:
    """The availability chart: one bar per AP for a small fleet; per site for a larger one, and then only the
    CHART_MAX lowest (a chart of 1,000 bars is 20 printed pages that nobody reads; the table lists every AP)."""
    aps = [(f"{r['site_name']} {r['ap_name']}", r["availability_pct"]) for r in avail if r["ap"] != "*"]
    if len(aps) <= CHART_MAX:
        return aps
    sites = [(str(r["site_name"]), r["availability_pct"]) for r in avail if r["ap"] == "*"]
    if len(sites) > CHART_MAX:
        sites = sorted(sites, key=lambda x: (x[1] is not None, x[1] if x[1] is not None else 0.0))[:CHART_MAX]
    return sites


def month_period(month: str, now: float | None = None) -> Period:
    """The month in Japan time, with 集計時点 ``now`` (default: the current time)."""
    y, m = parse_month(month)
    first = dt.datetime(y, m, 1, tzinfo=JST)
    last = first + dt.timedelta(days=calendar.monthrange(y, m)[1])
    return Period(first.timestamp(), last.timestamp(), time.time() if now is None else now)


def period_header(p: Period, t: dict[str, Any], lang: str, era: str, min_share: float,
                  c: cov.Coverage, simulated: bool) -> dict[str, Any]:
    """対象期間, 集計時点 and the notices every report (HTML, xlsx) carries on top."""
    a = dt.datetime.fromtimestamp(p.start, JST)
    b = dt.datetime.fromtimestamp(p.end, JST) - dt.timedelta(days=1)
    asof = dt.datetime.fromtimestamp(p.asof if p.asof is not None else p.end, JST)
    out = {"period_text": f"{date_text(a, era, lang)}{t['to']}{date_text(b, era, lang)}",
           "asof_text": date_text(asof, era, lang, with_time=True),
           "in_progress": p.in_progress,
           "progress_note": t["progress_note"].format(pct=100 * p.elapsed_h / p.hours) if p.in_progress else "",
           "prov_note": t["prov_note"].format(min=100 * min_share),
           "cmp_note": t["cmp_note"].format(min=100 * min_share),
           "simulated": simulated, "sim_banner": t["sim_banner"] if simulated else "",
           "coverage_pct": round(100 * c.share, 1), "provisional": c.provisional(min_share)}
    return out


def header_lines(title: str, h: dict[str, Any], t: dict[str, Any]) -> list[str]:
    lines = [title, f"{t['period']}: {h['period_text']}", f"{t['asof']}: {h['asof_text']}"]
    if h["in_progress"]:
        lines.append(h["progress_note"])
    if h["simulated"]:
        lines.append(h["sim_banner"])
    lines.append(h["prov_note"])
    return lines


def remarks(r: dict[str, Any], t: dict[str, Any]) -> str:
    """備考 of a row: 参考値, 模擬データ, 集計中."""
    out = []
    if r.get("provisional"):
        out.append(t["provisional"])
    if r.get("simulated"):
        out.append(t["simulated"])
    if r.get("in_progress"):
        out.append(t["in_progress"])
    return "・".join(out) if out else ""


FORMATS = ("html", "csv", "xlsx", "pdf")
AVAIL_XLSX = ("site_name", "ap_name", "availability_pct", "up_h", "down_h", "unknown_h", "maintenance_h", "outages",
              "mttr_min", "longest_outage_min", "observed_h", "period_h", "coverage_pct", "remarks")
USAGE_XLSX = ("label", "peak_clients", "mean_clients", "client_hours", "rx_gb", "tx_gb", "observed_h",
              "coverage_pct", "change_pct", "change_prev_note", "change_yoy_pct", "change_yoy_note", "remarks")
CAP_XLSX = ("site", "ap", "name", "capacity", "hours_over", "peak_clients", "observed_h", "coverage_pct", "remarks")
RADIO_COLUMNS = ("site", "ap", "name", "radio", "band", "channels", "utilization_mean_pct", "utilization_p95_pct",
                 "noise_mean_dbm", "peak_clients", "capacity", "health_samples", "health_hours", "samples", "hours")
HEAD = {
    "ja": {"site_name": "拠点", "ap_name": "機器", "availability_pct": "稼働率 %", "up_h": "稼働 (時間)",
           "down_h": "停止 (時間)", "unknown_h": "データなし (時間)", "maintenance_h": "保守 (時間)",
           "outages": "停止回数", "mttr_min": "平均復旧時間 (分)", "longest_outage_min": "最長停止 (分)",
           "observed_h": "観測時間 (時間)", "period_h": "期間 (時間)", "coverage_pct": "観測率 %", "remarks": "備考",
           "label": "名称", "peak_clients": "最大同時接続（1時間平均）", "mean_clients": "平均同時接続",
           "client_hours": "延べ接続時間 (人・時間)", "rx_gb": "受信 GB", "tx_gb": "送信 GB", "change_pct": "前期比 %",
           "change_prev_note": "前期比を示さない理由", "change_yoy_pct": "前年同月比 %",
           "change_yoy_note": "前年同月比を示さない理由", "site": "拠点ID", "ap": "機器ID", "name": "機器",
           "capacity": "容量", "hours_over": "超過時間", "radio": "無線", "band": "周波数帯",
           "channels": "チャネル", "utilization_mean_pct": "チャネル使用率 平均 %",
           "utilization_p95_pct": "チャネル使用率 95パーセンタイル %", "noise_mean_dbm": "雑音 平均 dBm",
           "health_samples": "無線測定数", "health_hours": "無線測定時間 (時間)", "samples": "接続数測定数",
           "hours": "接続数測定時間 (時間)"},
}


def _head(cols: tuple[str, ...], lang: str) -> list[str]:
    return [HEAD.get(lang, {}).get(c, c) for c in cols]


def radio_rows(inv: Inventory, reader: PointReader, p: Period, lang: str) -> list[dict[str, Any]]:
    """analytics.radio's per-radio capacity as report rows; channels most used first ("36, 44")."""
    names = {ap.id: (ap.name_ja if lang == "ja" else ap.name_en) or ap.id for _, ap in inv.aps()}
    return [{"site": r.site, "ap": r.ap, "name": names.get(r.ap, r.ap), "radio": r.radio, "band": r.band,
             "channels": ", ".join(str(c) for c in r.channels) or None,
             "utilization_mean_pct": r.utilization_mean_pct, "utilization_p95_pct": r.utilization_p95_pct,
             "noise_mean_dbm": r.noise_mean_dbm, "peak_clients": r.peak_clients, "capacity": r.capacity,
             "health_samples": r.health_samples, "health_hours": r.health_hours, "samples": r.samples,
             "hours": r.hours}
            for r in radio_capacity(reader, inv, p)]


def write_monthly(inv: Inventory, reader: PointReader, month: str, out: Path, lang: str = "ja",
                  now: float | None = None, formats: tuple[str, ...] = FORMATS, era: str | None = None) -> list[Path]:
    """The month's report: HTML, a CSV per table, one .xlsx and a PDF of the HTML; raises :class:`NoData` (and
    writes nothing) when the month holds no data at all."""
    t = L[lang]
    era = era or inv.reports.era
    p = month_period(month, now)
    y, m = parse_month(month)
    month_label = month_text(y, m, era, lang)
    min_share = inv.reports.min_share
    figs = figures(inv, reader, p)  # each AP's pings, status and traffic read once, shared by all tables
    if is_empty(figs):
        raise NoData(f"{month_label}: {t['nodata']}")
    avail = availability_rows(inv, reader, p, figs=figs)
    by_ap = usage_by_ap(inv, reader, p, figs=figs)
    usage = usage_rows(inv, reader, p, now=by_ap, now_cov=usage_cov_by_ap(figs), lang=lang, figs=figs)
    cap = capacity_rows(inv, reader, p, figs=figs)
    radios = radio_rows(inv, reader, p, lang)
    fleet = period_coverage(figs)
    # weekday x hour: the APs' mean clients in each cell added up (analytics.figures: per AP first, then the sum)
    total, seen = np.zeros((7, 24)), np.zeros((7, 24), dtype=np.bool_)
    for u in by_ap.values():
        ch, oh = u.profile[..., 0], u.profile[..., 1]
        total += np.where(oh > 0, ch / np.where(oh > 0, oh, 1.0), 0.0)
        seen |= oh > 0
    profile: list[list[float | None]] = [[float(total[d, h]) if seen[d, h] else None for h in range(24)]
                                         for d in range(7)]
    for r in avail:
        r["site_name"] = r["site_name_ja" if lang == "ja" else "site_name_en"]
        r["ap_name"] = r["ap_name_ja" if lang == "ja" else "ap_name_en"]
        r["remarks"] = remarks(r, t)
    for r in usage:
        r["label"] = KIND[lang].get(r["id"], r["name"]) if r["level"] == "kind" else r["name"]
        r["remarks"] = remarks(r, t)
    for r in cap:
        r["remarks"] = remarks(r, t)
    maint = sorted({f"{w.id}: {w.target} {w.reason}" for w in inv.maintenance
                    if any(expand([w], "*", "*", p.start, p.end) or expand([w], w.target, w.target, p.start, p.end))})
    installed = [{"name": s.name_ja if lang == "ja" else s.name_en, "kind": KIND[lang][s.kind.value],
                  "since": str(s.installed_on or "-"), "aps": len(s.aps)} for s in inv.sites]
    cands = [{"name": c.name_ja if lang == "ja" else c.name_en, "kind": KIND[lang][c.kind.value]}
             for c in inv.candidates]
    city = inv.city_ja if lang == "ja" else inv.city_en
    title = t["title"].format(city=city, month=month_label)
    head = period_header(p, t, lang, era, min_share, fleet, fleet.simulated)
    out.mkdir(parents=True, exist_ok=True)
    html = report_env().from_string(
        TEMPLATE.read_text(encoding="utf-8")).render(
        lang=lang, t=t, title=title, h=head, print_css=PRINT_CSS,
        generated=date_text(dt.datetime.now(JST), era, lang, with_time=True),
        avail=avail, avail_chart=_svg_bars(chart_rows(avail, lang)),
        usage=usage, heat=_svg_heat(profile, t["days"]), cap=cap, radios=radios, maint=maint, installed=installed,
        candidates=cands)
    from analytics.visitors.section import visitor_section  # issue 24: its own section, reading the visitor store

    first_day = dt.date(y, m, 1)
    visitors = visitor_section(inv, first_day, (first_day + dt.timedelta(days=32)).replace(day=1), lang)
    html = visitors.into(html) if visitors is not None else html
    files: list[Path] = []
    report = out / f"monthly-{month}-{lang}.html"
    report.write_text(REDACTOR(html), encoding="utf-8")
    if "html" in formats or "pdf" in formats:
        files.append(report)
    if "csv" in formats:
        for name, rows, cols in (("availability", avail, None), ("usage", usage, None),
                                 ("capacity", cap, CAPACITY_COLUMNS), ("radio", radios, RADIO_COLUMNS)):
            path = out / f"{name}-{month}.csv"
            note = {"capacity": t["none"], "radio": t["radio_none"]}.get(name, t["nodata"])
            write_csv(path, rows, cols, note=note)
            files.append(path)
        if visitors is not None:
            files.append(visitors.write_csv(out / f"visitors-{month}.csv"))
    if "xlsx" in formats:
        path = out / f"monthly-{month}-{lang}.xlsx"
        write_xlsx(path, [(t["sheet_avail"], _head(AVAIL_XLSX, lang), _keyed(avail, AVAIL_XLSX, lang), t["nodata"]),
                          (t["sheet_usage"], _head(USAGE_XLSX, lang), _keyed(usage, USAGE_XLSX, lang), t["nodata"]),
                          (t["sheet_cap"], [t["cap_peak"] if c == "peak_clients" else h
                                            for c, h in zip(CAP_XLSX, _head(CAP_XLSX, lang), strict=True)],
                           _keyed(cap, CAP_XLSX, lang), t["none"]),
                          (t["sheet_radio"], _head(RADIO_COLUMNS, lang), _keyed(radios, RADIO_COLUMNS, lang),
                           t["radio_none"])],
                   header_lines(title, head, t))
        files.append(path)
    if "pdf" in formats:
        files.append(print_pdf(report, out / f"monthly-{month}-{lang}.pdf"))
    if "html" not in formats and "pdf" in formats:
        files.remove(report)
        report.unlink()
    return files


def _keyed(rows: list[dict[str, Any]], cols: tuple[str, ...], lang: str) -> list[dict[str, Any]]:
    """Rows keyed by the sheet's (translated) headers."""
    names = _head(cols, lang)
    return [{n: r.get(c) for n, c in zip(names, cols, strict=True)} for r in rows]
