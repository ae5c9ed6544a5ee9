"""Site and AP pages: charts over 24 h / 7 d / 30 d / 13 months, the incident timeline, maintenance windows."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from console.auth import logged_in, user_of
from console.charts import line_chart
from console.history import METRICS, RANGES, chart
from console.i18n import translator
from console.render import page
from core.maintenance import active_windows, expand

UNITS = {"clients": ("台", "clients"), "availability": ("%", "%"), "traffic": ("Mbit/s", "Mbit/s"),
         "rtt": ("ms", "ms"), "radio": ("台", "clients"), "radio_util": ("%", "%")}


def charts(request: Request[Any, Any, Any], tags: dict[str, str], range_key: str) -> list[dict[str, Any]]:
    ctx = request.app.state.console
    lang = user_of(request).lang
    t = translator(lang)
    now = time.time()
    out = []
    for metric in METRICS:
        c = chart(ctx.history, metric, tags, range_key, now)
        labels = {"rx_bps": t("rx"), "tx_bps": t("tx"), "clients": t("clients"), "reachable": t("availability"),
                  "rtt_ms": "RTT"}
        unit = UNITS[metric][0 if lang == "ja" else 1]
        title = t("chart_" + metric)
        out.append({"metric": metric, "title": title, "samples": c.samples,
                    "svg": line_chart(c, title, unit, labels, 100.0 if metric in ("availability", "radio_util")
                                      else None)})
    return out


def _range(r: str | None) -> str:
    return r if r in RANGES else "24h"


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
    return {"incidents": sorted(incs, key=lambda i: -i.start), "windows": sorted(set(wins)), "outages": outages}


@get("/aps/{ap_id:str}", guards=[logged_in], sync_to_thread=True)
def ap_page(request: Request[Any, Any, Any], ap_id: str, range: str | None = None) -> Template:  # noqa: A002
    ctx = request.app.state.console
    fleet = ctx.fleet(user_of(request).lang)
    for site in fleet.sites:
        for d in site.devices:
            if d.id == ap_id:
                rk = _range(range)
                start = time.time() - RANGES[rk][0]
                return page(request, "device.html", site=site, device=d, fleet=fleet, range_key=rk, ranges=list(RANGES),
                            charts=charts(request, {"ap": ap_id}, rk), **_timeline(request, {ap_id}, site.id, start))
    raise NotFoundException(f"no AP {ap_id!r}")


INLINE_DETAIL_MAX = 50  # a site with more devices gets its charts and timeline in a second request


def _site_detail(request: Request[Any, Any, Any], site: Any, rk: str) -> dict[str, Any]:
    start = time.time() - RANGES[rk][0]
    return {"range_key": rk, "ranges": list(RANGES), "charts": charts(request, {"site": site.id}, rk),
            **_timeline(request, {d.id for d in site.devices}, site.id, start)}


@get("/sites/{site_id:str}", guards=[logged_in], sync_to_thread=True)
def site_page(request: Request[Any, Any, Any], site_id: str, range: str | None = None) -> Template:  # noqa: A002
    """The site's devices at once; for a large site (hundreds of APs) the charts over the range and the timeline
    (reads of every AP's history) come in a second request the page makes, so its states never wait for them."""
    ctx = request.app.state.console
    fleet = ctx.fleet(user_of(request).lang)
    site = fleet.site(site_id)
    if site is None:
        raise NotFoundException(f"no site {site_id!r}")
    rk = _range(range)
    if len(site.devices) > INLINE_DETAIL_MAX:
        return page(request, "site.html", site=site, fleet=fleet, range_key=rk, ranges=list(RANGES),
                    detail_url=f"/sites/{site_id}/detail?range={rk}")
    return page(request, "site.html", site=site, fleet=fleet, **_site_detail(request, site, rk))


@get("/sites/{site_id:str}/detail", guards=[logged_in], sync_to_thread=True)
def site_detail(request: Request[Any, Any, Any], site_id: str, range: str | None = None) -> Template:  # noqa: A002
    ctx = request.app.state.console
    site = ctx.fleet(user_of(request).lang).site(site_id)
    if site is None:
        raise NotFoundException(f"no site {site_id!r}")
    return page(request, "_site_detail.html", site=site, **_site_detail(request, site, _range(range)))


handlers = [ap_page, site_page, site_detail]
