"""``wifiwatch report visitors``: visitor figures (issue 24) from the visitor sessions in the store.

The JSON rows are a contract (issue 24 point 5): ``site``, ``date`` (JST), ``unique_devices`` (int or null when
suppressed), ``suppressed``, ``sessions`` (int or null), ``median_dwell_min`` (float or null), then the other
figures. Cells of fewer than ``[visitors] k_min`` devices are null in JSON and ``<k`` in tables and CSV.
Exit 3 (データがありません) when the period holds no session.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wifiwatch.common import ConfigOpt, UserError, console, err, load_inventory

VIEWS = ("figures", "flows", "languages", "heatmap", "events")
TEXT = {
    "ja": {"title": "利用分析 {a} 〜 {b}", "flows": "回遊 (同じ日に {h:g} 時間以内に別の拠点へ) {a} 〜 {b}",
           "languages": "ポータルの言語 {a} 〜 {b}", "heatmap": "曜日 × 時間帯の利用端末数 (延べ) {a} 〜 {b}",
           "note": "{k} 台未満のセルは「<{k}」と表示しています（秘匿処理）。新規・再訪は MAC アドレスのランダム化の"
                   "ため概算です。月・年度の利用端末数は日ごとの利用端末数の合計（延べ）です。",
           "sim": "模擬データを含みます（simulated 列）"},
    "en": {"title": "Visitors {a} to {b}", "flows": "Flows (same day, to another site within {h:g} h) {a} to {b}",
           "languages": "Portal language {a} to {b}", "heatmap": "Device-days by weekday and hour {a} to {b}",
           "note": "Cells of fewer than {k} devices show \"<{k}\" (suppressed). New vs returning is approximate "
                   "(MAC randomisation). Month and FY unique devices are sums of daily uniques (person-days).",
           "sim": "contains simulated data (column simulated)"},
}
TABLE_COLUMNS = ("site", "ap", "area", "date", "hour", "month", "fy", "unique_devices", "sessions",
                 "median_dwell_min", "dwell_lt3", "dwell_3_15", "dwell_15_60", "dwell_ge60", "new", "returning",
                 "randomized_pct", "unique_devices_dedup", "dedup_error_pct", "from_name", "to_name", "devices",
                 "share_pct", "lang", "weekday", "label", "comparable_days", "baseline_devices_per_day",
                 "uplift_pct")
COUNT_FIELDS = {"unique_devices", "sessions", "dwell_open", "dwell_lt3", "dwell_3_15", "dwell_15_60", "dwell_ge60",
                "new", "returning", "returning_unknown", "devices", "unique_devices_dedup"}


def _day(value: str, field: str) -> dt.date:
    from core.dates import DateError, parse_day

    try:
        return parse_day(value, field).date()
    except DateError as e:
        raise UserError(str(e)) from None


def _cell(name: str, v: Any, row: dict[str, Any], k: int) -> str:
    """A value as tables and CSV show it: ``<k`` for a hidden count (or any figure of a hidden row)."""
    if v is None:
        return f"<{k}" if name in COUNT_FIELDS or row.get("suppressed") else "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def view_rows(cube: Any, view: str, start: dt.date, end: dt.date, by: str, level: str, lang: str,
              only: set[str] | None) -> list[dict[str, Any]]:
    """The rows of one view of the suppressed cube (machine field names)."""
    from analytics.visitors import rows as vr

    months = sorted({int(cube.month_of_day[d]) for d in range((start - dt.date(1970, 1, 1)).days - cube.first_day,
                                                             (end - dt.date(1970, 1, 1)).days - cube.first_day)})
    if view == "figures":
        return vr.figure_rows(cube, start, end, by, level, lang, only)
    if view == "flows":
        return [{k: v for k, v in r.items() if not k.endswith(("_lat", "_lon"))}
                for r in vr.flow_rows(cube, lang, months)
                if only is None or r["from"] in only or r["to"] in only]
    out: list[dict[str, Any]] = []
    for i, u in enumerate(cube.units):
        if u.level != level or (only is not None and u.id not in only) or (view == "heatmap" and u.level == "ap"):
            continue
        for mi in months:
            if view == "languages":
                out += [{"site": u.id, "month": cube.months[mi], **r} for r in vr.language_rows(cube, i, mi, lang)]
            else:
                grid = vr.heatmap(cube, i, mi)
                for d, row in enumerate(grid):
                    for h, v in enumerate(row):
                        if v != 0:
                            out.append({"site": u.id, "month": cube.months[mi],
                                        "weekday": vr.WEEKDAYS[lang][d], "hour": h, "devices": v,
                                        "suppressed": v is None})
    return out


def _influx(inv: Any, config: Any, cube: Any, a: dt.date, b: dt.date, send: bool) -> None:
    """Print the shown cells as line protocol, or send them to [influxdb] in batches."""
    from analytics.visitors.points import figure_points

    lines = [p.to_line() for p in figure_points(cube, a, b)]
    if not send:
        console.out("\n".join(lines), highlight=False)
        return
    from core.store.influx import make_sink
    from wifiwatch.common import resolver_for

    if inv.influxdb is None:
        raise UserError("--to-influx needs an [influxdb] section in the config")
    sink = make_sink(inv.influxdb, resolver_for(inv, config))
    try:
        for i in range(0, len(lines), 5000):
            sink.send(lines[i:i + 5000])
    except Exception as e:  # noqa: BLE001 - SinkError and friends: one line, exit 2
        raise UserError(str(e)) from None
    finally:
        sink.close()
    console.print(f"visitors: {len(lines)} points -> InfluxDB", markup=False, highlight=False)


def register(report: typer.Typer) -> None:
    @report.command("visitors")
    def visitors(
        start: Annotated[str, typer.Option("--from", help="First day (JST), e.g. 2026-11-01")],
        end: Annotated[str, typer.Option("--to", help="Day after the last (JST, exclusive)")],
        by: Annotated[str, typer.Option("--by", help="hour, day, month or fy (年度)")] = "day",
        level: Annotated[str, typer.Option("--level", help="ap, site, area (site kind) or city")] = "site",
        view: Annotated[str, typer.Option("--view", help="figures, flows, languages, heatmap or events "
                                                         "(needs --events)")] = "figures",
        events: Annotated[Path | None, typer.Option("--events", help="Event calendar CSV (date,site,label): "
                                                    "--view events compares those days with the same weekdays")]
        = None,
        site: Annotated[list[str] | None, typer.Option("--site", help="Only this site/AP/area id (repeatable)")]
        = None,
        fmt: Annotated[str, typer.Option("--format", help="table, csv, json or influx (line protocol of every "
                                                          "shown hour and day cell, for Grafana)")] = "table",
        to_influx: Annotated[bool, typer.Option("--to-influx", help="Write the shown hour and day cells to "
                                                "[influxdb] (measurement visitors) for the Grafana dashboard")]
        = False,
        flow_hours: Annotated[float, typer.Option("--flow-hours", help="flows: B within this many hours of A")]
        = 3.0,
        config: ConfigOpt = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en (table headers)")] = "ja",
    ) -> None:
        """Visitors per site (or AP, area, city) and day (or hour, month, 年度): unique devices, sessions, dwell,
        new vs returning; or flows between sites, the portal-language mix, the weekday x hour heatmap.

        Cells of fewer than [visitors] k_min devices are hidden (<10); exit 3 when the period has no session."""
        from analytics.coverage import NoData
        from analytics.visitors.load import read_cube
        from analytics.visitors.rows import BY, HEAD, LEVEL_KEYS
        from wifiwatch.common import no_data
        from wifiwatch.labels import check_lang

        check_lang(lang)
        if fmt not in ("table", "csv", "json", "influx"):
            raise UserError("--format must be table, csv, json or influx")
        if by not in BY:
            raise UserError(f"--by must be one of {', '.join(BY)}")
        if level not in LEVEL_KEYS:
            raise UserError(f"--level must be one of {', '.join(LEVEL_KEYS)}")
        if view not in VIEWS:
            raise UserError(f"--view must be one of {', '.join(VIEWS)}")
        if by == "hour" and level == "ap":
            raise UserError("--by hour is per site, area or city (--level)")
        calendar = None
        if view == "events":
            from analytics.visitors.events import CalendarError, read_calendar

            if events is None:
                raise UserError("--view events needs --events FILE (CSV: date,site,label)")
            try:
                calendar = read_calendar(events)
            except CalendarError as e:
                raise UserError(str(e)) from None
        if not 0 < flow_hours <= 24:
            raise UserError("--flow-hours must be more than 0 and at most 24")
        a, b = _day(start, "--from"), _day(end, "--to")
        if b <= a:
            raise UserError("--to must be after --from")
        if by == "fy":  # one whole 年度 (April-March): its total is the cube's whole extent
            fy = a.year if a.month >= 4 else a.year - 1
            last = b - dt.timedelta(days=1)
            if (last.year if last.month >= 4 else last.year - 1) != fy:
                raise UserError("--by fy: --from and --to must fall in one 年度 (April to March)")
            a, b = dt.date(fy, 4, 1), dt.date(fy + 1, 4, 1)
        if (b - a).days > 400:
            raise UserError("--from/--to: at most 400 days at a time")
        inv = load_inventory(config)
        try:
            cube = read_cube(inv, a, b, hours=by == "hour" or view == "heatmap" or (b - a).days <= 62,
                             flow_hours=flow_hours, lang=lang)
        except NoData as e:
            raise no_data(str(e)) from None
        if fmt == "influx" or to_influx:
            _influx(inv, config, cube, a, b, to_influx)
            return
        only = set(site) if site else None
        if calendar is not None:
            from analytics.visitors.events import uplift_rows

            rows = [r for r in uplift_rows(cube, calendar, lang) if only is None or r["site"] in only]
        else:
            rows = view_rows(cube, view, a, b, by, level, lang, only)
        if not rows:
            raise no_data(f"{start} – {end}: " + ("データがありません" if lang == "ja" else "no data"))
        t = TEXT[lang]
        if fmt == "json":  # plain text: rich's JSON highlighting of a month of 1,000 sites costs more than the figures
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
            sys.stdout.flush()
        elif fmt == "csv":
            from core.escape import spreadsheet_cell

            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(list(rows[0]))
            w.writerows([[spreadsheet_cell(_cell(c, v, r, cube.k)) for c, v in r.items()] for r in rows])
            console.out(buf.getvalue(), end="")
        else:
            title = t["flows" if view == "flows" else view if view not in ("figures", "events") else "title"].format(
                a=a, b=b - dt.timedelta(days=1), h=flow_hours)
            table = Table(title=title)
            returning = any((r.get("new") or 0) + (r.get("returning") or 0) > 0 for r in rows)
            cols = [c for c in rows[0] if c in TABLE_COLUMNS and (returning or c not in ("new", "returning"))]
            for c in cols:
                table.add_column(HEAD[lang].get(c, c), overflow="fold")
            for r in rows:
                table.add_row(*[_cell(c, r.get(c), r, cube.k) for c in cols])
            console.print(table, markup=False)
            err.print(t["note"].format(k=cube.k), highlight=False, markup=False)
        if any(r.get("simulated") for r in rows):
            err.print(t["sim"], highlight=False, markup=False)


def opendata_visitors(inv: Any, months: list[str], allow_simulated: bool, encoding: str, t: dict[str, str],
                      lang: str) -> tuple[list[dict[str, Any]], bytes]:
    """``opendata export --visitors``: the months' hourly rows per site as CSV bytes (exit 3 without sessions,
    2 for a bad month or simulated data unless allowed)."""
    from analytics import opendata as od
    from analytics.coverage import NoData
    from analytics.visitors import opendata as vod
    from core.dates import DateError
    from wifiwatch.common import no_data

    try:
        rows = vod.month_rows(inv, months, allow_simulated, lang)
    except DateError as e:
        raise UserError(str(e)) from None
    except NoData as e:
        raise no_data(str(e)) from None
    except vod.SimulatedVisitors as e:
        raise UserError(str(e)) from None
    return rows, od.to_csv(rows, vod.COLUMNS, encoding)
