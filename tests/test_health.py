"""Health that tells the truth: /metrics gauges and /healthz of a real daemon through a real InfluxDB outage,
and a damaged store reported once, clearly, with what to do."""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.inventory import StoreSettings
from core.schema import Point
from core.store.sqlite_store import SqliteStore
from tests.fixtures_alerts import free_port

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
[store]
path = "{store}"
min_free_mb = 0

[http]
port = {http_port}

[defaults]
heartbeat_s = 1
interval_s = 2
timeout_s = 0.3
retries = 0

[snmp]
version = "2c"
community = "env:WW_TEST_COMMUNITY"
{influx}
[[sites]]
id = "center"
name_ja = "中央公民館"
name_en = "Community Center"
kind = "public_facility"
lat = 35.9655
lon = 140.6335
[[sites.aps]]
id = "ap1"
host = "{host}"
port = {snmp_port}
"""


def _wait(what: str, cond: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = cond()
        except (httpx.HTTPError, sqlite3.Error):
            got = None
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _gauge(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return float(m[1])


def _real_backlog(store: Path) -> int:
    with sqlite3.connect(store, timeout=10) as c:
        cursor = int(c.execute("SELECT value FROM store_meta WHERE key='cursor'").fetchone()[0])
        return int(c.execute("SELECT COUNT(*) FROM store_points WHERE id > ?", (cursor,)).fetchone()[0])


class Run:
    def __init__(self, tmp: Path, influx: str = "", store: Path | None = None):
        self.store = store or tmp / "var" / "ww.sqlite3"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cfg = tmp / "sites.toml"
        host = f"127.{random.randint(64, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
        self.cfg.write_text(CONFIG.format(store=self.store, http_port=self.port, influx=influx, host=host,
                                          snmp_port=free_port()), encoding="utf-8")
        self.log = tmp / "daemon.log"
        env = {**os.environ, "WW_TEST_COMMUNITY": "c0mmunity-for-tests", "WIFIWATCH_LOG_LEVEL": "info"}
        self.proc = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "run", "-c", str(self.cfg),
                                      "--no-icmp"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("wb"))

    def health(self) -> tuple[int, dict[str, Any]]:
        r = httpx.get(f"{self.base}/healthz", timeout=5)
        return r.status_code, r.json()

    def stop(self) -> str:
        from wifiwatch.sim.process import stop_process

        stop_process(self.proc, 10)
        # Up to the stop request: cycles cancelled by the shutdown itself are not under test here.
        return self.log.read_text(encoding="utf-8", errors="replace").split('msg="stopping"')[0]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(**kw: Any) -> Run:
        runs.append(Run(tmp_path, **kw))
        return runs[-1]

    yield start
    for r in runs:
        if r.proc.poll() is None:
            r.stop()


def test_backlog_and_healthz_are_true_through_a_real_influxdb_outage(run: Callable[..., Run], influxd: Any,
                                                                     influx_db: str) -> None:
    d = run(influx=f'\n[influxdb]\nurl = "{influxd.url}"\ndatabase = "{influx_db}"\nbatch_size = 50\n'
                   "timeout_s = 1\n")
    _wait("forwarding to start", lambda: d.health()[0] == 200 and influxd.count(influx_db, "ap_ping", "reachable"))
    assert _gauge(d.base, "wifiwatch_forward_backlog_rows") < 20
    influxd.stop()
    try:
        code, body = _wait("/healthz to name the forwarder", lambda: (h := d.health())[0] == 503 and h)
        assert set(body["failing"]) == {"forwarder"} and influxd.url in body["failing"]["forwarder"]
        assert body["parts"]["store"] == "ok" and body["parts"]["scheduler"] == "ok"
        _wait("the backlog to grow", lambda: _real_backlog(d.store) >= 15)
        shown, real = _gauge(d.base, "wifiwatch_forward_backlog_rows"), _real_backlog(d.store)
        assert shown >= 15 and abs(shown - real) <= 6, (shown, real)  # one heartbeat's rows apart at most
    finally:
        influxd.start()
    _wait("the backlog to drain", lambda: _real_backlog(d.store) < 10 and d.health()[0] == 200, timeout=60)
    assert _gauge(d.base, "wifiwatch_forward_backlog_rows") < 10
    assert _gauge(d.base, "wifiwatch_alert_outbox") == 0
    log = d.stop()
    assert "Traceback" not in log
    assert log.count("forwarding to InfluxDB paused") == 1 and "forwarding to InfluxDB resumed" in log


def _damage(store: Path) -> None:
    """Overwrite the root page of the points table: every later write of a point fails as 'malformed'."""
    from collector.alerts.store import AlertStore

    AlertStore(store).close()
    with SqliteStore(store, StoreSettings(min_free_mb=0), reserve_bytes=0) as s:
        s.write([Point("ap_ping", {"ap": "ap1", "site": "center"}, {"reachable": True, "n": i}, 10**18 + i)
                 for i in range(3000)])
    with sqlite3.connect(store) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name='store_points'").fetchone()[0]
    with store.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xa5" * page_size)


def test_a_damaged_store_is_logged_once_with_what_to_do_and_named_by_healthz(run: Callable[..., Run],
                                                                            tmp_path: Path) -> None:
    store = tmp_path / "var" / "ww.sqlite3"
    store.parent.mkdir()
    _damage(store)
    d = run(store=store, influx=f'\n[influxdb]\nurl = "http://127.0.0.1:{free_port()}"\n')
    code, body = _wait("/healthz to name the store and the forwarder",
                       lambda: (h := d.health())[0] == 503 and {"store", "forwarder"} <= set(h[1]["failing"]) and h)
    assert "damaged" in body["failing"]["store"] and "cannot read the store" in body["failing"]["forwarder"]
    r = httpx.get(f"{d.base}/status", timeout=5)
    assert r.status_code == 503 and "malformed" in r.json()["error"]
    time.sleep(2.5)  # more heartbeat cycles fail the same way: no new log lines for them
    assert d.health()[1]["failing"]["store"] == body["failing"]["store"]
    log = d.stop()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("store failing") == 1, log[-3000:]
    assert log.count("forwarding paused: cannot read the store") == 1, log[-3000:]
    assert "move" in log and "aside" in log


def test_store_status_and_alerts_list_on_a_damaged_store_are_one_line_errors(tmp_path: Path) -> None:
    store = tmp_path / "ww.sqlite3"
    _damage(store)
    cfg = tmp_path / "sites.toml"
    cfg.write_text(f'[store]\npath = "{store}"\nmin_free_mb = 0\n', encoding="utf-8")
    from tests.test_cli_text import run_main

    for args in (["store", "status"], ["status"], ["alerts", "list"]):
        r = run_main(*args, "-c", str(cfg))
        if args == ["alerts", "list"]:  # the alert tables are intact: a true (empty) answer
            assert r.returncode == 0 and not r.stderr, r.stderr
            continue
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "damaged" in r.stderr and str(store) in r.stderr.replace("\n", ""), r.stderr


def test_a_garbage_file_stops_wifiwatch_run_with_one_line(tmp_path: Path) -> None:
    store = tmp_path / "ww.sqlite3"
    store.write_bytes(b"this is not a database" * 100)
    cfg = tmp_path / "sites.toml"
    cfg.write_text(f'[store]\npath = "{store}"\nmin_free_mb = 0\n[http]\nport = 0\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "run", "-c", str(cfg), "--duration", "3"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "damaged" in r.stderr, r.stderr


def test_status_is_the_daemons_view_over_http_and_on_the_command_line(run: Callable[..., Run]) -> None:
    d = run()  # ap1 answers nothing: after down_after (3) heartbeats the daemon holds it down
    doc = _wait("/status to show ap1 down", lambda: (j := httpx.get(f"{d.base}/status", timeout=5).json())
                ["devices"][0]["state"] == "down" and j)
    assert [x["device"] for x in doc["devices"]] == ["ap1"] and doc["counts"]["down"] == 1
    assert doc["devices"][0]["reachable"] is False and doc["devices"][0]["stale"] is False
    from tests.test_cli_text import run_main

    cli = ("status", "-c", str(d.cfg))
    r = run_main(*cli, "--format", "json")
    assert r.returncode == 0, r.stderr
    mine = json.loads(r.stdout)
    assert [(x["device"], x["state"], x["since"]) for x in mine["devices"]] == [
        (x["device"], x["state"], x["since"]) for x in doc["devices"]]
    r = run_main(*cli)
    assert r.returncode == 0 and "拠点" in r.stdout and "状態" in r.stdout and "停止" in r.stdout, r.stdout
    assert "中央公民館" in r.stdout
    d.stop()
    r = run_main(*cli, "--lang", "en")
    assert r.returncode == 0 and "state" in r.stdout and "Community Center" in r.stdout and "down" in r.stdout


def test_each_part_is_named_with_its_reason(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """The scheduler and store parts without a whole daemon run: stopped or idle scheduler, a failing store
    logged once however often it fails, and back to ok when a cycle succeeds."""
    import logging

    from apscheduler.schedulers.background import BackgroundScheduler

    from collector.daemon import Daemon
    from core.config import parse_config
    from core.secrets import SecretResolver

    cfg = tmp_path / "s.toml"
    cfg.write_text(CONFIG.format(store=tmp_path / "s.sqlite3", http_port=0, influx="", host="127.0.0.9",
                                 snmp_port=161), encoding="utf-8")
    d = Daemon(cfg, parse_config(cfg.read_text(), str(cfg)), SecretResolver(), writer=None, http=False,
               parts={"forwarder": lambda: "InfluxDB at http://127.0.0.1:1 failing"})
    assert d.part_problems() == {"scheduler": "the scheduler is not running",
                                 "forwarder": "InfluxDB at http://127.0.0.1:1 failing"}
    d.scheduler = BackgroundScheduler()
    d.scheduler.start(paused=True)
    try:
        d._last_cycle = time.time() - 100
        assert d.part_problems()["scheduler"].startswith("no heartbeat cycle for 100 s (expected every 1 s)")
        d._last_cycle = time.time()
        d.parts = {}
        assert d.part_problems() == {}
        with caplog.at_level(logging.INFO, logger="wifiwatch"):
            for _ in range(5):
                d._failed("heartbeat cycle failed", sqlite3.DatabaseError("database disk image is malformed"))
            assert "damaged" in d.part_problems()["store"]
            d.board.ok("store")
        assert d.part_problems() == {}
        texts = [r.getMessage() for r in caplog.records]
        assert sum("store failing" in t for t in texts) == 1 and sum("store working again" in t for t in texts) == 1
        assert all(r.exc_info is None for r in caplog.records)  # no traceback for a store problem
    finally:
        d.scheduler.shutdown(wait=False)


def test_gauges_are_read_from_the_store_at_every_scrape(tmp_path: Path) -> None:
    from prometheus_client import generate_latest

    from collector.alerts.store import AlertStore
    from collector.daemon import Daemon
    from collector.metrics import REGISTRY
    from core.config import parse_config
    from core.secrets import SecretResolver

    cfg = tmp_path / "s.toml"
    cfg.write_text(CONFIG.format(store=tmp_path / "s.sqlite3", http_port=0, influx="", host="127.0.0.9",
                                 snmp_port=161), encoding="utf-8")
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0), reserve_bytes=0)
    alerts = type("Alerts", (), {"store": AlertStore(tmp_path / "s.sqlite3")})()
    d = Daemon(cfg, parse_config(cfg.read_text(), str(cfg)), SecretResolver(), writer=store, alerts=alerts,
               http=False)
    d._watch_metrics()

    def gauges() -> tuple[float, float]:
        text = generate_latest(REGISTRY).decode()
        get = lambda n: float(re.search(rf"^{n} (\S+)$", text, re.M)[1])  # type: ignore[index]  # noqa: E731
        return get("wifiwatch_forward_backlog_rows"), get("wifiwatch_alert_outbox")

    try:
        assert gauges() == (0.0, 0.0)  # nothing forwarded ever: no backlog to speak of
        store.set_cursor(0)  # a forwarder has started
        store.write([Point("ap_ping", {"ap": "ap1"}, {"reachable": True}, 10**18 + i) for i in range(7)])
        with alerts.store.tx() as c:
            for k in range(3):
                alerts.store.enqueue(c, f"{k}:down", "mail", "down", "s", "b", "critical", {}, 1.0)
        assert gauges() == (7.0, 3.0)
        store.set_cursor(5)
        assert gauges() == (2.0, 3.0)
        store.close()  # the store is gone: unknown (NaN), never a comforting 0
        backlog, outbox = gauges()
        assert backlog != backlog and outbox == 3.0
    finally:
        alerts.store.close()
