"""利用分析: visitor figures for a month (issue 24): unique devices per day, dwell bands, the weekday x hour heatmap,
flows between sites (a table and a map), the portal-language mix and the share of randomised addresses.

Every figure comes from analytics.visitors' suppressed cube, for every role: a cell of fewer than ``[visitors]
k_min`` devices shows ``<k``, and the cells that would give it away are hidden with it. Charts are inline SVG
drawn here (no script, no chart library), every label escaped.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import numpy as np
from litestar import Request, get
from litestar.response import Template
from markupsafe import Markup, escape

from console.auth import logged_in, user_of
from console.render import page
from core.maintenance import JST

CACHE_S = 300.0  # a month's figures are recounted at most every 5 minutes (sessions keep arriving)
CACHE_MONTHS = 3
W: dict[str, dict[str, str]] = {
    "ja": {"title": "利用分析", "month": "月", "site": "拠点", "all": "市全体", "show": "表示",
           "devices": "利用端末数 (延べ)", "dedup": "重複を除いた端末数 (推定)", "sessions": "接続回数",
           "median": "滞在時間の中央値", "random": "ランダムMACの割合", "daily": "日ごとの利用端末数",
           "bands": "滞在時間の分布 (端末数)", "heat": "曜日 × 時間帯 (延べ端末数)", "flows": "拠点間の回遊",
           "flows_note": "同じ端末が同じ日に拠点 A の次に {h:g} 時間以内に拠点 B を利用した数（延べ、日ごとの鍵のため"
                         "日をまたぐ回遊は数えられません）。",
           "from": "出発", "to": "到着", "langs": "ポータルの言語", "lang": "言語", "share": "割合",
           "sites": "拠点別", "aps": "AP別", "name": "名称", "new": "新規 (概算)", "returning": "再訪 (概算)",
           "minutes": "分", "none": "この月の利用データはありません。", "nodata_flows": "回遊はありません。",
           "k_note": "{k} 台未満のセルは「<{k}」と表示し、差し引きで分かってしまうセルも合わせて秘匿しています。",
           "approx": "新規・再訪は MAC アドレスのランダム化（iOS 14・Android 10 以降）のため概算です。月の利用端末数は"
                     "日ごとの利用端末数の合計（延べ）で、同じ人が別の日に来ると別に数えます。",
           "dedup_note": "推定 ±{e}%（HLL、95%）", "sim": "模擬データを含みます（実測ではありません）。",
           "hidden": "秘匿", "per_day": "台/日", "map_note": "円の大きさは利用端末数、線の太さは回遊の数。"
                                                          "点線は秘匿した回遊です。",
           "events": "イベント日の比較", "event": "イベント", "uplift": "増加率", "event_days": "イベント日",
           "usual": "比較日 (同じ曜日)"},
    "en": {"title": "Visitors", "month": "Month", "site": "Site", "all": "whole city", "show": "Show",
           "devices": "Unique devices (person-days)", "dedup": "Deduplicated devices (estimate)",
           "sessions": "Sessions", "median": "Median dwell", "random": "Randomised MAC share",
           "daily": "Unique devices per day", "bands": "Dwell (devices)", "heat": "Weekday x hour (device-days)",
           "flows": "Flows between sites",
           "flows_note": "The same device at site A, then at site B within {h:g} h on the same day (device-days; "
                         "the daily key cannot link days).",
           "from": "From", "to": "To", "langs": "Portal language", "lang": "Language", "share": "Share",
           "sites": "By site", "aps": "By AP", "name": "Name", "new": "New (approx.)",
           "returning": "Returning (approx.)",
           "minutes": "min", "none": "No visitor data for this month.", "nodata_flows": "No flows.",
           "k_note": "Cells of fewer than {k} devices show \"<{k}\"; cells that would give them away by subtraction "
                     "are hidden too.",
           "approx": "New vs returning is approximate (MAC randomisation, iOS 14+ and Android 10+). Monthly unique "
                     "devices are sums of daily uniques: one person on two days counts twice.",
           "dedup_note": "estimate ±{e}% (HLL, 95 %)", "sim": "Contains simulated data (not measured).",
           "hidden": "hidden", "per_day": "devices/day",
           "map_note": "Circle size: devices; line width: flows. Dotted: a hidden flow.",
           "events": "Event days compared", "event": "Event", "uplift": "Uplift", "event_days": "Event days",
           "usual": "Usual days (same weekday)"},
}
BAND_LABELS = {"ja": ("3分未満", "3〜15分", "15〜60分", "60分以上", "継続中"),
               "en": ("< 3 min", "3-15 min", "15-60 min", "60 min +", "open")}


def _month(value: str) -> tuple[str, dt.date, dt.date]:
    """The month asked for (YYYY-MM), or the current one in JST."""
    from core.dates import DateError, parse_month

    try:
        y, m = parse_month(value) if value else (dt.datetime.now(JST).year, dt.datetime.now(JST).month)
    except DateError:
        y, m = dt.datetime.now(JST).year, dt.datetime.now(JST).month
    first = dt.date(y, m, 1)
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.strftime("%Y-%m"), first, nxt


def cube_for(request: Request[Any, Any, Any], first: dt.date, nxt: dt.date) -> Any:
    """The month's suppressed cube, kept a few minutes per server (None: no session that month)."""
    from analytics.coverage import NoData
    from analytics.visitors.load import read_cube

    state = request.app.state
    cache = state.get("visitor_cubes")
    if cache is None:
        cache = state.visitor_cubes = {}
    key = first.isoformat()
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]
    try:
        cube = read_cube(state.console.inventory(), first, nxt)
    except NoData:
        cube = None
    if len(cache) >= CACHE_MONTHS:  # a 1,000-AP month's cube is tens of MB: keep a few
        cache.pop(min(cache, key=lambda m: cache[m][0]))
    cache[key] = (time.monotonic(), cube)
    return cube


def _n(v: int | None, k: int) -> str:
    return f"<{k}" if v is None else f"{v:,}"


def bars_svg(values: list[tuple[str, int | None]], k: int, title: str) -> Markup:
    """Horizontal bars; a hidden value is an outlined bar labelled ``<k``."""
    top = max((v for _, v in values if v), default=1)
    h = 24 * len(values) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 520 {h}" role="img" class="chart" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, v) in enumerate(values):
        y = 4 + 24 * i
        parts.append(f'<text x="0" y="{y + 14}" font-size="12" fill="#1f2328">{escape(label)}</text>')
        if v is None:
            parts.append(f'<rect x="110" y="{y + 2}" width="40" height="16" fill="none" stroke="#8c959f" '
                         f'stroke-dasharray="3 2"/><text x="156" y="{y + 14}" font-size="11" fill="#57606a">'
                         f"{escape(_n(None, k))}</text>")
        else:
            w = 340 * v / top
            parts.append(f'<rect x="110" y="{y + 2}" width="{w:.1f}" height="16" fill="#0969da"/>'
                         f'<text x="{116 + w:.1f}" y="{y + 14}" font-size="11" fill="#1f2328">{v:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_svg(grid: list[list[int | None]], days: list[str], k: int, title: str) -> Markup:
    """Weekday x hour; a hidden cell is hatched grey with no number."""
    vmax = max((v for row in grid for v in row if v), default=1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 200" role="img" class="chart heatmap" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
             '<defs><pattern id="hid" width="4" height="4" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="4" height="4" fill="#eaeef2"/>'
             '<line x1="0" y1="0" x2="0" y2="4" stroke="#afb8c1" stroke-width="1.5"/></pattern></defs>']
    for h in range(24):
        parts.append(f'<text x="{44 + h * 28}" y="12" font-size="10" fill="#57606a" text-anchor="middle">{h}</text>')
    for d, row in enumerate(grid):
        y = 18 + d * 25
        parts.append(f'<text x="0" y="{y + 16}" font-size="12" fill="#1f2328">{escape(days[d])}</text>')
        for h, v in enumerate(row):
            x = 31 + h * 28
            if v is None:
                fill, label = "url(#hid)", f"<{k}"
            else:
                a = v / vmax if vmax else 0.0
                fill, label = f"rgb({int(255 - 220 * a)},{int(255 - 150 * a)},255)", f"{v:,}"
            parts.append(f'<rect x="{x}" y="{y}" width="26" height="23" fill="{fill}" data-cell="{d}-{h}">'
                         f"<title>{escape(days[d])} {h}:00 {escape(label)}</title></rect>")
    parts.append("</svg>")
    return Markup("".join(parts))


def flow_map_svg(sites: list[dict[str, Any]], flows: list[dict[str, Any]], k: int, title: str) -> Markup:
    """Sites at their coordinates (equirectangular, fitted), circles by devices, flows as lines by size; a hidden
    flow is dotted and unlabelled."""
    placed = [s for s in sites if s["lat"] is not None and s["lon"] is not None]
    width, height, pad = 720, 360, 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart flowmap" aria-label="{escape(title)}"><title>{escape(title)}</title>'
             f'<rect width="{width}" height="{height}" fill="#f6f8fa"/>']
    if not placed:
        return Markup("".join(parts) + "</svg>")
    lat0 = sum(s["lat"] for s in placed) / len(placed)
    kx = math.cos(math.radians(lat0))
    xs = [s["lon"] * kx for s in placed]
    ys = [s["lat"] for s in placed]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-4)
    scale = min(width - 2 * pad, height - 2 * pad) / span

    def at(s: dict[str, Any]) -> tuple[float, float]:
        return (pad + (s["lon"] * kx - min(xs)) * scale + (width - 2 * pad - (max(xs) - min(xs)) * scale) / 2,
                height - pad - (s["lat"] - min(ys)) * scale - (height - 2 * pad - (max(ys) - min(ys)) * scale) / 2)

    pos = {s["id"]: at(s) for s in placed}
    fmax = max((f["devices"] or 0 for f in flows), default=1) or 1
    parts.append('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="12" markerHeight="12" '
                 'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#cf222e"/></marker>'
                 '</defs>')
    dmax = max((s["devices"] or 0 for s in placed), default=1) or 1
    radius = {s["id"]: 6 + 14 * math.sqrt((s["devices"] or 0) / dmax) for s in placed}
    for f in flows:
        if f["from"] not in pos or f["to"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[f["from"]], pos[f["to"]]
        off = 4.0  # A->B and B->A side by side
        dx, dy = x2 - x1, y2 - y1
        ln = math.hypot(dx, dy) or 1.0
        ox, oy = -dy / ln * off, dx / ln * off
        # from edge to edge of the two circles, so the arrow head stays visible
        ra, rb = radius[f["from"]] + 2, radius[f["to"]] + 2
        x1, y1, x2, y2 = x1 + dx / ln * ra, y1 + dy / ln * ra, x2 - dx / ln * rb, y2 - dy / ln * rb
        if f["devices"] is None:
            style = 'stroke="#8c959f" stroke-width="1.5" stroke-dasharray="4 3"'
        else:
            style = f'stroke="#cf222e" stroke-width="{1.5 + 6 * f["devices"] / fmax:.1f}" marker-end="url(#arrow)"'
        parts.append(f'<line x1="{x1 + ox:.1f}" y1="{y1 + oy:.1f}" x2="{x2 + ox:.1f}" y2="{y2 + oy:.1f}" {style} '
                     f'stroke-opacity="0.75" data-flow="{escape(f["from"])}>{escape(f["to"])}"><title>'
                     f'{escape(f["from_name"])} → {escape(f["to_name"])}: {escape(_n(f["devices"], k))}</title></line>')
    for s in placed:
        x, y = pos[s["id"]]
        r = radius[s["id"]]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#0969da" fill-opacity="0.55" '
                     f'stroke="#0550ae" data-site="{escape(s["id"])}"/>'
                     f'<text x="{x:.1f}" y="{y - r - 4:.1f}" font-size="12" text-anchor="middle" fill="#1f2328">'
                     f'{escape(s["name"])} ({escape(_n(s["devices"], k))})</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def view(cube: Any, unit: int, lang: str) -> dict[str, Any]:
    """Everything the page shows for ``unit`` (the city or a site) in the cube's first month."""
    from analytics.visitors import rows as vr
    from analytics.visitors.cube import BANDS, COL, DEV, SES, day_date
    from console.charts import line_chart
    from console.history import Chart, Line

    w = W[lang]
    k = cube.k
    u = cube.units[unit]
    mo_row = vr.figure_rows(cube, day_date(cube.first_day), day_date(cube.first_day + cube.n_days), "month",
                            u.level, lang, {u.id})
    month = mo_row[0] if mo_row else None
    counts, mask = cube.D[unit, :, DEV], cube.S_D[unit, :, DEV]
    values = np.where(mask, np.nan, counts.astype(float))
    chart = Chart("visitors", float((cube.first_day * 86400) - 9 * 3600), 86400, [Line("devices", values)],
                  int((counts > 0).sum()))
    daily = line_chart(chart, w["daily"], w["per_day"], {"devices": w["devices"]})
    bands = [(BAND_LABELS[lang][i], None if cube.S_MO[unit, 0, COL[b]] else int(cube.MO[unit, 0, COL[b]]))
             for i, b in enumerate((*BANDS[1:], BANDS[0]))]
    heat = heat_svg(vr.heatmap(cube, unit, 0), vr.WEEKDAYS[lang], k, w["heat"])
    site_rows = vr.figure_rows(cube, day_date(cube.first_day), day_date(cube.first_day + cube.n_days), "month",
                               "site", lang)
    aps = {x.id for x in cube.units if x.level == "ap" and cube.units[x.parent].id == u.id} if u.level == "site" \
        else set()
    ap_rows = vr.figure_rows(cube, day_date(cube.first_day), day_date(cube.first_day + cube.n_days), "month",
                             "ap", lang, aps) if aps else []
    flows = vr.flow_rows(cube, lang, [0])
    if u.level == "site":
        flows = [f for f in flows if u.id in (f["from"], f["to"])]
    sites = [{"id": x.id, "name": x.name(lang), "lat": x.lat, "lon": x.lon,
              "devices": None if cube.S_MO[i, 0, DEV] else int(cube.MO[i, 0, DEV])}
             for i, x in enumerate(cube.units) if x.level == "site"]
    return {"month_row": month, "daily": daily, "bands": bars_svg(bands, k, w["bands"]), "heat": heat,
            "sites": site_rows, "aps": ap_rows, "flows": flows, "flow_map": flow_map_svg(sites, flows, k, w["flows"]),
            "langs": vr.language_rows(cube, unit, 0, lang), "k": k, "flow_hours": cube.flow_hours,
            "sessions": None if cube.S_MO[unit, 0, SES] else int(cube.MO[unit, 0, SES]),
            "simulated": bool(cube.MO_sim[unit, 0])}


@get("/visitors", guards=[logged_in], sync_to_thread=True)
def visitors_page(request: Request[Any, Any, Any], month: str = "", site: str = "") -> Template:
    lang = "en" if user_of(request).lang == "en" else "ja"
    key, first, nxt = _month(month)
    cube = cube_for(request, first, nxt)
    inv = request.app.state.console.inventory()
    data: dict[str, Any] | None = None
    unit = 0
    if cube is not None:
        found = cube.unit_index("site", site) if site else None
        unit = found if found is not None else 0
        data = view(cube, unit, lang)
    from analytics.visitors.rows import LANG_NAMES

    return page(request, "visitors.html", w=W[lang], month=key, site=site if unit else "", data=data,
                lang_names=LANG_NAMES[lang],
                site_choices=[(s.id, s.name_ja if lang == "ja" else s.name_en) for s in inv.sites],
                k=cube.k if cube is not None else None, n=lambda v: _n(v, cube.k if cube is not None else 10))


handlers = [visitors_page]
