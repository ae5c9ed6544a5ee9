"""``wifiwatch alerts list|test`` and ``wifiwatch maintenance add|list|remove|end``.

Tables are Japanese by default (``--lang en``); every value from the config or the store is printed as
written (rich ``Text``), never read as markup.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory, resolver_for
from wifiwatch.labels import check_lang, label, labels

LangOpt = Annotated[str, typer.Option("--lang", help="ja or en")]


def _engine(config: Path | None):  # type: ignore[no-untyped-def]
    from collector.alerts.engine import AlertEngine

    inv = load_inventory(config)
    return inv, AlertEngine(inv, Path(inv.store.path), resolver_for(inv, config))


def _parse_time(value: str, field: str) -> dt.datetime:
    from core.dates import DateError, parse_day

    try:
        return parse_day(value, field)
    except DateError as e:
        raise UserError(str(e)) from None


def _table(title: str, cols: list[str]) -> Table:
    table = Table(title=Text(title))
    for col in cols:
        table.add_column(col, no_wrap=True)
    return table


def _row(*values: Any) -> list[Text]:
    return [Text("-" if v is None else str(v)) for v in values]


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="Incidents and notification channels / 障害履歴と通知", no_args_is_help=True)
    maint = typer.Typer(help="Maintenance windows (alerts silenced, marked in reports) / 保守時間帯",
                        no_args_is_help=True)
    app.add_typer(alerts, name="alerts")
    app.add_typer(maint, name="maintenance")

    @alerts.command("list")
    def list_(
        config: ConfigOpt = None,
        open_only: Annotated[bool, typer.Option("--open", help="Only incidents still open")] = False,
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
        lang: LangOpt = "ja",
    ) -> None:
        """Incidents (outages, site outages, degradations), newest last."""
        from collector.alerts.engine import fmt_duration, fmt_time
        from collector.alerts.wording import cause_text

        check_lang(lang)
        if fmt not in ("table", "json"):
            raise UserError(f"--format: '{fmt}' is not one of table, json")
        _, eng = _engine(config)
        try:
            rows = eng.store.incidents(open_only=open_only)
            pending, dead = eng.store.pending(), len(eng.store.dead_letters())
        finally:
            eng.close()
        if fmt == "json":
            console.print_json(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
            return
        table = _table(label("title_incidents_open" if open_only else "title_incidents", lang),
                       labels(("id", "site", "device", "kind", "start", "end", "duration", "cause", "notified",
                               "suppressed_by"), lang))
        for r in rows:
            table.add_row(*_row(r.id, r.site, r.device, label(r.kind, lang), fmt_time(r.start),
                                fmt_time(r.end) if r.end else label("open", lang),
                                fmt_duration(r.duration_s, lang) if r.duration_s is not None else "-",
                                cause_text(r.cause, lang) or "-", label("yes" if r.notified else "no", lang),
                                r.suppressed_by or "-"))
        console.print(table)
        if pending or dead:
            console.print(f"通知待ち {pending} 件、送信断念 (dead letter) {dead} 件" if lang == "ja"
                          else f"outbox: {pending} waiting, {dead} dead-lettered", highlight=False, markup=False)

    @alerts.command("test")
    def test(
        channel: Annotated[str, typer.Option("--channel", help="Channel name from [[alerts.channels]]")],
        config: ConfigOpt = None,
    ) -> None:
        """Send a test message through one channel, now."""
        from collector.alerts.notify import DeliveryError

        _, eng = _engine(config)
        try:
            eng.send_test(channel)
        except DeliveryError as e:
            raise UserError(f"test message not delivered: {e}") from None
        finally:
            eng.close()
        console.print(f"test message sent on '{channel}'", highlight=False, markup=False)

    @maint.command("add")
    def add(
        target: Annotated[str, typer.Option("--target", help="'*', a site id or an AP id")],
        start: Annotated[str, typer.Option("--start", help="ISO date-time, JST unless an offset is given")],
        end: Annotated[str, typer.Option("--end", help="ISO date-time")],
        reason: Annotated[str, typer.Option("--reason")] = "",
        config: ConfigOpt = None,
    ) -> None:
        """Add a one-off window; the running daemon picks it up at its next heartbeat."""
        inv, eng = _engine(config)
        try:
            ids = {s.id for s in inv.sites} | {a.id for _, a in inv.aps()} | {
                s.uplink.id for s in inv.sites if s.uplink}
            if target != "*" and target not in ids:
                raise UserError(f"--target: no site or AP with id '{target}'")
            t0, t1 = _parse_time(start, "--start"), _parse_time(end, "--end")
            if t1 <= t0:
                raise UserError("--end must be after --start")
            wid = f"adhoc-{int(t0.timestamp())}-{target.replace('*', 'all')}"
            eng.store.add_maintenance(wid, target, t0.isoformat(), t1.isoformat(), reason)
        finally:
            eng.close()
        console.print(f"maintenance {wid}: {target} {t0.isoformat()} - {t1.isoformat()}", highlight=False,
                      markup=False)

    @maint.command("list")
    def list_maintenance(config: ConfigOpt = None, lang: LangOpt = "ja") -> None:
        """Windows from the config and those added with `maintenance add`."""
        check_lang(lang)
        inv, eng = _engine(config)
        try:
            added = eng.store.maintenance()
        finally:
            eng.close()
        table = _table(label("title_maintenance", lang), labels(("id", "target", "when", "reason", "source"), lang))
        for w in inv.maintenance:
            when = (f"{w.start} - {w.end}" if w.start else
                    f"{label('every', lang)} {w.weekday} {w.start_time}-{w.end_time} JST")
            table.add_row(*_row(w.id, w.target, when, w.reason, label("config", lang)))
        for wid, target, s, e, reason in added:
            table.add_row(*_row(wid, target, f"{s} - {e}", reason, label("added", lang)))
        console.print(table)

    def _change(config: Path | None, wid: str, how: str) -> str:
        from core.maintenance import MaintenanceError, end_window, remove_window

        inv, eng = _engine(config)
        try:
            config_ids = [w.id for w in inv.maintenance]
            if how == "remove":
                _, target, s, e, _ = remove_window(eng.store, config_ids, wid)
                return f"maintenance {wid} removed ({target} {s} - {e})"
            return f"maintenance {wid} ended at {end_window(eng.store, config_ids, wid, time.time()).isoformat()}"
        except MaintenanceError as e:
            raise UserError(str(e)) from None
        finally:
            eng.close()

    @maint.command("remove")
    def remove(wid: Annotated[str, typer.Argument(help="Window id, as `maintenance list` shows it")],
               config: ConfigOpt = None) -> None:
        """Cancel a window added by mistake; the alerts it would have silenced are sent again."""
        console.print(_change(config, wid, "remove"), highlight=False, markup=False)

    @maint.command("end")
    def end_(wid: Annotated[str, typer.Argument(help="Window id, as `maintenance list` shows it")],
             config: ConfigOpt = None) -> None:
        """End a running window now (the work finished early)."""
        console.print(_change(config, wid, "end"), highlight=False, markup=False)
