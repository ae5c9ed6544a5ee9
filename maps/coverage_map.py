"""The coverage map: AP state, coverage circles, a heat layer of usage, the candidate sites of one plan.

Folium writes the Leaflet page; this module decides what goes on it and says what each mark means:
a legend control (never over the metric scale), a label on every site, popups with units and the
budget and round a candidate belongs to. Every name is data: it passes ``html_text`` before it reaches
a popup, tooltip, label or legend (folium puts these inside JavaScript template literals). Scripts and
styles are vendored (``maps.assets``); the background is a local tile archive (``maps.tiles``) unless an
online service is asked for by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import folium
from branca.element import MacroElement
from folium.plugins import HeatMap
from jinja2 import Template

from core import state as st
from core.inventory import Inventory
from core.secrets import REDACTOR
from maps.assets import local_map, localize
from maps.safe_text import html_text
from maps.tiles import GSI_STD, SOURCES, Band, TileCache, TileError, Unpacked, refused, unpacked

COLORS = {str(k): v for k, v in st.COLORS.items()}  # core.state: the same colours and words in every view
FUNDED, UNFUNDED = "#1565c0", "#90a4ae"
# Usage heat in one cyan hue, light to dark: no AP state colour (green, amber, red, blue, grey) is reused, so a
# busy area never reads as a fault. The legend's swatch is drawn from the same stops.
HEAT_GRADIENT = {0.3: "#b2ebf2", 0.65: "#26c6da", 1.0: "#006064"}
AP_PANE = "ww-aps"  # AP dots draw above candidate markers and labels (Leaflet's marker pane is z-index 600)
LABELS = {
    "ja": {"aps": "アクセスポイント", "data_at": "データ取得",
           "ap_state": "AP の状態", "coverage": "カバー範囲（設定半径）", "heat": "利用量（過去30日の延べ接続時間）",
           "heat_scale": "少 → 多", "candidates": "整備候補地", "funded": "整備対象（予算内で選定）",
           "unfunded": "対象外（この予算では選ばれない）", "legend": "凡例", "last_seen": "最終応答",
           "clients": "現在の接続数", "clients_unit": "台", "avail": "30日稼働率 (ping 応答の割合)", "vendor": "機種",
           "rank": "優先順位", "candidate": "候補地", "site": "設置場所",
           "visitors": "新たにカバーする来訪者", "visitors_unit": "人/年", "cost": "整備費用", "yen": "円",
           "per_visitor": "来訪者1人あたり費用（耐用期間の総費用）", "per_visitor_unit": "円/人", "score": "評価値",
           "score_unit": "人/年・百万円", "why": "理由", "plan": "計画",
           "budget_one": "予算 {b} 円", "budget_rounds": "予算 {b} 円/回、整備年度 {r}",
           "budget_each": "整備年度と予算 {r}", "year_budget": "{y}年度 {b} 円", "in_round": "（予算 {b} 円の回）",
           "budget_used": "使用 {u} 円", "funded_in": "{r}年度に整備", "funded_one": "この予算で整備",
           "not_funded": "この予算では対象外", "plan_of": "（{p}の計画）", "background": "背景",
           "no_background": "背景地図なし（wifiwatch tiles fetch で取得できます）",
           "sites": "設置場所名", "layer_candidates": "整備候補地（計画）"},
    "en": {"aps": "Access points", "data_at": "Data taken",
           "ap_state": "AP state", "coverage": "Coverage (configured radius)", "heat": "Usage (client-hours, 30 days)",
           "heat_scale": "low → high", "candidates": "Candidate sites", "funded": "Funded (within budget)",
           "unfunded": "Not funded at this budget", "legend": "Legend", "last_seen": "Last seen",
           "clients": "Clients now", "clients_unit": "",
           "avail": "30-day availability (heartbeats answered)", "vendor": "Vendor",
           "rank": "Rank", "candidate": "Candidate", "site": "Site",
           "visitors": "Newly covered visitors", "visitors_unit": "visitors/yr", "cost": "Installation cost",
           "yen": "yen", "per_visitor": "Cost per visitor (life cost)", "per_visitor_unit": "yen/visitor",
           "score": "Score",
           "score_unit": "visitors/yr per million yen", "why": "Why", "plan": "Plan",
           "budget_one": "budget {b} yen", "budget_rounds": "budget {b} yen per round, rounds {r}",
           "budget_each": "rounds and budgets {r}", "year_budget": "{y}: {b} yen", "in_round": " (a {b}-yen round)",
           "budget_used": "{u} yen used", "funded_in": "funded in {r}", "funded_one": "funded at this budget",
           "not_funded": "not funded at this budget", "plan_of": " ({p})", "background": "Background",
           "no_background": "No background map (get one with wifiwatch tiles fetch)",
           "sites": "Site names", "layer_candidates": "Candidate sites (plan)"},
}
for _lang, _i in (("ja", 0), ("en", 1)):
    LABELS[_lang].update({str(k): v[_i] for k, v in st.LABELS.items()})
# Two scenarios on one map (the console's 整備計画 A and B): A keeps the usual markers, B's picks get a ring.
COMPARE_COLOR = "#6a1b9a"  # violet: no AP state colour, no heat colour, unlike A's blue
LABELS["ja"].update({"layer_a": "整備候補地（シナリオA）", "layer_b": "シナリオBの選定", "plan_a": "計画（シナリオA）",
                     "funded_b": "シナリオBで整備（紫の枠）", "scenario_b": "シナリオB"})
LABELS["en"].update({"layer_a": "Candidate sites (scenario A)", "layer_b": "Scenario B's picks",
                     "plan_a": "Plan (scenario A)",
                     "funded_b": "Funded in scenario B (violet ring)", "scenario_b": "Scenario B"})
_CSS = """<style>
.ww-label{font:bold 12px sans-serif;color:#1a1a1a;white-space:nowrap;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff}
.ww-cand{color:#fff;border-radius:12px;width:24px;height:24px;text-align:center;line-height:24px;
 font:bold 13px sans-serif;border:2px solid #fff;box-shadow:0 0 2px #333}
.ww-cand-label{position:absolute;left:28px;top:4px}
.ww-site-label{position:absolute;left:0;top:0}
.ww-legend{background:#fff;padding:6px 10px;border:1px solid #999;border-radius:6px;font:12px sans-serif;
 line-height:1.5;max-width:330px}
.ww-legend .sw{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:5px;vertical-align:-1px}
.ww-legend .cv{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:5px;vertical-align:-1px;
 border:1px solid #2e7d32;background:rgba(46,125,50,.15)}
.ww-legend .ht{display:inline-block;width:60px;height:10px;margin-right:5px;vertical-align:0;
 background:linear-gradient(to right,#b2ebf2,#26c6da,#006064)}
.ww-legend .note{color:#555;font-size:11px}
.ww-legend summary{cursor:pointer;font-weight:bold}
.leaflet-control-layers-toggle{background-image:none!important;text-align:center;font:20px/36px sans-serif;color:#333}
.leaflet-control-layers-toggle::after{content:"\\2630"}
@media (max-width:640px){.ww-legend{max-width:220px;font-size:11px}}
</style>"""


@dataclass(frozen=True)
class ApMapStatus:
    ap_id: str
    state: str  # a core.state.State value
    last_seen: str = "-"
    clients_now: int | None = None
    availability_30d_pct: float | None = None
    vendor: str | None = None
    reason: str = ""  # core.state reasons, comma-separated
    age: str = ""  # how old its newest heartbeat is, in words


def snapshot_statuses(snap: Any, availability: Mapping[str, float | None] | None = None,
                      lang: str = "ja") -> dict[str, ApMapStatus]:
    """Per AP, what a collector.snapshot.FleetSnapshot says (state, reason, age, clients, vendor): both maps render
    the same states as every other view."""
    import datetime as dt

    def seen(ts: float | None) -> str:
        return "-" if ts is None else dt.datetime.fromtimestamp(ts, st.JST).strftime("%Y-%m-%d %H:%M:%S")

    return {d.id: ApMapStatus(d.id, d.state, seen(d.last_beat if d.reachable else None), d.clients,
                              (availability or {}).get(d.id), d.vendor, d.reason, st.age_text(d.age_s, lang))
            for s in snap.sites for d in s.devices if d.role == "ap"}


def snapshot_note(snap: Any, lang: str = "ja") -> str:
    """The legend's line on the data's age; says monitoring stopped when the snapshot is not live."""
    t = LABELS[lang]
    import datetime as dt

    at = "-" if snap.data_at is None else dt.datetime.fromtimestamp(snap.data_at, st.JST).strftime("%m/%d %H:%M:%S")
    note = f"{t['data_at']} {at}" + (f" ({st.age_text(snap.data_age_s, lang)})" if snap.data_at else "")
    return note if snap.monitor == "live" else f"{st.monitor_label(snap.monitor, lang)} · {note}"


@dataclass(frozen=True)
class CandidateMarker:
    id: str
    rank: int
    selected: bool
    round: int | None
    score: float  # newly covered visitors a year per million yen
    rationale: str
    newly_covered_visitors: int | None = None
    cost_yen: int | None = None
    cost_per_visitor_yen: float | None = None


@dataclass(frozen=True)
class PlanInfo:
    """Which plan the candidate markers show: the budget of each round (fiscal year) they were picked for."""

    budget_yen: int | None = None  # a one-round plan
    round_budgets: tuple[tuple[int, int], ...] = ()  # (fiscal year, yen) of each round
    budget_used_yen: int | None = None

    def describe(self, lang: str) -> str:
        t = LABELS[lang]
        sep = "、" if lang == "ja" else ", "
        budgets = {b for _, b in self.round_budgets}
        if len(budgets) == 1:
            text = t["budget_rounds"].format(b=f"{budgets.pop():,}", r=", ".join(str(y) for y, _ in self.round_budgets))
        elif self.round_budgets:
            text = t["budget_each"].format(r=sep.join(t["year_budget"].format(y=y, b=f"{b:,}")
                                                      for y, b in self.round_budgets))
        else:
            text = t["budget_one"].format(b=f"{self.budget_yen or 0:,}")
        if self.budget_used_yen is not None:
            text += sep + t["budget_used"].format(u=f"{self.budget_used_yen:,}")
        return text

    def round_budget(self, year: int | None) -> int | None:
        return next((b for y, b in self.round_budgets if y == year), None)


def plan_markers(result: Any) -> tuple[list[CandidateMarker], PlanInfo]:
    """The markers and plan description for a planner PlanResult (``analytics.planner.plan``)."""
    cands = [CandidateMarker(c.id, c.rank, c.selected, c.round, c.score, c.rationale, c.newly_covered_visitors,
                             c.cost_yen, c.cost_per_visitor_yen) for c in result.candidates]
    years = list(result.round_years)
    rounds = [(y, r.budget_yen) for y, r in zip(years, result.rounds, strict=False) if y is not None]
    return cands, PlanInfo(result.budget_yen if not rounds else None, tuple(rounds), result.budget_used_yen)


@dataclass(frozen=True)
class Background:
    """Where the background tiles come from, and what the map must say about them."""

    url: str  # XYZ template: relative for a map file, /tiles/... for the console, https:// when online
    attribution: str  # HTML
    name: str
    max_zoom: int = 18
    bands: tuple[Band, ...] = ()  # an archive's zoom bands: Leaflet asks for no tile it does not hold
    simulated: bool = False


def online_background(kind: str, lang: str = "ja") -> Background:
    """An online tile service, only when asked for by name (``gsi``, ``osm``) or as an https:// template."""
    if kind == "gsi":
        return Background(GSI_STD.url, GSI_STD.attribution, GSI_STD.name_ja if lang == "ja" else GSI_STD.name_en,
                          GSI_STD.max_zoom)
    if kind == "osm":
        return Background("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                          '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
                          "OpenStreetMap", 19)
    return Background(kind, html_text(kind), "tiles")


def cache_background(cache: TileCache | Unpacked, url: str, lang: str = "ja") -> Background:
    """The archive's tiles at ``url`` ({z}/{x}/{y}); its attribution is ours for sources we know, else text."""
    info = cache.info
    source = SOURCES.get(cache.source)
    if info.simulated:
        from maps.demo_background import DEMO_SOURCE

        attribution = DEMO_SOURCE.attribution
        name = DEMO_SOURCE.name_ja if lang == "ja" else DEMO_SOURCE.name_en
    elif source is not None:
        attribution, name = source.attribution, source.name_ja if lang == "ja" else source.name_en
    else:
        attribution, name = html_text(info.attribution or info.path.name), info.name or info.path.name
    return Background(url, attribution, name, info.max_zoom, info.bands, info.simulated)


class _Control(MacroElement):
    """A Leaflet control holding fixed HTML (the legend), placed by Leaflet so it never covers another control."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var c = L.control({position: {{ this.position|tojson }}});
            c.onAdd = function () {
                var d = L.DomUtil.create('div', {{ this.css_class|tojson }});
                d.id = {{ this.dom_id|tojson }};
                d.innerHTML = {{ this.html_json }};
                L.DomEvent.disableClickPropagation(d);
                L.DomEvent.disableScrollPropagation(d);
                return d;
            };
            c.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html: str, position: str, css_class: str, dom_id: str) -> None:
        super().__init__()
        self.position, self.css_class, self.dom_id = position, css_class, dom_id
        # JSON inside a <script>: "</" would end the script, so it is written as "<\\/".
        self.html_json = json.dumps(html, ensure_ascii=False).replace("</", "<\\/")


class _MetricScale(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, maxWidth: 160, position: 'bottomleft'})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class _Phone(MacroElement):
    """On a wide screen the layer list and the legend start open; on a phone both start folded (a tap opens
    them), so the map and its zoom buttons stay in reach."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            var narrow = map.getContainer().clientWidth < 640;
            var layers = document.querySelector('.leaflet-control-layers');
            if (layers && !narrow) { layers.classList.add('leaflet-control-layers-expanded'); }
            var legend = document.querySelector('#ww-legend details');
            if (legend && narrow) { legend.open = false; }
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class _Declutter(MacroElement):
    """Labels never print over each other: after every zoom or pan, each label in order of ``data-prio``
    (sites first, then candidates by rank) goes right of its marker, or left of it (``data-off``: pixels
    from the marker's centre), where it overlaps no candidate number and no label already placed; a label
    with no room is hidden until a closer zoom, and its marker's tooltip still names it."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            function overlaps(r, s) {
                return r.left < s.right && r.right > s.left && r.top < s.bottom && r.bottom > s.top;
            }
            function declutter() {
                var taken = Array.from(document.querySelectorAll('.ww-cand')).map(function (e) {
                    return e.getBoundingClientRect();
                });
                var labels = Array.from(document.querySelectorAll('.ww-label'));
                labels.sort(function (a, b) { return (+a.dataset.prio) - (+b.dataset.prio); });
                labels.forEach(function (el) {
                    el.style.visibility = 'visible';
                    el.style.transform = '';
                    var w = el.getBoundingClientRect().width, off = +el.dataset.off;
                    // Right of its marker, else mirrored to the left of it, else hidden.
                    var placed = [0, -(w + 2 * off)].some(function (dx) {
                        el.style.transform = 'translateX(' + dx + 'px)';
                        var r = el.getBoundingClientRect();
                        if (taken.some(function (s) { return overlaps(r, s); })) { return false; }
                        taken.push(r);
                        return true;
                    });
                    if (!placed) { el.style.visibility = 'hidden'; }
                });
            }
            map.on('zoomend moveend overlayadd overlayremove', declutter);
            map.whenReady(function () { setTimeout(declutter, 0); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)


def _ap_position(site_lat: float, site_lon: float, lat: float | None, lon: float | None,
                 k: int) -> tuple[float, float]:
    if lat is not None and lon is not None:
        return lat, lon
    return site_lat + 0.00008 * k, site_lon + 0.00008 * k  # no own position: fan out around the site


def _num(v: float | None, unit: str, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f} {unit}".rstrip()


def _candidate_popup(lang: str, name: str, cm: CandidateMarker, plan: PlanInfo | None) -> str:
    t = LABELS[lang]
    plan_text = plan.describe(lang) if plan else ""
    if cm.selected:
        status = t["funded_in"].format(r=cm.round) if cm.round else t["funded_one"]
        budget = plan.round_budget(cm.round) if plan and cm.round else None
        if budget is not None:
            status += t["in_round"].format(b=f"{budget:,}")
        status = f"<b style='color:{FUNDED}'>{status}</b>"
    else:
        status = f"<b style='color:#546e7a'>{t['not_funded']}</b>"
    rows = [f"<b>{t['rank']} {cm.rank}: {html_text(name)}</b>",
            status + t["plan_of"].format(p=html_text(plan_text)),
            f"{t['visitors']}: {_num(cm.newly_covered_visitors, t['visitors_unit'])}",
            f"{t['cost']}: {_num(cm.cost_yen, t['yen'])}",
            f"{t['per_visitor']}: {_num(cm.cost_per_visitor_yen, t['per_visitor_unit'], 1)}",
            f"{t['score']}: {_num(cm.score, t['score_unit'])}",
            f"{t['why']}: {html_text(cm.rationale)}"]
    return "<br>".join(rows)


def _legend(t: dict[str, str], heat: bool, candidates: bool, plan_text: str | None,
            background: Background | None, data_note: str | None = None) -> str:
    # the data's time stays in sight when the legend is folded (a phone): it heads the legend
    note = f"<div class='ww-data-at'>{html_text(data_note)}</div>" if data_note else ""
    parts = [f"<details open><summary>{t['legend']}</summary>", f"<div>{t['ap_state']}: " + " ".join(
        f"<span class='sw' style='background:{COLORS[s]}'></span>{t[s]}" for s in COLORS) + "</div>",
        f"<div><span class='cv'></span>{t['coverage']}</div>"]
    if heat:
        parts.append(f"<div><span class='ht'></span>{t['heat']} {t['heat_scale']}</div>")
    if candidates:
        parts.append(f"<div><span class='sw' style='background:{FUNDED}'></span>{t['funded']}</div>")
        parts.append(f"<div><span class='sw' style='background:{UNFUNDED}'></span>{t['unfunded']}</div>")
    if plan_text:
        parts.append(f"<div>{t['plan']}: {html_text(plan_text)}</div>")
    if background is None:
        parts.append(f"<div class='note'>{t['no_background']}</div>")
    else:
        parts.append(f"<div class='note'>{t['background']}: {html_text(background.name)}</div>")
    return note + "".join(parts) + "</details>"


def render_map(inv: Inventory, statuses: Mapping[str, ApMapStatus], heat: Sequence[tuple[float, float, float]] = (),
               candidates: Sequence[CandidateMarker] = (), lang: str = "ja", background: Background | None = None,
               plan: PlanInfo | None = None, data_note: str | None = None,
               compare: tuple[Sequence[CandidateMarker], PlanInfo | None] | None = None) -> folium.Map:
    """``data_note``: when the AP states' data was taken (and, when it is old, that monitoring stopped).
    ``compare``: a second scenario's markers and plan (B), drawn as rings on their own layer beside A's."""
    t = LABELS[lang]
    pts = [(s.lat, s.lon) for s in inv.sites] + [(c.lat, c.lon) for c in inv.candidates]
    center = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)) if pts else (35.968, 140.63)
    bands = sorted(background.bands, key=lambda b: b.min_zoom) if background else []
    m = local_map(location=center, zoom_start=14, tiles=None, control_scale=False,
                  min_zoom=bands[0].min_zoom if bands else 0)
    if background is not None and not bands:
        folium.TileLayer(background.url, attr=background.attribution, name=html_text(background.name),
                         max_native_zoom=background.max_zoom, max_zoom=19).add_to(m)
    for k, band in enumerate(bands):
        # The coarsest band shows at every zoom (stretched past its own), each finer band from its first
        # zoom on, inside its area: Leaflet never asks for a tile the archive does not hold.
        w, s, e, n = band.bounds
        folium.TileLayer(background.url if background else "", attr=background.attribution if background else "",
                         name=html_text(background.name) if background else "", overlay=k > 0, control=k == 0,
                         min_zoom=band.min_zoom if k else 0, max_zoom=19, min_native_zoom=band.min_zoom,
                         max_native_zoom=band.max_zoom, bounds=[[s, w], [n, e]]).add_to(m)
    fit = [(s.lat, s.lon) for s in inv.sites] + ([(c.lat, c.lon) for c in inv.candidates] if candidates else [])
    if len(fit) > 1:  # the network (and the candidates on the map): not the whole city, not a strip of it
        m.fit_bounds([[min(p[0] for p in fit), min(p[1] for p in fit)], [max(p[0] for p in fit),
                                                                          max(p[1] for p in fit)]], padding=(40, 40),
                     max_zoom=17)
    cast(Any, m.get_root()).header.add_child(folium.Element(_CSS), name="ww_css")
    folium.map.CustomPane(AP_PANE, z_index=650).add_to(m)
    aps = folium.FeatureGroup(name=t["aps"])
    cover = folium.FeatureGroup(name=html_text(t["coverage"]))
    labels = folium.FeatureGroup(name=t["sites"])
    for site in inv.sites:
        site_name = site.name_ja if lang == "ja" else site.name_en
        other = site.name_en if lang == "ja" else site.name_ja
        folium.Marker((site.lat, site.lon), icon=folium.DivIcon(
            html=f"<div class='ww-label ww-site-label' data-prio='0' data-off='12'>{html_text(site_name)}</div>",
            icon_size=(1, 1), icon_anchor=(-12, 18)), interactive=False).add_to(labels)
        for k, ap in enumerate(site.aps):
            lat, lon = _ap_position(site.lat, site.lon, ap.lat, ap.lon, k)
            ms = statuses.get(ap.id, ApMapStatus(ap.id, "unknown"))
            state = ms.state if ms.state in COLORS else "unknown"
            name = (ap.name_ja if lang == "ja" else ap.name_en) or ap.id
            avail = "-" if ms.availability_30d_pct is None else f"{ms.availability_30d_pct:.2f}%"
            why = ", ".join(st.reason_label(r, lang) for r in ms.reason.split(",") if r)
            popup = (f"<b>{html_text(site_name)}</b> / {html_text(other)}<br>{html_text(name)} ({html_text(ap.id)})"
                     f"<br>{t['vendor']}: {html_text(ms.vendor or ap.vendor)}<br>"
                     f"<span style='color:{COLORS[state]}'>● {t[state]}</span>"
                     + (f" ({html_text(why)})" if why else "") + "<br>"
                     f"{t['last_seen']}: {html_text(ms.last_seen)}" + (f" ({html_text(ms.age)})" if ms.age else "")
                     + f"<br>{t['clients']}: {_num(ms.clients_now, t['clients_unit'])}<br>{t['avail']}: {avail}")
            dot = folium.CircleMarker((lat, lon), radius=9, color="#fff", weight=2, fill=True,
                                      fill_color=COLORS[state], fill_opacity=0.95,
                                      popup=folium.Popup(REDACTOR(popup), max_width=320),
                                      tooltip=folium.Tooltip(html_text(f"{name}: {t[state]}")),
                                      class_name=f"ww-ap ww-{state} ww-ap-{ap.id}")
            dot.options["pane"] = AP_PANE  # folium drops a pane argument; Leaflet reads it from the options
            dot.add_to(aps)
            folium.Circle((lat, lon), radius=inv.coverage_radius_for(site, ap), color=COLORS[state], weight=1,
                          fill=True, fill_opacity=0.12).add_to(cover)
    cover.add_to(m)
    if heat:
        hl = folium.FeatureGroup(name=html_text(t["heat"]))
        HeatMap([list(h) for h in heat], radius=25, blur=18, min_opacity=0.3, gradient=HEAT_GRADIENT).add_to(hl)
        hl.add_to(m)
    aps.add_to(m)
    labels.add_to(m)
    plan_text = plan.describe(lang) if plan else None
    if candidates:
        by_id = {c.id: c for c in inv.candidates}
        cg = folium.FeatureGroup(name=html_text(t["layer_a" if compare else "layer_candidates"]))
        for cm in candidates:
            c = by_id.get(cm.id)
            if c is None:
                continue
            name = c.name_ja if lang == "ja" else c.name_en
            popup = _candidate_popup(lang, name, cm, plan)
            color = FUNDED if cm.selected else UNFUNDED
            folium.Marker((c.lat, c.lon), popup=folium.Popup(REDACTOR(popup), max_width=360),
                          tooltip=folium.Tooltip(html_text(f"{t['candidate']} {cm.rank}: {name}")),
                          icon=folium.DivIcon(
                              html=(f"<div class='ww-cand {'ww-funded' if cm.selected else 'ww-unfunded'}' "
                                    f"style='background:{color}'>{cm.rank}</div>"
                                    f"<div class='ww-label ww-cand-label' data-prio='{int(cm.rank)}' data-off='16'>"
                                    f"{html_text(name)}</div>"),
                              icon_size=(24, 24), icon_anchor=(12, 12))).add_to(cg)
        cg.add_to(m)
    if compare:
        _compare_layer(m, inv, compare[0], compare[1], lang)
    _MetricScale().add_to(m)
    _Declutter().add_to(m)
    legend = _legend(t if not compare else {**t, "plan": t["plan_a"]}, bool(heat), bool(candidates), plan_text,
                     background, data_note)
    if compare:
        b_text = compare[1].describe(lang) if compare[1] else ""
        legend += (f"<div><span class='sw' style='background:#fff;border:3px solid {COMPARE_COLOR}'></span>"
                   f"{t['funded_b']}{': ' + html_text(b_text) if b_text else ''}</div>")
    _Control(legend, "bottomright", "ww-legend", "ww-legend").add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    _Phone().add_to(m)
    return m


def _compare_layer(m: folium.Map, inv: Inventory, markers: Sequence[CandidateMarker], plan: PlanInfo | None,
                   lang: str) -> None:
    """Scenario B's picks: a violet ring with B's rank, beside (not over) A's marker of the same site."""
    t = LABELS[lang]
    by_id = {c.id: c for c in inv.candidates}
    layer = folium.FeatureGroup(name=html_text(t["layer_b"]))
    for cm in markers:
        c = by_id.get(cm.id)
        if c is None or not cm.selected:
            continue
        name = c.name_ja if lang == "ja" else c.name_en
        popup = f"<b>{t['scenario_b']}</b><br>" + _candidate_popup(lang, name, cm, plan)
        folium.Marker((c.lat, c.lon), popup=folium.Popup(REDACTOR(popup), max_width=360),
                      tooltip=folium.Tooltip(html_text(f"{t['scenario_b']} {cm.rank}: {name}")),
                      icon=folium.DivIcon(
                          html=(f"<div class='ww-cand ww-cand-b' data-candidate='{html_text(cm.id)}' "
                                f"style='background:#fff;color:{COMPARE_COLOR};border:3px solid {COMPARE_COLOR};"
                                f"width:30px;line-height:18px;height:24px'>"
                                f"B{cm.rank}</div>"),
                          icon_size=(30, 24), icon_anchor=(-14, 30))).add_to(layer)
    layer.add_to(m)


def map_html(inv: Inventory, statuses: Mapping[str, ApMapStatus], heat: Sequence[tuple[float, float, float]] = (),
             candidates: Sequence[CandidateMarker] = (), lang: str = "ja", background: Background | None = None,
             plan: PlanInfo | None = None, asset_url: str | None = None, data_note: str | None = None,
             compare: tuple[Sequence[CandidateMarker], PlanInfo | None] | None = None) -> str:
    """The map page as text, for a server: scripts linked under ``asset_url`` (``maps.assets.asset_path``
    serves them) or inlined, tiles from ``background`` (e.g. ``cache_background(cache, "/map/tiles/{z}/{x}/{y}.png")``
    with ``TileCache.get`` answering those URLs)."""
    html = render_map(inv, statuses, heat, candidates, lang, background, plan, data_note,
                      compare).get_root().render()
    return REDACTOR(localize(html, asset_url))


def tiles_folder(html_path: Path) -> Path:
    """Where a map file's background tiles go: a folder beside it, named after it."""
    return html_path.with_name(html_path.stem + "_tiles")


def write_map(path: Path, inv: Inventory, statuses: Mapping[str, ApMapStatus],
              heat: Sequence[tuple[float, float, float]] = (), candidates: Sequence[CandidateMarker] = (),
              lang: str = "ja", tiles: str = "auto", tile_file: Path | None = None,
              plan: PlanInfo | None = None, asset_url: str | None = None, data_note: str | None = None) -> Path:
    """Write the map page: scripts inlined (or linked under ``asset_url``), the background as ``tiles`` says.

    ``tiles``: ``auto`` draws ``tile_file`` when it exists and no background otherwise (the legend says
    how to get one); ``cache`` requires it; ``none``; or an online service asked for by name (``gsi``,
    ``osm``, an https:// template). The archive's tiles are unpacked into ``<name>_tiles/`` beside the
    page and linked relatively, which Chromium loads from file:// with no network at all.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    background: Background | None = None
    if tiles in ("auto", "cache"):
        if tile_file is not None and tile_file.exists():
            folder = tiles_folder(path)
            try:
                with TileCache(tile_file) as cache:
                    cache.extract(folder)
                    background = cache_background(cache, f"{folder.name}/{{z}}/{{x}}/{{y}}.{cache.tile_format}",
                                                  lang)
            except TileError as e:  # an archive that breaks a limit: one log line, the last good tiles stay
                last = unpacked(folder)
                if last is None and tiles == "cache":
                    raise
                refused(tile_file, e)
                if last is not None:
                    background = cache_background(last, f"{folder.name}/{{z}}/{{x}}/{{y}}.{last.tile_format}", lang)
        elif tiles == "cache":
            raise TileError(f"{tile_file}: no tile archive there (make one with `wifiwatch tiles fetch`)")
    elif tiles != "none":
        background = online_background(tiles, lang)
    html = map_html(inv, statuses, heat, candidates, lang, background, plan, asset_url, data_note)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # never leave a half-written map for someone to open
    return path
