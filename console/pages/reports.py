"""報告: what the daemon wrote into [reports] dir (monthly and 年度 reports as HTML, CSV, xlsx, PDF), and the
open-data exports made on request. Files are served only from inside that folder."""

from __future__ import annotations

import datetime as dt
import mimetypes
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import File, Template

from console.auth import logged_in, user_of
from console.render import page
from core.maintenance import JST

SHOWN = {".html", ".csv", ".xlsx", ".pdf", ".json", ".txt"}
MAX_FILES = 2000


def reports_root(inv: Any) -> Path:
    return Path(inv.reports.dir).resolve()


def listing(root: Path) -> list[dict[str, Any]]:
    """Report files under ``root``, newest first: path relative to it, size and time."""
    if not root.is_dir():
        return []
    out = []
    for p in root.rglob("*"):
        if p.is_file() and p.suffix.lower() in SHOWN and not p.is_symlink():
            st = p.stat()
            out.append({"rel": p.relative_to(root).as_posix(), "size": st.st_size, "mtime": st.st_mtime,
                        "kind": p.suffix.lower().lstrip(".")})
            if len(out) >= MAX_FILES:
                break
    return sorted(out, key=lambda f: (-f["mtime"], f["rel"]))


@get("/reports", guards=[logged_in], sync_to_thread=True)
def reports_page(request: Request[Any, Any, Any], error: str = "") -> Template:
    return _page(request, error)


def _page(request: Request[Any, Any, Any], error: str) -> Template:
    inv = request.app.state.console.inventory()
    month = (dt.datetime.now(JST).replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    return page(request, "reports.html", files=listing(reports_root(inv)), root=inv.reports.dir, month=month,
                error=error)


@get("/reports/file/{rel:path}", guards=[logged_in], sync_to_thread=True)
def report_file(request: Request[Any, Any, Any], rel: str) -> File:
    if "\x00" in rel:  # no file name holds one; the path functions raise on it
        raise NotFoundException("no such report")
    root = reports_root(request.app.state.console.inventory())
    target = (root / rel.lstrip("/")).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix.lower() not in SHOWN:
        raise NotFoundException("no such report")
    inline = target.suffix.lower() in (".html", ".pdf", ".txt")
    headers = {"Content-Security-Policy": "sandbox; default-src 'self' data: 'unsafe-inline'",
               "X-Content-Type-Options": "nosniff"}
    return File(target, filename=target.name, content_disposition_type="inline" if inline else "attachment",
                media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream", headers=headers)


@get("/reports/opendata/{what:str}", guards=[logged_in], sync_to_thread=True)
def opendata(request: Request[Any, Any, Any], what: str, month: str = "") -> Response[bytes] | Template:
    """The 公衆無線LANアクセスポイント一覧 dataset, or one month's usage figures (provisional ones withheld)."""
    from analytics import opendata as od

    ctx = request.app.state.console
    inv = ctx.inventory()
    if what == "sites":
        rows, _ = od.site_rows(inv)
        data, name = od.to_csv(rows, od.COLUMNS), f"{inv.municipality_code}_public_wireless_lan.csv"
    elif what == "usage":
        try:
            dt.datetime.strptime(month, "%Y-%m")
            export = od.usage_export(inv, ctx.history, [month], lang=user_of(request).lang)
        except ValueError as e:  # a bad month, simulated data (SimulatedData), no data (NoData)
            return _page(request, str(e) or f"{month}: YYYY-MM")
        except Exception as e:  # noqa: BLE001 - any refusal is shown on the page, not as a 500
            return _page(request, str(e))
        data, name = od.to_csv(export.rows, od.USAGE_COLUMNS), f"{inv.municipality_code}_wifi_usage_{month}.csv"
    elif what == "visitors":  # issue 24: logins and unique devices per site and hour, small cells as <10
        from analytics.coverage import NoData
        from analytics.visitors import opendata as vod

        try:
            data = od.to_csv(vod.month_rows(inv, [month], lang=user_of(request).lang), vod.COLUMNS)
        except (ValueError, NoData, vod.SimulatedVisitors) as e:  # a bad month, no sessions, simulated: said here
            return _page(request, str(e) or f"{month}: YYYY-MM")
        name = f"{inv.municipality_code}_wifi_visitors_{month}.csv"
    else:
        raise NotFoundException("no such export")
    ctx.users.audit(user_of(request).name, "opendata-export", what, month)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


handlers = [reports_page, report_file, opendata]
