"""Site and AP pages: charts over 24 h / 7 d / 30 d / 13 months, the incident timeline, maintenance windows."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Template

from collector.alerts.wording import cause_text
from console.auth import logged_in, user_of
from console.charts import chart_data, line_chart
from console.history import METRICS, RANGES, chart, top_aps
from console.i18n import translator
from console.render import page
from core.dates import DateError, parse_day
from core.maintenance import JST, active_windows, expand

UNITS = {"clients": ("台", "clients"), "availability": ("%", "%"), "traffic": ("Mbit/s", "Mbit/s"),
         "rtt": ("ms", "ms"), "radio": ("台", "clients"), "ssid": ("台", "clients"), "radio_util": ("%", "%")}
COUNTS = {"clients", "radio", "ssid"}  # whole-number axes
DAY = 86400


def custom_range(frm: str | None, to: str | None) -> tuple[float, float] | None:
    """A date range typed as YYYY-MM-DD (JST days, both included); None when absent or not a date."""
    if not frm or not to:
        return None
    try:
        a = parse_day(frm[:10], "from")
        b = parse_day(to[:10], "to")
    except DateError:
        return None
    lo, hi = sorted((a.timestamp(), b.timestamp()))
    return lo, hi + DAY


def charts(request: Request[Any, Any, Any], tags: dict[str, str], range_key: str,
           custom: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    ctx = request.app.state.console
    lang = user_of(request).lang
    t = translator(lang)
    now = time.time()
    out = []
    labels = {"rx_bps": t("rx"), "tx_bps": t("tx"), "clients": t("clients"), "reachable": t("availability"),
              "rtt_ms": "RTT"}
    for metric in METRICS:
        c = chart(ctx.history, metric, tags, range_key, now, custom)
        unit = UNITS[metric][0 if lang == "ja" else 1]
        title = t("chart_" + metric)
        top = 100.0 if metric in ("availability", "radio_util") else None
        out.append({"metric": metric, "title": title, "samples": c.samples, "overall": c.overall, "unit": unit,
                    "data": chart_data(c, labels, top, integer=metric in COUNTS),
                    "svg": line_chart(c, title, unit, labels, top, integer=metric in COUNTS)})
    return out


def tops(request: Request[Any, Any, Any], tags: dict[str, str], range_key: str,
         custom: tuple[float, float] | None, names: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The busiest APs of a site by clients and by traffic over the range (one query each)."""
    ctx = request.app.state.console
    now = time.time()
    return {metric: [{"id": ap, "name": names.get(ap, ap), "mean": mean, "peak": peak}
                     for ap, mean, peak in top_aps(ctx.history, metric, tags, range_key, now, custom)]
            for metric in ("clients", "traffic")}


def _range(r: str | None) -> str:
    return r if r in RANGES else "24h"


def _range_ctx(rk: str, custom: tuple[float, float] | None) -> dict[str, Any]:
    now = time.time()
    a, b = custom or (now - RANGES[rk][0], now)
    return {"range_key": "custom" if custom else rk, "ranges": list(RANGES),
            "range_from": dt.datetime.fromtimestamp(a, JST).strftime("%Y-%m-%d"),
            "range_to": dt.datetime.fromtimestamp(b - (DAY if custom else 0), JST).strftime("%Y-%m-%d")}


def _timeline(request: Request[Any, Any, Any], device_ids: set[str], site_id: str, start: float) -> dict[str, Any]:
    ctx = request.app.state.console
    incs = [i for i in ctx.alerts.incidents(since=start) if i.device in device_ids or i.site == site_id]
    wins = []
    for dev in sorted(device_ids):
        for a, b, wid in expand(active_windows(ctx.inventory().maintenance, ctx.alerts.maintenance()), dev, site_id,
                                start, time.time() + 7 * 86400):
            wins.append((a, b, wid))
    from console.pages.incidents import history_outages

    outages = history_outages(ctx, start, time.time(), site_id, device_ids)
    return {"incidents": sorted(incs, key=lambda i: -i.start), "windows": sorted(set(wins)), "outages": outages,
            "cause_text": cause_text}


@get("/aps/{ap_id:str}", guards=[logged_in], sync_to_thread=True)
def ap_page(request: Request[Any, Any, Any], ap_id: str, range: str | None = None,  # noqa: A002
            frm: Annotated[str | None, Parameter(query="from")] = None, to: str | None = None) -> Template:
    ctx = request.app.state.console
    fleet = ctx.fleet(user_of(request).lang)
    for site in fleet.sites:
        for d in site.devices:
            if d.id == ap_id:
                rk, custom = _range(range), custom_range(frm, to)
                start = custom[0] if custom else time.time() - RANGES[rk][0]
                return page(request, "device.html", site=site, device=d, fleet=fleet, **_range_ctx(rk, custom),
                            charts=charts(request, {"ap": ap_id}, rk, custom),
                            **_timeline(request, {ap_id}, site.id, start))
    raise NotFoundException(f"no AP {ap_id!r}")


INLINE_DETAIL_MAX = 50  # a site with more devices gets its charts and timeline in a second request


def _site_detail(request: Request[Any, Any, Any], site: Any, range_: str | None, frm: str | None,
                 to: str | None) -> dict[str, Any]:
    rk, custom = _range(range_), custom_range(frm, to)
    start = custom[0] if custom else time.time() - RANGES[rk][0]
    names = {d.id: d.name for d in site.devices}
    return {**_range_ctx(rk, custom), "charts": charts(request, {"site": site.id}, rk, custom),
            "tops": tops(request, {"site": site.id}, rk, custom, names),
            **_timeline(request, {d.id for d in site.devices}, site.id, start)}


@get("/sites/{site_id:str}", guards=[logged_in], sync_to_thread=True)
def site_page(request: Request[Any, Any, Any], site_id: str, range: str | None = None,  # noqa: A002
              frm: Annotated[str | None, Parameter(query="from")] = None, to: str | None = None) -> Template:
    """The site's devices at once; for a large site (hundreds of APs) the charts over the range and the timeline
    (reads of every AP's history) come in a second request the page makes, so its states never wait for them."""
    ctx = request.app.state.console
    fleet = ctx.fleet(user_of(request).lang)
    site = fleet.site(site_id)
    if site is None:
        raise NotFoundException(f"no site {site_id!r}")
    if len(site.devices) > INLINE_DETAIL_MAX:
        query = urlencode({k: v for k, v in (("range", range), ("from", frm), ("to", to)) if v})
        return page(request, "site.html", site=site, fleet=fleet, detail_url=f"/sites/{site_id}/detail?{query}")
    return page(request, "site.html", site=site, fleet=fleet, **_site_detail(request, site, range, frm, to))


@get("/sites/{site_id:str}/detail", guards=[logged_in], sync_to_thread=True)
def site_detail(request: Request[Any, Any, Any], site_id: str, range: str | None = None,  # noqa: A002
                frm: Annotated[str | None, Parameter(query="from")] = None, to: str | None = None) -> Template:
    ctx = request.app.state.console
    site = ctx.fleet(user_of(request).lang).site(site_id)
    if site is None:
        raise NotFoundException(f"no site {site_id!r}")
    return page(request, "_site_detail.html", site=site, **_site_detail(request, site, range, frm, to))


handlers = [ap_page, site_page, site_detail]
