"""``wifiwatch store status | forward --once | dead-letter list``: look at and drive the local store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from core.inventory import Inventory
from core.secrets import REDACTOR, SecretError
from wifiwatch.common import ConfigOpt, console, error_line, load_inventory, resolver_for
from wifiwatch.labels import check_lang, label, labels


def _fmt_ns(ns: Any) -> str:
    if ns is None:
        return "-"
    return dt.datetime.fromtimestamp(int(ns) / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} TB"


def _open_store(inv: Inventory, must_exist: bool = True) -> Any:
    from core.store.sqlite_store import SqliteStore

    path = Path(inv.store.path)
    if must_exist and not path.exists():
        raise typer.Exit(_fail(f"store {path} does not exist yet (the daemon creates it on its first write)"))
    try:
        return SqliteStore(path, inv.store)
    except Exception as e:  # noqa: BLE001 - a corrupt/locked/newer store is a clear message, not a traceback
        raise typer.Exit(_fail(f"cannot open store {path}: {e}")) from None


def _fail(message: str) -> int:
    error_line(message)
    return 2


def _sink(inv: Inventory, config: Path | None) -> Any:
    from core.store.influx import make_sink

    if inv.influxdb is None:
        return None
    try:
        return make_sink(inv.influxdb, resolver_for(inv, config))
    except SecretError as e:
        raise typer.Exit(_fail(f"[influxdb]: {e}")) from None


def register(app: typer.Typer) -> None:
    store_app = typer.Typer(help="The embedded store and forwarding to InfluxDB / ローカル保存とInfluxDB転送",
                            no_args_is_help=True)
    dead_app = typer.Typer(help="Points InfluxDB refused, kept for inspection", no_args_is_help=True)
    store_app.add_typer(dead_app, name="dead-letter")
    app.add_typer(store_app, name="store")

    @store_app.command("status")
    def status(
        config: ConfigOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Rows, size, time span, forwarding backlog, dead letters, last error, InfluxDB reachability."""
        check_lang(lang)
        inv = load_inventory(config)
        store = _open_store(inv)
        st = store.stats()
        store.close()
        sink = _sink(inv, config)
        if sink is None:
            st["influxdb"] = "not configured"
        else:
            problem = sink.ping()
            st["influxdb"] = REDACTOR(f"reachable at {sink.url}") if problem is None else REDACTOR(problem)
            sink.close()
        if as_json:
            console.print_json(json.dumps(st))
            return
        t = Table(show_header=False, box=None)
        ja = lang == "ja"
        rows = [
            ("store", st["path"]),
            ("raw_rows", f"{st['rows']:,} 行 ({st['series']:,} 系列)" if ja
             else f"{st['rows']:,} in {st['series']:,} series"),
            ("rollup_rows", f"{st['rollup_rows']:,}"),
            ("size", _fmt_bytes(st["bytes"])),
            ("free_disk", f"{st['free_mb']:,.0f} MB (下限 {inv.store.min_free_mb} MB)" if ja
             else f"{st['free_mb']:,.0f} MB (floor {inv.store.min_free_mb} MB)"),
            ("oldest", _fmt_ns(st["oldest_ns"])),
            ("newest", _fmt_ns(st["newest_ns"])),
            # Without InfluxDB and no forwarder ever run, every row counts as "unsent": say there is no forwarding.
            ("backlog", (f"{st['backlog']:,} 点" if ja else f"{st['backlog']:,} points")
             if st["forwarding"] or inv.influxdb is not None
             else "- (転送していません)" if ja else "- (not forwarding)"),
            ("last_forwarded", _fmt_ns(st["last_forward_ok_ns"])),
            ("dead_letters", f"{st['dead_letter_lines']:,} 点 ({st['dead_letter_batches']:,} バッチ)" if ja
             else f"{st['dead_letter_lines']:,} points in {st['dead_letter_batches']:,} batches"),
            ("last_error", REDACTOR(st["last_error"] or "-")),
            ("influxdb", st["influxdb"]),
        ]
        for k, v in rows:
            t.add_row(Text(label(k, lang)), Text(str(v)))
        console.print(t)

    @store_app.command("forward")
    def forward(
        config: ConfigOpt = None,
        once: Annotated[bool, typer.Option("--once", help="Send the backlog now and exit")] = False,
    ) -> None:
        """Send the backlog to InfluxDB (the daemon does this continuously); exit 1 if InfluxDB failed."""
        from core.store.forwarder import Forwarder

        if not once:
            raise typer.Exit(_fail("only --once is supported here; the daemon (wifiwatch run) forwards continuously"))
        inv = load_inventory(config)
        sink = _sink(inv, config)
        if sink is None or inv.influxdb is None:
            raise typer.Exit(_fail("no [influxdb] section in the config: nothing to forward to"))
        store = _open_store(inv)
        try:
            r = Forwarder(store, sink, inv.influxdb.batch_size).drain()
        finally:
            store.close()
            sink.close()
        console.print(f"sent {r.sent:,} points, dead-lettered {r.dead_lettered:,}, backlog {r.backlog:,}",
                      highlight=False)
        if r.error is not None:
            error_line(f"{r.error.message} (data kept; will retry)")
            raise typer.Exit(1)

    @dead_app.command("list")
    def dead_list(
        config: ConfigOpt = None,
        limit: Annotated[int, typer.Option("--limit", help="Newest batches to show")] = 20,
        lines: Annotated[bool, typer.Option("--lines", help="Print the refused line protocol too")] = False,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Batches InfluxDB refused (wrong credentials, missing database, bad lines) with the server's message."""
        check_lang(lang)
        inv = load_inventory(config)
        store = _open_store(inv)
        letters = store.dead_letters(limit)
        store.close()
        if not letters:
            console.print("転送拒否データはありません" if lang == "ja" else "no dead letters")
            return
        t = Table(*labels(("id", "when_created", "rows", "points", "status", "server_message"), lang),
                  title=label("title_dead_letters", lang))
        for d in letters:
            t.add_row(*[Text(v) for v in (str(d.id), _fmt_ns(d.created_ns), f"{d.first_row}-{d.last_row}",
                                          str(len(d.lines)), str(d.status or "-"), REDACTOR(d.error))])
        console.print(t)
        if lines:
            for d in letters:
                for line in d.lines:
                    console.print(REDACTOR(line), highlight=False, markup=False, soft_wrap=True)

    @dead_app.command("retry")
    def dead_retry(
        config: ConfigOpt = None,
        ids: Annotated[list[int] | None, typer.Option("--id", help="Only these batches (repeatable)")] = None,
    ) -> None:
        """Re-send parked batches after fixing the cause (token, database); exit 1 if some are refused again."""
        from core.store.forwarder import Forwarder

        inv = load_inventory(config)
        sink = _sink(inv, config)
        if sink is None or inv.influxdb is None:
            raise typer.Exit(_fail("no [influxdb] section in the config: nothing to send to"))
        store = _open_store(inv)
        try:
            batches, points, errors = Forwarder(store, sink, inv.influxdb.batch_size).retry_dead_letters(ids)
        finally:
            store.close()
            sink.close()
        console.print(f"re-sent {batches:,} batches ({points:,} points)", highlight=False)
        for e in errors:
            error_line(e)
        if errors:
            raise typer.Exit(1)
