"""``wifiwatch visitors import FILE --format NAME``: portal and provider session exports into the store.

Exit codes: 0 every row stored (or already there); 1 the file was read but some rows were skipped (each
listed as FILE:LINE: column: reason on stderr); 2 the file, the format or an option cannot be used at all.
Rows stored before a bad one stay stored, and a second import of the same file stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from wifiwatch.common import ConfigOpt, UserError, console, err, load_inventory

LangOpt = Annotated[str, typer.Option("--lang", help="ja or en (messages)")]

TEXT = {
    "ja": {"done": "{file}: {rows} 件を読み込み、{stored} 件を保存、{already} 件は保存済み、{bad} 行を読み飛ばしました"
                   "{span}",
           "span": " (期間 {first} 〜 {last} JST)",
           "format": "--format: '{name}' はありません (使える形式: {names})",
           "formats": "形式"},
    "en": {"done": "{file}: {rows} rows read, {stored} stored, {already} already stored, {bad} rows skipped{span}",
           "span": " ({first} to {last} JST)",
           "format": "--format: no format '{name}' (available: {names})",
           "formats": "formats"},
}


def register(app: typer.Typer) -> None:
    vis = typer.Typer(help="Visitor sessions (利用分析): import portal/provider exports; see docs/privacy.md",
                      no_args_is_help=True)
    app.add_typer(vis, name="visitors")

    @vis.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="CSV export (one row per session)")],
        fmt: Annotated[str, typer.Option("--format", help="Format name (collector/visitors/formats/*.toml)")]
        = "generic",
        encoding: Annotated[str | None, typer.Option("--encoding", help="Override the format's encoding")] = None,
        config: ConfigOpt = None,
        lang: LangOpt = "ja",
    ) -> None:
        """Stream a session CSV into the store; bad rows are listed by line, stored rows are never lost."""
        from collector.visitors.importer import formats, import_file
        from collector.visitors.service import key_file
        from core.visitors.keys import KeyRing
        from core.visitors.store import VisitorStore

        if lang not in TEXT:
            raise UserError("--lang must be ja or en")
        t = TEXT[lang]
        known = formats()
        if fmt not in known:
            raise UserError(t["format"].format(name=fmt, names=", ".join(sorted(known))))
        if encoding is not None:
            try:
                "".encode(encoding)
            except LookupError:
                raise UserError(f"--encoding: unknown encoding '{encoding}'") from None
        inv = load_inventory(config)
        ext_key = KeyRing(key_file(inv), inv.visitors.returning).import_key()
        try:
            src = file.open("rb")
        except OSError as e:
            raise UserError(f"{file}: {e.strerror}") from None
        store = VisitorStore(inv.store.path)
        try:
            with src:
                res = import_file(src, str(file), known[fmt], inv, store, ext_key, inv.visitors.returning,
                                  lambda line: err.print(line, highlight=False, markup=False), encoding, lang)
        except ValueError as e:
            raise UserError(str(e)) from None
        finally:
            store.close()
        span = ""
        if res.first is not None and res.last is not None:
            jst = dt.timezone(dt.timedelta(hours=9))
            span = t["span"].format(first=dt.datetime.fromtimestamp(res.first, jst).strftime("%Y-%m-%d"),
                                    last=dt.datetime.fromtimestamp(res.last, jst).strftime("%Y-%m-%d"))
        console.print(t["done"].format(file=file, rows=res.rows, stored=res.stored, already=res.already,
                                       bad=res.bad, span=span), highlight=False, markup=False, soft_wrap=True)
        if res.bad:
            raise typer.Exit(1)
