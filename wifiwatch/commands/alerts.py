"""``wifiwatch alerts list|test`` and ``wifiwatch maintenance add|list``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory, resolver_for


def _engine(config: Path | None):  # type: ignore[no-untyped-def]
    from collector.alerts.engine import AlertEngine

    inv = load_inventory(config)
    return inv, AlertEngine(inv, Path(inv.store.path), resolver_for(inv, config))


def _parse_time(value: str, field: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{field}: '{value}' is not an ISO date-time such as 2026-12-01T02:00") from None
    from core.maintenance import JST

    return t if t.tzinfo else t.replace(tzinfo=JST)


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="Incidents and notification channels", no_args_is_help=True)
    maint = typer.Typer(help="Maintenance windows (alerts silenced, marked in reports)", no_args_is_help=True)
    app.add_typer(alerts, name="alerts")
    app.add_typer(maint, name="maintenance")

    @alerts.command("list")
    def list_(
        config: ConfigOpt = None,
        open_only: Annotated[bool, typer.Option("--open", help="Only incidents still open")] = False,
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    ) -> None:
        """Incidents (outages, site outages, degradations), newest last."""
        from collector.alerts.engine import fmt_duration, fmt_time

        _, eng = _engine(config)
        rows = eng.store.incidents(open_only=open_only)
        if fmt == "json":
            console.print_json(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
            return
        table = Table(title="incidents / 障害履歴" + (" (open)" if open_only else ""))
        for col in ("id", "site", "device", "kind", "start (JST)", "end (JST)", "duration", "notified",
                    "suppressed by"):
            table.add_column(col, no_wrap=True)
        for r in rows:
            table.add_row(str(r.id), r.site, r.device, r.kind, fmt_time(r.start), fmt_time(r.end) if r.end else "open",
                          fmt_duration(r.duration_s, "ja") if r.duration_s is not None else "-",
                          "yes" if r.notified else "no", r.suppressed_by or "-")
        console.print(table)
        pending, dead = eng.store.pending(), len(eng.store.dead_letters())
        if pending or dead:
            console.print(f"outbox: {pending} waiting, {dead} dead-lettered")

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
        console.print(f"test message sent on '{channel}'")

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
        ids = {s.id for s in inv.sites} | {a.id for _, a in inv.aps()} | {
            s.uplink.id for s in inv.sites if s.uplink}
        if target != "*" and target not in ids:
            raise UserError(f"--target: no site or AP with id '{target}'")
        t0, t1 = _parse_time(start, "--start"), _parse_time(end, "--end")
        if t1 <= t0:
            raise UserError("--end must be after --start")
        wid = f"adhoc-{int(t0.timestamp())}-{target.replace('*', 'all')}"
        eng.store.add_maintenance(wid, target, t0.isoformat(), t1.isoformat(), reason)
        console.print(f"maintenance {wid}: {target} {t0.isoformat()} - {t1.isoformat()}")

    @maint.command("list")
    def list_maintenance(config: ConfigOpt = None) -> None:
        """Windows from the config and those added with `maintenance add`."""
        inv, eng = _engine(config)
        table = Table(title="maintenance windows / 保守時間帯")
        for col in ("id", "target", "when", "reason", "source"):
            table.add_column(col)
        for w in inv.maintenance:
            when = (f"{w.start} - {w.end}" if w.start else f"every {w.weekday} {w.start_time}-{w.end_time} JST")
            table.add_row(w.id, w.target, when, w.reason, "config")
        for wid, target, s, e, reason in eng.store.maintenance():
            table.add_row(wid, target, f"{s} - {e}", reason, "added")
        console.print(table)
