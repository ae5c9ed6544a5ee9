"""``wifiwatch report availability|usage|capacity|monthly``: read the embedded store or InfluxDB.

Exit codes: 0 written; 2 an option or the config cannot be used; 3 (NO_DATA_EXIT) the period holds no data at
all (データがありません), so nothing is written rather than a report of zeros.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.inventory import Inventory
from core.secrets import SecretResolver
from wifiwatch.common import (
    ConfigOpt,
    UserError,
    console,
    err,
    load_inventory,
    no_data,
    resolver_for,
    with_store_windows,
)

SourceOpt = Annotated[str, typer.Option("--source", help="sqlite (embedded store) or influx")]
EraOpt = Annotated[str | None, typer.Option("--era", help="seireki (2026年11月) or reiwa (令和8年11月); "
                                                        "default: [reports] era")]


def _era(era: str | None) -> None:
    if era not in (None, "seireki", "reiwa"):
        raise UserError("--era must be seireki or reiwa")


def _site_of(inv: Inventory, ap_id: str) -> str | None:
    return next((s.id for s, a in inv.aps() if a.id == ap_id), None)


def open_reader(inv: Inventory, source: str, resolver: SecretResolver) -> Any:
    if source == "influx":
        if inv.influxdb is None:
            raise UserError("--source influx needs an [influxdb] section in the config")
        from core.store.influx import make_reader

        return make_reader(inv.influxdb, resolver)
    if source != "sqlite":
        raise UserError("--source must be sqlite or influx")
    path = Path(inv.store.path)
    if not path.exists():
        raise UserError(f"no embedded store at {path} yet (run the daemon or the demo first)")
    from core.store.sqlite_store import SqliteStore

    return SqliteStore(path, inv.store)


def _date(value: str, field: str) -> float:
    from core.dates import DateError, parse_day

    try:
        return parse_day(value, field).timestamp()
    except DateError as e:
        raise UserError(str(e)) from None


NOTICE = {
    "ja": {"nodata": "データがありません: {what}",
           "prov": "参考値: {n} 行は観測率が {pct:.0f}% 未満です（provisional 列）",
           "sim": "模擬データを含みます（simulated 列）", "progress": "集計中の期間です（集計時点 {asof}）"},
    "en": {"nodata": "no data: {what}",
           "prov": "provisional: {n} rows observed on less than {pct:.0f}% of the period",
           "sim": "contains simulated data (column simulated)",
           "progress": "period in progress (figures as of {asof})"},
}


def _notices(rows: list[dict[str, Any]], inv: Inventory, lang: str, asof: str | None) -> None:
    t = NOTICE["en" if lang == "en" else "ja"]
    n = sum(1 for r in rows if r.get("provisional"))
    if n:
        err.print(t["prov"].format(n=n, pct=inv.reports.min_coverage_pct), highlight=False, markup=False)
    if any(r.get("simulated") for r in rows):
        err.print(t["sim"], highlight=False, markup=False)
    if asof and any(r.get("in_progress") for r in rows):
        err.print(t["progress"].format(asof=asof), highlight=False, markup=False)


def _emit(rows: list[dict[str, Any]], fmt: str, title: str, lang: str = "ja") -> None:
    """JSON and CSV keep the field names (machine-read); the table's headers are in ``lang``."""
    from wifiwatch.labels import label

    if fmt == "json":
        console.print_json(json.dumps(rows, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        if rows:
            from core.escape import spreadsheet_cell

            w = csv.writer(buf)
            w.writerow(list(rows[0]))
            w.writerows([[spreadsheet_cell(v) for v in r.values()] for r in rows])
        console.out(buf.getvalue(), end="")
    else:
        table = Table(title=title)
        cols = list(rows[0]) if rows else ["(no rows)"]
        for c in cols:
            table.add_column(label(c, lang), no_wrap=True)
        for r in rows:
            table.add_row(*["-" if r[c] is None else str(r[c]) for c in cols])
        console.print(table, markup=False)



def _write_files(config: Path | None, source: str, pdf: bool,
                 write: Callable[[Inventory, Any, tuple[str, ...]], list[Path]]) -> None:
    """Open the store, write one report in every format (PDF unless --no-pdf) and print the files written;
    an empty period exits 3 (データがありません), a failed PDF or a bad value is one line."""
    from analytics.coverage import NoData
    from analytics.export import PdfError
    from analytics.monthly import FORMATS

    inv = with_store_windows(load_inventory(config))
    reader = open_reader(inv, source, resolver_for(inv, config))
    formats = FORMATS if pdf else tuple(f for f in FORMATS if f != "pdf")
    try:
        files = write(inv, reader, formats)
    except NoData as e:
        raise no_data(str(e)) from None
    except PdfError as e:
        raise UserError(f"{e} (or use --no-pdf)") from None
    except ValueError as e:
        raise UserError(str(e)) from None
    for f in files:
        console.print(str(f), markup=False, highlight=False)

def register(app: typer.Typer) -> None:
    report = typer.Typer(help="Availability, usage, capacity, monthly and 年度 reports. Exit 3: the period holds "
                         "no data (データがありません).", no_args_is_help=True)
    app.add_typer(report, name="report")

    def period_cmd(kind: str) -> Any:
        def cmd(
            start: Annotated[str, typer.Option("--from", help="Start date (JST), e.g. 2026-11-01")],
            end: Annotated[str, typer.Option("--to", help="End date (JST, exclusive)")],
            config: ConfigOpt = None,
            site: Annotated[str | None, typer.Option("--site", help="Only this site id")] = None,
            fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
            source: SourceOpt = "sqlite",
            lang: Annotated[str, typer.Option("--lang", help="ja or en (table headers)")] = "ja",
        ) -> None:
            import time

            from analytics.tables import Period, availability_rows, capacity_rows, figures, is_empty, usage_rows
            from wifiwatch.labels import check_lang

            if fmt not in ("table", "csv", "json"):
                raise UserError("--format must be table, csv or json")
            check_lang(lang)
            inv = with_store_windows(load_inventory(config))
            if site is not None and site not in {s.id for s in inv.sites}:
                raise UserError(f"--site: no site '{site}'")
            p = Period(_date(start, "--from"), _date(end, "--to"), time.time())
            if p.end <= p.start:
                raise UserError("--to must be after --from")
            reader = open_reader(inv, source, resolver_for(inv, config))
            parts = {"availability": ("availability",), "usage": ("usage",), "capacity": ("capacity",)}[kind]
            figs = figures(inv, reader, p, site if kind != "capacity" else None, parts)
            if is_empty({k: v for k, v in figs.items() if site is None or _site_of(inv, k) == site}):
                raise no_data(NOTICE[lang]["nodata"].format(what=f"{start} – {end}"))
            if kind == "availability":
                rows = availability_rows(inv, reader, p, site, figs=figs)
            elif kind == "usage":
                rows = usage_rows(inv, reader, p, site, lang=lang)
            else:
                rows = [r for r in capacity_rows(inv, reader, p, figs=figs) if site is None or r["site"] == site]
            asof = dt.datetime.fromtimestamp(p.data_end).astimezone(dt.timezone(dt.timedelta(hours=9)))
            asof_word = "集計時点" if lang == "ja" else "as of"
            asof_note = f" ({asof_word} {asof:%Y-%m-%d %H:%M})" if p.in_progress else ""
            _emit(rows, fmt, f"{kind} {start} – {end}{asof_note}", lang)
            _notices(rows, inv, lang, f"{asof:%Y-%m-%d %H:%M}")

        cmd.__doc__ = f"{kind.capitalize()} per AP and site for a period."
        return cmd

    for kind in ("availability", "usage", "capacity"):
        report.command(kind)(period_cmd(kind))

    from wifiwatch.commands import report_visitors

    report_visitors.register(report)  # `report visitors` (issue 24): visitor figures from the visitor sessions

    @report.command("monthly")
    def monthly(
        month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
        out: Annotated[Path, typer.Option("--out", help="Folder for the HTML report and CSV files")],
        config: ConfigOpt = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        source: SourceOpt = "sqlite",
        era: EraOpt = None,
        pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print the HTML to PDF (Chromium)")] = True,
    ) -> None:
        """Monthly report: HTML (Japanese by default) with charts, a CSV of every table, .xlsx and PDF.

        Exit 3 when the month holds no data (データがありません); nothing is written then."""
        from analytics.monthly import parse_month, write_monthly

        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        _era(era)
        try:
            parse_month(month)
        except ValueError as e:
            raise UserError(str(e)) from None
        _write_files(config, source, pdf,
                     lambda inv, reader, fmts: write_monthly(inv, reader, month, out, lang, formats=fmts, era=era))

    @report.command("fiscal")
    def fiscal(
        year: Annotated[str, typer.Option("--year", help="Fiscal year, e.g. 2026 (April 2026 - March 2027)")],
        out: Annotated[Path, typer.Option("--out", help="Folder for the HTML report, CSV, .xlsx and PDF")],
        config: ConfigOpt = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        source: SourceOpt = "sqlite",
        era: EraOpt = None,
        pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print the HTML to PDF (Chromium)")] = True,
    ) -> None:
        """年度 (April-March) report per site, per month and per plan measure 16/17 with the plan's progress.

        Exit 3 when the year holds no data (データがありません); nothing is written then."""
        from analytics.fiscal import parse_fy, write_fiscal

        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        _era(era)
        try:
            fy = parse_fy(year)
        except ValueError as e:
            raise UserError(str(e)) from None
        _write_files(config, source, pdf,
                     lambda inv, reader, fmts: write_fiscal(inv, reader, fy, out, lang, formats=fmts, era=era))

    @report.command("influx-rollups")
    def influx_rollups(
        config: ConfigOpt = None,
        backfill_from: Annotated[str | None, typer.Option(
            "--backfill-from", help="Also compute the rollup from this date (JST) until now, e.g. 2026-04-01")] = None,
    ) -> None:
        """Create InfluxDB 1.x continuous queries keeping an hourly rollup ("<measurement>_1h") that reports read
        instead of scanning raw points (a month of 1,000 APs: minutes per query otherwise)."""
        import time

        from core.store.influxql import InfluxQLError, InfluxQLReader

        inv = load_inventory(config)
        reader = open_reader(inv, "influx", resolver_for(inv, config))
        assert isinstance(reader, InfluxQLReader)
        if inv.influxdb is not None and inv.influxdb.api != "v1":
            raise UserError("continuous queries are InfluxDB 1.x; with 2.x set up a task writing the same "
                            "'<measurement>_1h' fields, or reports aggregate the raw points (slower)")
        try:
            for name in reader.create_rollups():
                console.print(name, markup=False, highlight=False)
            if backfill_from is not None:
                reader.backfill_rollups(int(_date(backfill_from, "--backfill-from") * 1e9), time.time_ns())
        except InfluxQLError as e:
            raise UserError(str(e)) from None
