"""``wifiwatch opendata export|import``: the site inventory as the 公衆無線LANアクセスポイント一覧 dataset, and back.

Exit codes: 0 done; 1 import finished but some rows were skipped (listed with their line numbers);
2 the file or an option cannot be used at all, or (--usage) the figures rest on simulated data and
--allow-simulated was not given; 3 (--usage) no figure to publish: the month holds no data, or every figure is a
参考値 (observed on less than ``[reports] min_coverage_pct`` of its month; such figures are never published).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from wifiwatch.common import ConfigOpt, UserError, console, err, error_line, load_inventory, resolver_for

LangOpt = Annotated[str, typer.Option("--lang", help="ja or en (messages)")]

TEXT = {
    "ja": {"wrote": "{path}: {n} 行を書き出しました ({encoding})", "warn": "注意",
           "read": "{file}: {enc} として読み込み、{ok} 拠点を取り込み、{bad} 行を読み飛ばしました",
           "month": "--month: '{m}' は 2000-01〜2100-12 の年月 (YYYY-MM 形式、例 2026-11) ではありません"},
    "en": {"wrote": "{path}: wrote {n} rows ({encoding})", "warn": "warning",
           "read": "{file}: read as {enc}, {ok} sites imported, {bad} rows skipped",
           "month": "--month: '{m}' is not YYYY-MM"},
}


def _lang(lang: str) -> dict[str, str]:
    if lang not in TEXT:
        raise UserError("--lang must be ja or en")
    return TEXT[lang]


def _previous_month() -> str:
    from analytics.usage import JST

    first = dt.datetime.now(JST).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def register(app: typer.Typer) -> None:
    od = typer.Typer(help="Open data: 公衆無線LANアクセスポイント一覧 (推奨データセット) export and import",
                     no_args_is_help=True)
    app.add_typer(od, name="opendata")

    @od.command("export")
    def export(
        out: Annotated[Path, typer.Option("--out", help="CSV file to write")],
        config: ConfigOpt = None,
        usage: Annotated[bool, typer.Option("--usage", help="Monthly usage per site instead of the site list")]
        = False,
        months: Annotated[list[str] | None, typer.Option("--month", help="YYYY-MM (repeatable; --usage only; "
                                                         "default: last month)")] = None,
        encoding: Annotated[str, typer.Option("--encoding", help="utf-8-sig (default, UTF-8 with BOM), utf-8 "
                                                                 "or cp932")] = "utf-8-sig",
        source: Annotated[str, typer.Option("--source", help="sqlite or influx (--usage only)")] = "sqlite",
        allow_simulated: Annotated[bool, typer.Option(
            "--allow-simulated", help="--usage: write figures that rest on simulated (demo) data, labelled in 備考")]
        = False,
        lang: LangOpt = "ja",
        visitors: Annotated[bool, typer.Option(
            "--visitors", help="Logins and unique devices per site and hour (Fukuoka's form; cells under "
                               "[visitors] k_min shown as <10) instead of the site list")] = False,
    ) -> None:
        """Write the sites (one row per site, never AP addresses), monthly usage per site, or (--visitors) logins
        and unique devices per site and hour as CSV."""
        from analytics import opendata as o

        t = _lang(lang)
        inv = load_inventory(config)
        warnings: list[str] = []
        try:
            if visitors:  # issue 24: analytics.visitors.opendata
                from wifiwatch.commands.report_visitors import opendata_visitors

                rows, data = opendata_visitors(inv, months or [_previous_month()], allow_simulated, encoding, t, lang)
            elif usage:
                from analytics.monthly import month_period
                from wifiwatch.commands.report import open_reader

                wanted = months or [_previous_month()]
                for m in wanted:
                    try:
                        month_period(m)
                    except ValueError:
                        raise UserError(t["month"].format(m=m)) from None
                from analytics.coverage import NoData
                from wifiwatch.common import no_data

                reader = open_reader(inv, source, resolver_for(inv, config))
                try:
                    export = o.usage_export(inv, reader, wanted, allow_simulated, lang=lang)
                except NoData as e:
                    raise no_data(str(e)) from None
                except o.SimulatedData as e:
                    raise UserError(str(e)) from None
                warnings += export.withheld
                if not export.rows:
                    for w in warnings:
                        err.print(w, highlight=False, markup=False)
                    raise no_data("公開できる数値がありません（すべて参考値）" if lang == "ja"
                                  else "nothing to publish: every figure is provisional")
                rows = export.rows
                data = o.to_csv(rows, o.USAGE_COLUMNS, encoding)
            else:
                if months:
                    raise UserError("--month is for --usage")
                site_rows, warnings = o.site_rows(inv)
                rows = list(site_rows)
                data = o.to_csv(rows, o.COLUMNS, encoding)
        except o.OpenDataError as e:
            raise UserError(e.text(lang)) from None
        for w in warnings:
            error_line(w, t["warn"])
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        except OSError as e:
            raise UserError(f"{out}: {e.strerror}") from None
        console.print(t["wrote"].format(path=out, n=len(rows), encoding=o.ENCODINGS[encoding]), highlight=False)

    @od.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="公衆無線LANアクセスポイント一覧 CSV (UTF-8 or Shift_JIS)")],
        out: Annotated[Path | None, typer.Option("--out", help="Write the [[sites]] TOML here (default: print)")]
        = None,
        kind: Annotated[str, typer.Option("--kind", help="Site kind for every imported site")] = "public_facility",
        lang: LangOpt = "ja",
    ) -> None:
        """Read the CSV into inventory [[sites]] blocks to paste into the inventory; bad rows are listed."""
        from analytics import opendata as o
        from core.inventory import SiteKind

        t = _lang(lang)
        try:
            site_kind = SiteKind(kind)
        except ValueError:
            raise UserError(f"--kind must be one of {', '.join(k.value for k in SiteKind)}") from None
        try:
            src: BinaryIO = file.open("rb")
            if not src.seekable():  # a pipe (/dev/stdin): spooled to a temporary file, read twice from there
                spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed with src below
                with src:
                    shutil.copyfileobj(src, spool)
                spool.seek(0)
                src = spool  # type: ignore[assignment]
        except OSError as e:
            raise UserError(f"{file}: {e.strerror}") from None
        # Streamed: each site is written as it is read; --out gets the TOML only when the whole file was read
        # (a temporary file renamed at the end), so a CSV malformed part-way leaves no half-written file.
        tmp = None if out is None else out.with_name(f".{out.name}.partial")
        sites = bad = 0
        try:
            with src:
                stream = o.stream_sites(src, str(file), site_kind)
                sink = None if tmp is None else tmp.open("w", encoding="utf-8")
                try:
                    batch: list[str] = []

                    def flush() -> None:
                        if sink is None:
                            console.out("".join(batch), end="", highlight=False)
                        else:
                            sink.write("".join(batch))
                        batch.clear()

                    for item in stream.items:
                        if isinstance(item, o.RowProblem):
                            bad += 1
                            err.print(item.text(lang), highlight=False, markup=False, soft_wrap=True)
                            continue
                        if sites == 0:
                            batch.append(o.TOML_PREAMBLE)
                        sites += 1
                        batch.append(o.site_toml(item))
                        if len(batch) >= 2000:
                            flush()
                    flush()
                finally:
                    if sink is not None:
                        sink.close()
            if tmp is not None and out is not None:
                tmp.replace(out)
        except o.OpenDataError as e:
            raise UserError(e.text(lang)) from None
        except OSError as e:
            raise UserError(f"{e.filename or file}: {e.strerror or e}") from None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        err.print(t["read"].format(file=file, enc=stream.encoding, ok=sites, bad=bad), highlight=False,
                  markup=False)
        if bad:
            raise typer.Exit(1)
