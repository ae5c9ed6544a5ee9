"""``wifiwatch report availability|usage|capacity|monthly``: read the embedded store or InfluxDB."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.escape import spreadsheet_dict
from core.inventory import Inventory
from core.secrets import SecretResolver
from wifiwatch.common import ConfigOpt, UserError, console, load_inventory, resolver_for

SourceOpt = Annotated[str, typer.Option("--source", help="sqlite (embedded store) or influx")]


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
    from analytics.usage import JST

    try:
        d = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{field}: '{value}' is not a date such as 2026-11-01") from None
    return (d if d.tzinfo else d.replace(tzinfo=JST)).timestamp()


def _emit(rows: list[dict[str, Any]], fmt: str, title: str) -> None:
    if fmt == "json":
        console.print_json(json.dumps(rows, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(spreadsheet_dict(r) for r in rows)
        console.out(buf.getvalue(), end="")
    else:
        table = Table(title=title)
        cols = list(rows[0]) if rows else ["(no rows)"]
        for c in cols:
            table.add_column(c, no_wrap=True)
        for r in rows:
            table.add_row(*["-" if r[c] is None else str(r[c]) for c in cols])
        console.print(table)


def register(app: typer.Typer) -> None:
    report = typer.Typer(help="Availability, usage, capacity and monthly reports", no_args_is_help=True)
    app.add_typer(report, name="report")

    def period_cmd(kind: str) -> Any:
        def cmd(
            start: Annotated[str, typer.Option("--from", help="Start date (JST), e.g. 2026-11-01")],
            end: Annotated[str, typer.Option("--to", help="End date (JST, exclusive)")],
            config: ConfigOpt = None,
            site: Annotated[str | None, typer.Option("--site", help="Only this site id")] = None,
            fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
            source: SourceOpt = "sqlite",
        ) -> None:
            from analytics.tables import Period, availability_rows, capacity_rows, usage_rows

            if fmt not in ("table", "csv", "json"):
                raise UserError("--format must be table, csv or json")
            inv = load_inventory(config)
            if site is not None and site not in {s.id for s in inv.sites}:
                raise UserError(f"--site: no site '{site}'")
            p = Period(_date(start, "--from"), _date(end, "--to"))
            if p.end <= p.start:
                raise UserError("--to must be after --from")
            reader = open_reader(inv, source, resolver_for(inv, config))
            if kind == "availability":
                rows = availability_rows(inv, reader, p, site)
            elif kind == "usage":
                rows = usage_rows(inv, reader, p, site)
            else:
                rows = [r for r in capacity_rows(inv, reader, p) if site is None or r["site"] == site]
            _emit(rows, fmt, f"{kind} {start} – {end}")

        cmd.__doc__ = f"{kind.capitalize()} per AP and site for a period."
        return cmd

    for kind in ("availability", "usage", "capacity"):
        report.command(kind)(period_cmd(kind))

    @report.command("monthly")
    def monthly(
        month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
        out: Annotated[Path, typer.Option("--out", help="Folder for the HTML report and CSV files")],
        config: ConfigOpt = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        source: SourceOpt = "sqlite",
    ) -> None:
        """Monthly HTML report (Japanese by default) with charts, plus a CSV of every table."""
        from analytics.monthly import write_monthly

        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        inv = load_inventory(config)
        reader = open_reader(inv, source, resolver_for(inv, config))
        try:
            files = write_monthly(inv, reader, month, out, lang)
        except ValueError as e:
            raise UserError(str(e)) from None
        for f in files:
            console.print(str(f))
