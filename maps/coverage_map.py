"""The coverage map: AP state, coverage circles, a heat layer of client-hours, ranked candidate sites.

Folium writes the Leaflet page; this module decides what goes on it. Every name from the inventory is
HTML-escaped before it reaches a popup or tooltip (Folium inserts popup HTML as-is).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, cast

import folium
from folium.plugins import HeatMap

from core.inventory import Inventory
from core.secrets import REDACTOR

GSI_TILES = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTR = '<a href="https://maps.gsi.go.jp/development/ichiran.html">国土地理院</a>'
COLORS = {"up": "#2e7d32", "degraded": "#f9a825", "down": "#c62828", "unknown": "#757575"}
LABELS = {
    "ja": {"up": "稼働", "degraded": "品質低下", "down": "停止", "unknown": "不明", "aps": "アクセスポイント",
           "coverage": "カバー範囲", "heat": "利用量 (延べ接続時間)", "candidates": "整備候補地",
           "legend": "凡例", "last_seen": "最終応答", "clients": "現在の接続数", "avail": "30日稼働率",
           "vendor": "機種", "rank": "優先順位", "selected": "今回整備", "round": "整備年度",
           "candidate": "候補地", "tiles_note": "背景地図の表示にはインターネット接続が必要です"},
    "en": {"up": "up", "degraded": "degraded", "down": "down", "unknown": "unknown", "aps": "Access points",
           "coverage": "Coverage", "heat": "Usage (client-hours)", "candidates": "Candidate sites",
           "legend": "Legend", "last_seen": "Last seen", "clients": "Clients now", "avail": "30-day availability",
           "vendor": "Vendor", "rank": "Rank", "selected": "Selected", "round": "Round", "candidate": "Candidate",
           "tiles_note": "The background map needs an internet connection"},
}


@dataclass(frozen=True)
class ApMapStatus:
    ap_id: str
    state: str  # up | degraded | down | unknown
    last_seen: str = "-"
    clients_now: int | None = None
    availability_30d_pct: float | None = None
    vendor: str | None = None


@dataclass(frozen=True)
class CandidateMarker:
    id: str
    rank: int
    selected: bool
    round: int | None
    score: float
    rationale: str


def _ap_position(inv: Inventory, site_lat: float, site_lon: float, lat: float | None, lon: float | None,
                 k: int) -> tuple[float, float]:
    if lat is not None and lon is not None:
        return lat, lon
    return site_lat + 0.00008 * k, site_lon + 0.00008 * k  # no own position: fan out around the site


def render_map(inv: Inventory, statuses: Mapping[str, ApMapStatus], heat: Sequence[tuple[float, float, float]] = (),
               candidates: Sequence[CandidateMarker] = (), lang: str = "ja", tiles: str = "gsi",
               offline: bool = False) -> folium.Map:
    t = LABELS[lang]
    pts = [(s.lat, s.lon) for s in inv.sites] + [(c.lat, c.lon) for c in inv.candidates]
    center = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)) if pts else (35.968, 140.63)
    m = folium.Map(location=center, zoom_start=14, tiles=None, control_scale=True)
    if tiles == "gsi":
        folium.TileLayer(GSI_TILES, attr=GSI_ATTR, name="国土地理院 標準地図" if lang == "ja" else "GSI standard map",
                         max_zoom=18).add_to(m)
    elif tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    else:
        folium.TileLayer(tiles, attr=escape(tiles), name="tiles").add_to(m)
    if len(pts) > 1:
        m.fit_bounds([[min(p[0] for p in pts), min(p[1] for p in pts)], [max(p[0] for p in pts),
                                                                          max(p[1] for p in pts)]], padding=(30, 30))
    aps = folium.FeatureGroup(name=t["aps"])
    cover = folium.FeatureGroup(name=t["coverage"])
    for site in inv.sites:
        for k, ap in enumerate(site.aps):
            lat, lon = _ap_position(inv, site.lat, site.lon, ap.lat, ap.lon, k)
            st = statuses.get(ap.id, ApMapStatus(ap.id, "unknown"))
            name = (ap.name_ja if lang == "ja" else ap.name_en) or ap.id
            site_name = site.name_ja if lang == "ja" else site.name_en
            other = site.name_en if lang == "ja" else site.name_ja
            avail = "-" if st.availability_30d_pct is None else f"{st.availability_30d_pct:.2f}%"
            popup = (f"<b>{escape(site_name)}</b> / {escape(other)}<br>{escape(name)} ({escape(ap.id)})<br>"
                     f"{t['vendor']}: {escape(st.vendor or ap.vendor)}<br>"
                     f"<span style='color:{COLORS[st.state]}'>● {t[st.state]}</span><br>"
                     f"{t['last_seen']}: {escape(st.last_seen)}<br>"
                     f"{t['clients']}: {'-' if st.clients_now is None else st.clients_now}<br>{t['avail']}: {avail}")
            folium.CircleMarker((lat, lon), radius=9, color="#fff", weight=2, fill=True,
                                fill_color=COLORS[st.state], fill_opacity=0.95,
                                popup=folium.Popup(REDACTOR(popup), max_width=320),
                                tooltip=escape(f"{name}: {t[st.state]}"), class_name=f"ww-ap ww-{st.state}").add_to(aps)
            folium.Circle((lat, lon), radius=inv.coverage_radius_for(site, ap), color=COLORS[st.state], weight=1,
                          fill=True, fill_opacity=0.12).add_to(cover)
    cover.add_to(m)
    aps.add_to(m)
    if heat:
        hl = folium.FeatureGroup(name=t["heat"])
        HeatMap([list(h) for h in heat], radius=25, blur=18, min_opacity=0.3).add_to(hl)
        hl.add_to(m)
    if candidates:
        by_id = {c.id: c for c in inv.candidates}
        cg = folium.FeatureGroup(name=t["candidates"])
        for cm in candidates:
            c = by_id.get(cm.id)
            if c is None:
                continue
            name = c.name_ja if lang == "ja" else c.name_en
            sel = f"<br><b>{t['selected']}</b>" + (f" ({t['round']} {cm.round})" if cm.round else "") if cm.selected \
                else ""
            popup = (f"<b>{t['rank']} {cm.rank}: {escape(name)}</b>{sel}<br>{escape(cm.rationale)}<br>"
                     f"score {cm.score:,.0f}")
            folium.Marker((c.lat, c.lon), popup=folium.Popup(popup, max_width=360),
                          tooltip=escape(f"{t['candidate']} {cm.rank}: {name}"),
                          icon=folium.DivIcon(html=f"<div class='ww-cand' style='background:"
                                                   f"{'#1565c0' if cm.selected else '#90a4ae'};color:#fff;"
                                                   f"border-radius:12px;width:24px;height:24px;text-align:center;"
                                                   f"line-height:24px;font-weight:bold'>{cm.rank}</div>",
                                              icon_size=(24, 24), icon_anchor=(12, 12))).add_to(cg)
        cg.add_to(m)
    legend = "".join(f"<div><span style='color:{COLORS[s]}'>●</span> {t[s]}</div>" for s in COLORS)
    legend += f"<div><span style='color:#1565c0'>①</span> {t['candidates']}</div>"
    if offline:
        legend += f"<div style='color:#555;font-size:11px;margin-top:4px'>{t['tiles_note']}</div>"
    cast(Any, m.get_root()).html.add_child(folium.Element(
        f"<div id='ww-legend' style='position:fixed;bottom:24px;left:12px;z-index:9999;background:#fff;"
        f"padding:8px 12px;border:1px solid #999;border-radius:6px;font:13px sans-serif'>"
        f"<b>{t['legend']}</b>{legend}</div>"))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


ASSETS = Path(__file__).resolve().parent / "assets"
_CDN = re.compile(r'<script src="https?://[^"]*"></script>|<link rel="stylesheet" href="https?://[^"]*"\s*/?>')


def inline_assets(html: str) -> str:
    """Replace folium's CDN scripts and styles with the vendored Leaflet files, inside the page."""
    inline = ("<style>" + (ASSETS / "leaflet.css").read_text(encoding="utf-8") + "</style>\n"
              "<script>" + (ASSETS / "jquery.min.js").read_text(encoding="utf-8") + "</script>\n"
              "<script>" + (ASSETS / "leaflet.js").read_text(encoding="utf-8") + "</script>\n"
              "<script>" + (ASSETS / "leaflet_heat.min.js").read_text(encoding="utf-8") + "</script>\n")
    first = _CDN.search(html)
    if first is None:
        return html
    stripped = _CDN.sub("", html)
    return stripped[: first.start()] + inline + stripped[first.start():]


def write_map(path: Path, inv: Inventory, statuses: Mapping[str, ApMapStatus],
              heat: Sequence[tuple[float, float, float]] = (), candidates: Sequence[CandidateMarker] = (),
              lang: str = "ja", tiles: str = "gsi", offline: bool = False) -> Path:
    """``offline``: every script and style inside the file, for PCs with no internet (tiles still need one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    html = render_map(inv, statuses, heat, candidates, lang, tiles, offline).get_root().render()
    if offline:
        html = inline_assets(html)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(REDACTOR(html), encoding="utf-8")
    tmp.replace(path)  # never leave a half-written map for someone to open
    return path
