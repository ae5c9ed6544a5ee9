"""The 年度 (fiscal year, April to March) report: per site, per month and per plan measure (施策16 公共施設,
施策17 観光地) with the plan's progress, as HTML, CSV, .xlsx and PDF.

Figures come month by month (each month read once, from hourly aggregates) and add up to the year, so the year's
coverage is the sum of the months'. Months still to come are 未到来, never データなし. The plan period of the
fourth Kashima informatization plan is 令和4年度 to 令和8年度 (FY2022-2026).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analytics import coverage as cov
from analytics.availability import Availability, combine
from analytics.coverage import Coverage, NoData
from analytics.export import print_pdf, write_csv, write_xlsx
from analytics.figures import ApFigures, Period, group_peak
from analytics.jpdates import fiscal_text, month_text
from analytics.monthly import FIRST_YEAR, KIND, LAST_YEAR, L, header_lines, period_header, remarks
from analytics.report_format import PRINT_CSS, report_env
from analytics.tables import client_hours_by_ap, figures, is_empty
from analytics.usage import JST
from core.inventory import Inventory, Site, SiteKind
from core.schema import PointReader
from core.secrets import REDACTOR

TEMPLATE = Path(__file__).resolve().parent / "templates" / "fiscal.html.j2"
PLAN_FIRST_FY, PLAN_LAST_FY = 2022, 2026  # 令和4年度〜令和8年度
MEASURES = {16: SiteKind.PUBLIC_FACILITY, 17: SiteKind.TOURIST_SPOT}

FL: dict[str, dict[str, Any]] = {
    "ja": {"title": "{city} 公衆無線LAN 年度報告 {fy}", "sites": "拠点別", "months": "月別の推移",
           "measures": "情報化計画の施策別（施策16・17）と進捗", "month": "月", "future": "未到来",
           "measure": "施策", "target": "達成目標", "progress": "進捗", "prev_fy": "前年度比 %",
           "m16_name": "施策16 公共施設でのフリーWi-Fi提供",
           "m17_name": "施策17 観光地でのフリーWi-Fiの整備拡充",
           "m16_target": "不特定多数の人が集まる公共施設にフリーWi-Fi整備",
           "m17_target": "隔年で観光スポット周辺にフリーWi-Fiを整備",
           "m16_progress": "整備済み {done} か所、未整備の候補 {todo} か所（整備率 {pct:.0f}%）",
           "m17_progress": "計画期間（{first}〜{last}）の整備 {done} か所／隔年の目標では {due} か所（{state}）",
           "on_track": "目標どおり", "behind": "目標に届いていません", "installed_by_fy": "年度別の整備",
           "n_sites": "拠点数", "year": "年度", "none_installed": "記録なし（設置日 installed_on が未設定）",
           "sheet_sites": "拠点別", "sheet_months": "月別", "sheet_measures": "施策別"},
    "en": {"title": "{city} public Wi-Fi annual report {fy}", "sites": "By site", "months": "By month",
           "measures": "By plan measure (16 and 17) with progress", "month": "Month", "future": "to come",
           "measure": "Measure", "target": "Target", "progress": "Progress", "prev_fy": "vs previous FY %",
           "m16_name": "Measure 16: free Wi-Fi at public facilities",
           "m17_name": "Measure 17: more free Wi-Fi at tourist spots",
           "m16_target": "Free Wi-Fi at every public facility where many people gather",
           "m17_target": "A tourist spot every other year",
           "m16_progress": "{done} installed, {todo} candidates left ({pct:.0f}% installed)",
           "m17_progress": "{done} installed in the plan period ({first} to {last}); every other year means {due} "
                           "({state})",
           "on_track": "on track", "behind": "behind", "installed_by_fy": "Installed by fiscal year",
           "n_sites": "Sites", "year": "FY", "none_installed": "none recorded (installed_on not set)",
           "sheet_sites": "Sites", "sheet_months": "Months", "sheet_measures": "Measures"},
}


def parse_fy(text: str) -> int:
    """2026 (or FY2026) -> 2026, the year April 2026 - March 2027 (within 2000-2100), else ValueError."""
    m = re.fullmatch(r"(?:FY)?(\d{4})", text)
    if not m or not FIRST_YEAR <= int(m[1]) <= LAST_YEAR - 1:
        raise ValueError(f"--year: '{text}' is not a fiscal year such as 2026 (April 2026 - March 2027)")
    return int(m[1])


def fiscal_year_of(d: dt.date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def fy_period(fy: int, now: float | None = None) -> Period:
    a = dt.datetime(fy, 4, 1, tzinfo=JST)
    b = dt.datetime(fy + 1, 4, 1, tzinfo=JST)
    return Period(a.timestamp(), b.timestamp(), time.time() if now is None else now)


def fy_months(fy: int) -> list[tuple[int, int]]:
    return [(fy + (m < 4), m) for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]


@dataclass
class SiteYear:
    """One site (or a group of sites) summed over the months as they are read. Per AP only its client-hours and
    observed hours are kept (a site's mean concurrent clients is the sum of its APs' means, analytics.figures),
    never a month's figures: a year of 10,000 APs holds a few numbers per AP."""

    ap_use: dict[str, list[float]] = field(default_factory=dict)  # ap -> [client-hours, observed hours]
    avail: Availability | None = None
    a_cov: Coverage = field(default_factory=lambda: Coverage(0.0, 0.0, 0.0))
    u_cov: Coverage = field(default_factory=lambda: Coverage(0.0, 0.0, 0.0))
    rx_gb: float = 0.0
    tx_gb: float = 0.0
    peak: float = 0.0  # the highest hourly sum of its APs' mean clients (analytics.figures.concurrent_peak)

    def add(self, ap_id: str, f: ApFigures) -> None:
        assert f.availability and f.availability_cov and f.usage and f.usage_cov
        self.avail = f.availability if self.avail is None else combine([self.avail, f.availability])
        self.a_cov = self.a_cov + f.availability_cov
        self.u_cov = self.u_cov + f.usage_cov
        use = self.ap_use.setdefault(ap_id, [0.0, 0.0])
        use[0] += f.usage.client_hours
        use[1] += f.usage.observed_h
        self.rx_gb += f.usage.rx_gb
        self.tx_gb += f.usage.tx_gb

    def merge(self, other: SiteYear) -> None:
        """Another site's year into this group's (the peak is the group's own: set it from its hourly sums)."""
        if other.avail is not None:
            self.avail = other.avail if self.avail is None else combine([self.avail, other.avail])
        self.a_cov = self.a_cov + other.a_cov
        self.u_cov = self.u_cov + other.u_cov
        for k, (ch, obs) in other.ap_use.items():
            use = self.ap_use.setdefault(k, [0.0, 0.0])
            use[0] += ch
            use[1] += obs
        self.rx_gb += other.rx_gb
        self.tx_gb += other.tx_gb

    @property
    def client_hours(self) -> float:
        return sum(ch for ch, _ in self.ap_use.values())

    @property
    def observed_h(self) -> float:
        return sum(obs for _, obs in self.ap_use.values())


def _sum_usage(y: SiteYear) -> dict[str, Any]:
    mean = sum(ch / obs for ch, obs in y.ap_use.values() if obs > 0)
    return {"client_hours": round(y.client_hours, 1), "mean_clients": round(mean, 2),
            "peak_clients": round(y.peak, 1), "rx_gb": round(y.rx_gb, 3), "tx_gb": round(y.tx_gb, 3)}


def _row(y: SiteYear, min_share: float, t: dict[str, Any]) -> dict[str, Any]:
    a = y.avail if y.avail is not None else Availability(0, 0)
    ac = y.a_cov
    uc = y.u_cov
    out = {"availability_pct": None if a.pct is None else round(a.pct, 3), "down_h": round(a.down_s / 3600, 2),
           "unknown_h": round(a.unknown_s / 3600, 1), **_sum_usage(y), **cov.fields(ac, min_share),
           "usage_coverage_pct": round(100 * uc.share, 1), "usage_provisional": uc.provisional(min_share)}
    out["provisional"] = out["provisional"] or out["usage_provisional"]
    out["simulated"] = ac.simulated or uc.simulated
    out["remarks"] = remarks(out, t)
    return out


def write_fiscal(inv: Inventory, reader: PointReader, fy: int, out: Path, lang: str = "ja",
                 now: float | None = None, formats: tuple[str, ...] = ("html", "csv", "xlsx", "pdf"),
                 era: str | None = None) -> list[Path]:
    """The fiscal year's report; raises :class:`NoData` (writing nothing) if the year holds no data at all."""
    from analytics.monthly import month_period

    t = {**L[lang], **FL[lang]}
    era = era or inv.reports.era
    min_share = inv.reports.min_share
    p = fy_period(fy, now)
    fy_label = fiscal_text(fy, era, lang)
    per_site: dict[str, SiteYear] = {s.id: SiteYear() for s in inv.sites}
    kinds: dict[SiteKind, list[str]] = {}
    for s in inv.sites:
        kinds.setdefault(s.kind, []).extend(a.id for a in s.aps)
    kind_peak: dict[SiteKind, float] = dict.fromkeys(kinds, 0.0)
    month_rows: list[dict[str, Any]] = []
    any_data = False
    for y, m in fy_months(fy):
        mp = month_period(f"{y:04d}-{m:02d}", p.asof)
        label = month_text(y, m, era, lang)
        if mp.data_end <= mp.start:  # a month still to come: not データなし
            for s in inv.sites:
                month_rows.append({"month": f"{y:04d}-{m:02d}", "month_label": label, "site": s.id,
                                   "site_name": s.name_ja if lang == "ja" else s.name_en, "availability_pct": None,
                                   "client_hours": None, "coverage_pct": None, "remarks": t["future"]})
            continue
        # One month of the fleet at a time (read site batch by site batch, analytics.tables.figures); each
        # month's figures are folded into the year's sums and dropped before the next month is read.
        figs = figures(inv, reader, mp, None, ("availability", "usage"))
        any_data |= not is_empty(figs)
        for kind, ids in kinds.items():
            kind_peak[kind] = max(kind_peak[kind], group_peak(figs, ids))
        for s in inv.sites:
            sy = SiteYear()
            for ap in s.aps:
                sy.add(ap.id, figs[ap.id])
            sy.peak = group_peak(figs, [a.id for a in s.aps])
            whole = per_site[s.id]
            whole.merge(sy)
            whole.peak = max(whole.peak, sy.peak)
            r = _row(sy, min_share, t)
            month_rows.append({"month": f"{y:04d}-{m:02d}", "month_label": label, "site": s.id,
                               "site_name": s.name_ja if lang == "ja" else s.name_en,
                               "availability_pct": r["availability_pct"], "client_hours": r["client_hours"],
                               "coverage_pct": r["coverage_pct"], "observed_h": r["observed_h"],
                               "provisional": r["provisional"], "simulated": r["simulated"],
                               "in_progress": mp.in_progress, "remarks": r["remarks"]})
        del figs
    if not any_data:
        raise NoData(f"{fy_label}: {t['nodata']}")
    # The months to come are not part of the year's figures yet; the year's period is the whole year, so its
    # coverage says how much of the year the figures rest on.
    year_h = p.hours
    prev = client_hours_by_ap(inv, reader, fy_period(fy - 1, p.asof))
    site_rows = []
    for s in inv.sites:
        sy = per_site[s.id]
        r = _year_row(sy, len(s.aps), year_h, p, min_share, t)
        ids = [a.id for a in s.aps]
        r.update(_prev_fy(sy, [prev[i] for i in ids], min_share, lang, year_h, p))
        site_rows.append({"site": s.id, "site_name": s.name_ja if lang == "ja" else s.name_en,
                          "kind": KIND[lang][s.kind.value], "aps": len(s.aps), **r})
    measure_rows = [_measure_row(inv, no, kind, fy, per_site, kind_peak.get(kind, 0.0), prev, year_h, p, min_share,
                                 lang, t, era) for no, kind in MEASURES.items()]
    installs = _installs_by_fy(inv, era, lang)
    n_aps = max(1, sum(len(s.aps) for s in inv.sites))
    seen = cov.total(sy.a_cov for sy in per_site.values())
    all_cov = Coverage(year_h * n_aps, p.elapsed_h * n_aps, seen.observed_h, seen.excluded_h, seen.simulated_h)
    city = inv.city_ja if lang == "ja" else inv.city_en
    title = t["title"].format(city=city, fy=fy_label)
    head = period_header(p, t, lang, era, min_share, all_cov, all_cov.simulated)
    out.mkdir(parents=True, exist_ok=True)
    html = report_env().from_string(
        TEMPLATE.read_text(encoding="utf-8")).render(
        lang=lang, t=t, title=title, h=head, print_css=PRINT_CSS,
        sites=site_rows, months=month_rows, measures=measure_rows,
        installs=installs)
    from analytics.visitors.section import visitor_section  # issue 24: its own section, reading the visitor store

    visitors = visitor_section(inv, dt.date(fy, 4, 1), dt.date(fy + 1, 4, 1), lang)
    html = visitors.into(html) if visitors is not None else html
    report = out / f"fiscal-{fy}-{lang}.html"
    report.write_text(REDACTOR(html), encoding="utf-8")
    files = [report] if ("html" in formats or "pdf" in formats) else []
    site_cols = ("site", "site_name", "kind", "aps", "availability_pct", "down_h", "unknown_h", "client_hours",
                 "mean_clients", "peak_clients", "rx_gb", "tx_gb", "observed_h", "period_h", "coverage_pct",
                 "usage_coverage_pct", "provisional", "in_progress", "simulated", "change_prev_fy_pct",
                 "change_prev_fy_note", "remarks")
    month_cols = ("month", "month_label", "site", "site_name", "availability_pct", "client_hours", "observed_h",
                  "coverage_pct", "provisional", "simulated", "in_progress", "remarks")
    measure_cols = ("measure", "name", "target", "progress", "sites", "availability_pct", "client_hours",
                    "observed_h", "coverage_pct", "provisional", "simulated", "change_prev_fy_pct",
                    "change_prev_fy_note", "remarks")
    if "csv" in formats:
        for name, rows, cols in (("sites", site_rows, site_cols), ("months", month_rows, month_cols),
                                 ("measures", measure_rows, measure_cols)):
            path = out / f"fiscal-{fy}-{name}.csv"
            write_csv(path, rows, cols, note=t["nodata"])
            files.append(path)
        if visitors is not None:
            files.append(visitors.write_csv(out / f"fiscal-{fy}-visitors.csv"))
    if "xlsx" in formats:
        path = out / f"fiscal-{fy}-{lang}.xlsx"
        write_xlsx(path, [(t["sheet_sites"], list(site_cols), site_rows, t["nodata"]),
                          (t["sheet_months"], list(month_cols), month_rows, t["nodata"]),
                          (t["sheet_measures"], list(measure_cols), measure_rows, t["nodata"])],
                   header_lines(title, head, t))
        files.append(path)
    if "pdf" in formats:
        files.append(print_pdf(report, out / f"fiscal-{fy}-{lang}.pdf"))
    if "html" not in formats and "pdf" in formats:
        files.remove(report)
        report.unlink()
    return files


def _year_row(sy: SiteYear, n_aps: int, year_h: float, p: Period, min_share: float,
              t: dict[str, Any]) -> dict[str, Any]:
    """The year's figures: the months' observed hours against the whole year for each AP, so a year read in
    November is (at most) 8/12 covered and a 参考値 until it is nearly over."""
    k = max(1, n_aps)
    ac = Coverage(year_h * k, p.elapsed_h * k, sy.a_cov.observed_h, sy.a_cov.excluded_h, sy.a_cov.simulated_h)
    uc = Coverage(year_h * k, p.elapsed_h * k, sy.u_cov.observed_h, 0.0, sy.u_cov.simulated_h)
    return _row(replace(sy, a_cov=ac, u_cov=uc), min_share, t)


def _prev_fy(sy: SiteYear, prev: list[tuple[float, Coverage]], min_share: float, lang: str, year_h: float,
             p: Period) -> dict[str, Any]:
    ch = sy.client_hours
    obs = sy.observed_h
    ch0 = sum(x for x, _ in prev)
    c0 = cov.total(c for _, c in prev)
    now_cov = Coverage(year_h * max(1, len(prev)), p.elapsed_h * max(1, len(prev)), obs, 0.0, sy.u_cov.simulated_h)
    pct, why = cov.compare(ch / obs if obs else 0.0, now_cov, ch0 / c0.observed_h if c0.observed_h else 0.0, c0,
                           min_share, lang)
    return {"change_prev_fy_pct": pct, "change_prev_fy_note": why}


def _measure_row(inv: Inventory, no: int, kind: SiteKind, fy: int, per_site: dict[str, SiteYear], peak: float,
                 prev: dict[str, tuple[float, Coverage]], year_h: float, p: Period, min_share: float, lang: str,
                 t: dict[str, Any], era: str) -> dict[str, Any]:
    sites = [s for s in inv.sites if s.kind == kind]
    sy = SiteYear()
    for s in sites:
        sy.merge(per_site[s.id])
    sy.peak = peak
    aps = [a for s in sites for a in s.aps]
    r = _year_row(sy, len(aps), year_h, p, min_share, t) if aps else {
        "availability_pct": None, "client_hours": 0.0, "observed_h": 0.0, "coverage_pct": 0.0, "provisional": True,
        "simulated": False, "remarks": ""}
    if aps:
        r.update(_prev_fy(sy, [prev[a.id] for a in aps], min_share, lang, year_h, p))
    else:
        r.update({"change_prev_fy_pct": None, "change_prev_fy_note": ""})
    todo = sum(1 for c in inv.candidates if c.kind == kind)
    if no == 16:
        done = len(sites)
        progress = t["m16_progress"].format(done=done, todo=todo, pct=100 * done / max(1, done + todo))
    else:
        last = min(fy, PLAN_LAST_FY)
        done = sum(1 for s in sites if s.installed_on and PLAN_FIRST_FY <= fiscal_year_of(s.installed_on) <= last)
        due = max(0, (last - PLAN_FIRST_FY) // 2 + 1) if fy >= PLAN_FIRST_FY else 0
        progress = t["m17_progress"].format(
            done=done, due=due, state=t["on_track"] if done >= due else t["behind"],
            first=fiscal_text(PLAN_FIRST_FY, era, lang), last=fiscal_text(PLAN_LAST_FY, era, lang))
    return {"measure": no, "name": t[f"m{no}_name"], "target": t[f"m{no}_target"], "progress": progress,
            "sites": len(sites), **{k: v for k, v in r.items() if not k.startswith("_")}}


def _installs_by_fy(inv: Inventory, era: str, lang: str) -> list[dict[str, Any]]:
    """Sites installed per fiscal year of the plan period, by kind (the record measure 17 is judged on)."""
    out = []
    for fy in range(PLAN_FIRST_FY, PLAN_LAST_FY + 1):
        got: list[Site] = [s for s in inv.sites if s.installed_on and fiscal_year_of(s.installed_on) == fy]
        out.append({"fy": fiscal_text(fy, era, lang), "public_facility": sum(s.kind == SiteKind.PUBLIC_FACILITY
                                                                              for s in got),
                    "tourist_spot": sum(s.kind == SiteKind.TOURIST_SPOT for s in got),
                    "names": "、".join(s.name_ja if lang == "ja" else s.name_en for s in got)})
    return out
