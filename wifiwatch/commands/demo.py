"""``wifiwatch demo``: the whole service on the embedded default, end to end, on loopback.

A simulated Kashima fleet (real SNMP agents), the real daemon in its own process writing to the
embedded store, one AP taken down and brought back while it runs, alerts delivered to a webhook
receiver on loopback, then the status table, reports, ranking and map written to a folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from wifiwatch.common import ConfigOpt, UserError, config_path, console, load_inventory
from wifiwatch.sim.process import stop_process
from wifiwatch.sim.webhook import WebhookReceiver

SECRET_ENV = ("WIFIWATCH_SNMP_AUTH_KEY", "WIFIWATCH_SNMP_PRIV_KEY", "WIFIWATCH_SNMP_COMMUNITY")


DEMO_HOOK_ENV = "WIFIWATCH_DEMO_WEBHOOK_URL"


def demo_config_text(base_text: str, out: Path, hook_url: str, heartbeat_s: float, interval_s: float,
                     http_port: int = 0) -> str:
    """The sample inventory with demo timings, a store and the reports folder in the output folder, and a webhook
    channel."""
    import tomlkit

    doc = tomlkit.parse(base_text)
    doc["defaults"]["heartbeat_s"] = heartbeat_s  # type: ignore[index]
    doc["defaults"]["interval_s"] = interval_s  # type: ignore[index]
    doc["defaults"]["timeout_s"] = 1.0  # type: ignore[index]
    doc["store"]["path"] = str(out / "wifiwatch.sqlite3")  # type: ignore[index]
    doc["http"]["port"] = http_port  # type: ignore[index]
    if "reports" not in doc:
        doc["reports"] = tomlkit.table()
    doc["reports"]["dir"] = str(out / "reports")  # type: ignore[index]  # what the demo writes, its console's 報告 lists
    alerts = doc["alerts"]
    alerts.pop("map_url", None)  # type: ignore[union-attr]  # links need a URL a reader can open, not a file
    chan = tomlkit.aot()
    # A webhook URL is a secret, so the config names an environment variable (the daemon inherits it).
    os.environ[DEMO_HOOK_ENV] = hook_url
    chan.append(tomlkit.item({"name": "demo-webhook", "type": "webhook", "url": f"env:{DEMO_HOOK_ENV}",
                              "min_severity": "info"}))
    alerts["channels"] = chan  # type: ignore[index]
    doc.pop("maintenance", None)  # the weekly window would silence a demo run on Monday night
    return tomlkit.dumps(doc)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        config: ConfigOpt = None,
        minutes: Annotated[float, typer.Option("--minutes", help="How long the daemon runs")] = 2.0,
        out: Annotated[Path, typer.Option("--out", help="Folder for the store, map and reports")] = Path(
            "demo-out"),
        down_ap: Annotated[str, typer.Option("--down-ap", help="AP taken down during the run")] = "omachi-2",
        history_days: Annotated[int, typer.Option("--history-days", help="Days of simulated history")] = 30,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        keep: Annotated[bool, typer.Option("--keep", help="Leave the fleet, daemon and console up afterwards "
                                                          "(Ctrl-C stops)")] = False,
    ) -> None:
        """Run the simulated Kashima fleet, the daemon and every report; outputs go to --out."""
        if minutes <= 0:
            raise UserError("--minutes must be positive")
        src = config_path(config)
        base = load_inventory(config)
        try:
            base.ap(down_ap)
        except KeyError:
            raise UserError(f"--down-ap: no AP '{down_ap}' in {src}") from None
        out.mkdir(parents=True, exist_ok=True)
        for env in SECRET_ENV:  # the simulator and the daemon share these; fresh ones each run
            os.environ.setdefault(env, secrets.token_hex(12))
        run_demo(src, out, minutes, down_ap, lang, history_days, keep)


def _free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo_login(store_path: Path) -> tuple[str, str]:
    """A console admin made for this run only: a fresh random password each run, printed once."""
    from console.users import UserStore

    users = UserStore(store_path)
    try:
        password = secrets.token_urlsafe(12)
        users.add("demo", password, "admin")
        users.audit("demo", "user-add", "demo", "この実行だけのデモ用ログイン")
        return "demo", password
    finally:
        users.close()


def run_demo(src: Path, out: Path, minutes: float, down_ap: str, lang: str, history_days: int = 30,
             keep: bool = False) -> None:
    from core.config import parse_config
    from core.paths import known_vendors
    from core.secrets import SecretResolver
    from wifiwatch.sim.fleet import Fleet

    total_s = minutes * 60.0
    heartbeat_s = 2.0 if total_s < 600 else 10.0
    receiver = WebhookReceiver()
    store_file = out / "wifiwatch.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(store_file) + suffix).unlink(missing_ok=True)
    cfg_file = out / "demo-config.toml"
    port = _free_tcp_port()
    cfg_file.write_text(demo_config_text(src.read_text(encoding="utf-8"), out.resolve(), receiver.url,
                                         heartbeat_s, 10.0, port), encoding="utf-8")
    from wifiwatch.sim import visitors as sim_visitors  # issue 24: RADIUS accounting and syslog for the fleet

    cfg_file.write_text(sim_visitors.demo_visitor_config(cfg_file.read_text(encoding="utf-8")), encoding="utf-8")
    inv = parse_config(cfg_file.read_text(encoding="utf-8"), str(cfg_file), known_vendors())
    resolver = SecretResolver(inv.secrets_file, base_dir=cfg_file.parent)

    console.print(f"wifiwatch demo: {inv.city_ja} / {inv.city_en}, {len(inv.aps())} APs, "
                  f"{minutes:g} min, output in {out}/")
    t0 = time.time()
    n = _seed_history(inv, history_days)
    console.print(f"  simulated history (demo data, not measured): {history_days} days, {n:,} points "
                  f"({time.time() - t0:.1f} s)")
    t0 = time.time()
    nv = sim_visitors.seed_sessions(inv, history_days)
    console.print(f"  simulated visitor sessions (模擬データ): {nv:,} over {history_days} days "
                  f"({time.time() - t0:.1f} s)")
    login, password = _demo_login(store_file)

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as Ctrl-C does: the daemon and agents too
    fleet = Fleet(inv, resolver, out / "sim")
    fleet.start()
    daemon: subprocess.Popen[bytes] | None = None
    events: list[str] = []
    live: sim_visitors.LiveVisitors | None = None
    try:
        console.print(f"  simulated fleet: {len(fleet.status())} SNMP agents on loopback")
        log_file = (out / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config", str(cfg_file),
             "--map-out", str(out / "map.html")],
            stdout=log_file, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        console.print(f"  daemon: pid {daemon.pid}, heartbeat {heartbeat_s:g} s, poll 10 s, log {out}/daemon.log")
        live = sim_visitors.LiveVisitors(inv).start()  # simulated devices: RADIUS Start/Stop and syslog lines
        console.print(f"  web console: http://127.0.0.1:{port}/  user: {login}  password: {password} "
                      "(made for this run only)", highlight=False, style="bold")
        down_at, up_at = total_s * 0.3, total_s * 0.65
        start = time.time()
        state = "up"
        while (elapsed := time.time() - start) < total_s:
            if daemon.poll() is not None:
                raise UserError(f"the daemon exited early (code {daemon.returncode}); see {out}/daemon.log")
            if state == "up" and elapsed >= down_at:
                fleet.down(down_ap)
                state = "down"
                events.append(f"{_hms(elapsed)} {down_ap} を停止 (simulated outage)")
                console.print(f"  {_hms(elapsed)}  {down_ap}: taken down")
            elif state == "down" and elapsed >= up_at:
                fleet.up(down_ap)
                state = "recovered"
                events.append(f"{_hms(elapsed)} {down_ap} を復旧 (simulated recovery)")
                console.print(f"  {_hms(elapsed)}  {down_ap}: brought back")
            time.sleep(0.5)
        # let the recovery be confirmed and delivered before stopping
        time.sleep(min(2 * heartbeat_s + 3, 10))
        if keep:
            _finish(inv, out, lang, receiver)
            console.print(f"the fleet, daemon and console stay up: http://127.0.0.1:{port}/ (user: {login}); "
                          "Ctrl-C stops", highlight=False, style="bold")
            try:
                while daemon.poll() is None:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                console.print("  stopping")
    finally:
        if live is not None:
            live.stop()
            console.print(f"  simulated visitors sent: {live.sent['radius']} accounting packets "
                          f"({live.sent['answered']} answered), {live.sent['syslog']} syslog lines")
        stop_process(daemon, 10)
        fleet.stop()
        receiver.close()
    if not keep:
        _finish(inv, out, lang, receiver)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _finish(inv: Any, out: Path, lang: str, receiver: WebhookReceiver) -> None:
    """The alerts received, the status table, incidents, reports, ranking and map."""
    (out / "alerts.json").write_text(json.dumps(receiver.messages, ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(f"  alerts received by the webhook: {len(receiver.messages)} (saved to {out}/alerts.json)")
    from collector.alerts.store import AlertStore
    from core.store.sqlite_store import SqliteStore
    from wifiwatch.outputs import current_status, status_table, write_outputs

    store, alert_store = SqliteStore(Path(inv.store.path), inv.store), AlertStore(Path(inv.store.path))
    console.print(status_table(current_status(inv, store, alert_store.load_states(), lang),
                               f"{inv.city_ja} 公衆無線LAN 現在の状態" if lang == "ja" else f"{inv.city_en} status"))
    for i in alert_store.incidents():
        console.print(f"  incident {i.id}: {i.device} {i.kind} {i.duration_s or 0:.0f} s"
                      f"{' (suppressed: ' + i.suppressed_by + ')' if i.suppressed_by else ''}", highlight=False)
    store.close()
    alert_store.close()
    written = write_outputs(inv, out, lang)
    written += _reports(inv, out, lang)
    console.print("written:")
    for label, path in written:
        console.print(f"  {label}: {path}")


def _seed_history(inv: Any, days: int) -> int:
    """Fill the demo's store with simulated history ending a few minutes ago, so reports have a month."""
    if days <= 0:
        return 0
    from analytics.synthetic import synthetic_history
    from core.store.sqlite_store import SqliteStore

    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=2)
    store = SqliteStore(Path(inv.store.path), inv.store)
    batch: list[Any] = []
    n = 0
    for p in synthetic_history(inv, end - dt.timedelta(days=days), end, seed=20261124):
        batch.append(p)
        if len(batch) >= 20000:
            store.write(batch)
            n += len(batch)
            batch = []
    store.write(batch)
    store.rollup(time.time_ns())  # the hourly rollups 状況's 7/30-day figures and the maps' heat read
    store.close()
    return n + len(batch)


def _reports(inv: Any, out: Path, lang: str) -> list[tuple[str, Path]]:
    from analytics.monthly import write_monthly
    from core.store.sqlite_store import SqliteStore
    from maps.demo_background import write_demo_background
    from maps.tiles import default_tile_file, inventory_bands
    from wifiwatch.views import write_current_map

    if not default_tile_file(inv).exists():  # no internet for GSI tiles: a stand-in, labelled as one
        write_demo_background(default_tile_file(inv), inventory_bands(inv))
    store = SqliteStore(Path(inv.store.path), inv.store)
    try:
        month = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m")
        from analytics.export import chromium
        from analytics.monthly import FORMATS

        fmts = FORMATS if chromium() else tuple(f for f in FORMATS if f != "pdf")
        files = write_monthly(inv, store, month, Path(inv.reports.dir), lang, formats=fmts)
        done = [("monthly report (HTML)", files[0])] + [(f"{f.stem} ({f.suffix[1:].upper()})", f) for f in files[1:]]
        done.append(("coverage map (offline HTML)", write_current_map(inv, out / "map.html", lang, store=store,
                                                                      offline=True)))
        return done
    finally:
        store.close()


def _hms(s: float) -> str:
    return f"{int(s) // 60:02d}:{int(s) % 60:02d}"

