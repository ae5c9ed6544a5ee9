"""``wifiwatch run`` (the daemon) and ``wifiwatch poll --once`` (one cycle, printed)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.inventory import Inventory
from core.maintenance import with_added_windows
from core.secrets import SecretResolver
from core.store.dbfile import SchemaError, explain
from wifiwatch.common import ConfigOpt, UserError, config_path, console, load_inventory, resolver_for

log = logging.getLogger("wifiwatch.run")


def poll_rows(inv: Inventory, resolver: SecretResolver, use_icmp: bool | None = None) -> list[dict[str, Any]]:
    """One heartbeat and one SNMP poll of the whole fleet, as plain rows."""
    from collector.engine import FleetEngine

    async def cycle() -> tuple[Any, dict[str, Any], dict[str, Any]]:
        engine = FleetEngine(inv, resolver, writer=None, use_icmp=use_icmp)
        try:
            pings = await engine.heartbeat_once()
            polls = await engine.poll_once()
        finally:
            await engine.close()
        return engine, pings, polls

    engine, pings, polls = asyncio.run(cycle())
    rows = []
    for d in engine.devices:
        ping = pings.get(d.id)
        res = polls.get(d.id)
        rows.append({
            "site": d.site.id,
            "ap": d.id,
            "role": d.role,
            "reachable": ping.reachable if ping else None,
            "snmp_ok": bool(res and res.ok),
            "rtt_ms": None if not ping or ping.rtt_ms is None else round(ping.rtt_ms, 2),
            "clients": res.clients if res else None,
            "clients_by_radio": dict(res.clients_by_radio) if res else {},
            "rx_bps": res.rx_bps if res else None,
            "tx_bps": res.tx_bps if res else None,
            "uptime_s": res.uptime_s if res else None,
            "vendor": (res.vendor if res and res.vendor else engine.vendor_of(d)),
            "error": (res.error if res else engine._target_errors.get(d.id, "not polled")),
        })
    return rows


def register(app: typer.Typer) -> None:
    @app.command("poll")
    def poll(
        config: ConfigOpt = None,
        once: Annotated[bool, typer.Option("--once", help="Run one cycle and print it (the only mode)")] = True,
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
        icmp: Annotated[bool | None, typer.Option("--icmp/--no-icmp", help="Force ICMP on or off")] = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Poll every AP once and print reachability, clients and traffic (exit 0 even if APs are down)."""
        from rich.text import Text

        from wifiwatch.labels import check_lang, label

        if fmt not in ("table", "json"):
            raise UserError(f"--format: '{fmt}' is not one of table, json")
        check_lang(lang)
        inv = load_inventory(config)
        rows = poll_rows(inv, resolver_for(inv, config), icmp)
        if fmt == "json":
            console.print_json(json.dumps(rows, ensure_ascii=False))
            return
        city = inv.city_ja + " 公衆無線LAN" if lang == "ja" else inv.city_en + " public Wi-Fi"
        table = Table(title=Text(f"{city}: {label('title_poll', lang)}"))
        cols = ("site", "ap", "reachable", "snmp_ok", "rtt_ms", "clients", "rx_bps", "tx_bps", "vendor")
        for col in cols:
            table.add_column(label(col, lang), no_wrap=True)
        for r in rows:
            table.add_row(*[Text(_cell(r[c])) for c in cols])
        console.print(table)
        for r in rows:
            if r["error"]:
                console.print(f"  {r['ap']}: {r['error']}", highlight=False, soft_wrap=True, markup=False)

    @app.command("run")
    def run(
        config: ConfigOpt = None,
        icmp: Annotated[bool | None, typer.Option("--icmp/--no-icmp", help="Force ICMP on or off")] = None,
        duration: Annotated[float | None, typer.Option("--duration", help="Stop after N seconds (tests)")] = None,
        map_out: Annotated[Path | None, typer.Option("--map-out", help="Regenerate this coverage map every 5 min")]
        = None,
    ) -> None:
        """Run the polling daemon until SIGTERM/SIGINT; SIGHUP reloads the inventory."""
        inv = load_inventory(config)
        daemon = build_daemon(inv, config_path(config), resolver_for(inv, config), icmp, duration, map_out=map_out)
        raise typer.Exit(daemon.run())


def build_daemon(
    inv: Inventory,
    path: Path,
    resolver: SecretResolver,
    use_icmp: bool | None = None,
    duration: float | None = None,
    http: bool = True,
    map_out: Path | None = None,
) -> Any:
    """Wire the store, alerting, forwarding and periodic jobs around the collector daemon."""
    from collector.alerts.engine import AlertEngine
    from collector.daemon import Daemon, ExtraJob
    from core.store.sqlite_store import SqliteStore

    store_path = Path(inv.store.path)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        store = SqliteStore(store_path, inv.store)
        alerts = AlertEngine(inv, store_path, resolver)
    except sqlite3.Error as e:  # damaged, unreadable or locked: one clear line and what to do, not a traceback
        reason, advice = explain(e, str(store_path))
        raise UserError(f"{reason}; {advice}") from None
    except SchemaError as e:
        raise UserError(str(e)) from None
    jobs = [
        ExtraJob("rollup", lambda _inv: store.rollup(time.time_ns()), 3600.0, 60.0),
        # Deleting aged rows and giving the space back is the heavy part: once a night, in Japan's quiet hours.
        ExtraJob("nightly-prune", lambda _inv: _rollup(store), 86400.0, cron="30 2 * * *"),
        # Checked nightly: writes last month's report on the 1st, or the first night after if the daemon was down.
        ExtraJob("monthly-report", lambda cur: _monthly_report(with_added_windows(cur, alerts.store.maintenance()),
                                                               store, resolver), 86400.0, cron="15 0 * * *"),
    ]
    background = []
    parts = {}
    if inv.influxdb is not None:
        from core.store.forwarder import Forwarder
        from core.store.influx import make_sink

        try:
            forwarder = Forwarder(store, make_sink(inv.influxdb, resolver), inv.influxdb.batch_size)
        except sqlite3.Error as e:  # reading the cursor failed: the store is damaged or locked
            reason, advice = explain(e, str(store_path))
            raise UserError(f"{reason}; {advice}") from None
        background.append(forwarder.run)  # drains, idles, backs off while InfluxDB is down
        parts["forwarder"] = forwarder.health
    if inv.visitors.enabled:
        background.extend(_visitor_sources(inv, resolver))
    if map_out is not None:
        jobs.append(ExtraJob("map", lambda cur: _write_map(cur, map_out, store), 300.0, 15.0))
    return Daemon(path, inv, resolver, store, alerts, jobs, http=http, use_icmp=use_icmp, run_for_s=duration,
                  background=background, parts=parts,
                  http_app=_console_app(resolver, map_out) if inv.console.enabled else None)


def _write_map(inv: Inventory, out: Path, store: Any) -> None:
    """The daemon's map. A tile archive that is refused with no good tiles to fall back on ([map] tiles = "cache")
    is one log line and a map without background, never a traceback every 5 minutes."""
    from maps.tiles import TileError, default_tile_file, refused
    from wifiwatch.views import write_current_map

    try:
        write_current_map(inv, out, store=store)
    except TileError as e:
        refused(default_tile_file(inv), e)
        write_current_map(inv, out, store=store, tiles="none")


def _visitor_sources(inv: Inventory, resolver: SecretResolver) -> list[Any]:
    """[visitors]: the RADIUS accounting and syslog receivers, bound now so a taken port is said at start."""
    from collector.visitors.service import VisitorService
    from core.secrets import SecretError

    try:
        service = VisitorService(inv, resolver).start()
    except SecretError as e:
        raise UserError(f"[visitors] radius_secret: {e}") from None
    except OSError as e:
        log.error("visitor sources not started: cannot bind (%s)", e.strerror or e)
        return []
    return [service.run]


def _console_app(resolver: SecretResolver, map_out: Path | None) -> Any:
    """The web console on the daemon's [http] port, beside /healthz, /metrics and /status. It reads the store
    through its own connection, so a slow page never holds the lock the daemon's writes take."""

    def build(daemon: Any, token: str | None) -> Any:
        from console.app import create_app
        from console.context import open_context

        engine = daemon.alerts
        return create_app(open_context(lambda: daemon.inv, resolver, health=daemon.health,
                                       status=getattr(daemon, "status", None), token=token, map_file=map_out,
                                       states=(lambda: dict(engine.states)) if engine is not None else None,
                                       config_path=Path(daemon.config_path), reload=daemon.request_reload))

    return build


def _monthly_report(inv: Inventory, store: Any, resolver: SecretResolver) -> None:
    import datetime as dt

    from analytics.monthly_job import write_previous_month

    write_previous_month(inv, store, dt.datetime.now(dt.UTC), resolver)


def _rollup(store: Any) -> None:
    now = time.time_ns()
    store.rollup(now)
    store.prune(now)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "✔" if v else "✘"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)
