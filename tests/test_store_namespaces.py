"""One SQLite file, every component: namespaces, per-component schema versions, migrations of a first-release file.

The first release (main before schema 2) created ``dead_letter`` in both the measurement store and the alert
store with different columns: whichever opened the file first won and the other crashed. These tests build
such files with that release's exact DDL, rows in every table, and check every row survives the upgrade.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.alerts.store import AlertStore
from core.inventory import StoreSettings
from core.schema import Point
from core.store import dbfile
from core.store.sqlite_store import SqliteStore

T0 = 1_790_000_000 * 10**9

# Verbatim from the first release (core/store/sqlite_store.py _DDL and collector/alerts/store.py SCHEMA).
RELEASE1_STORE = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (measurement, tags)
);
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id INTEGER NOT NULL REFERENCES series(id),
    time_ns INTEGER NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS points_series_time ON points (series_id, time_ns);
CREATE INDEX IF NOT EXISTS points_time ON points (time_ns);
CREATE TABLE IF NOT EXISTS rollup_hourly (
    series_id INTEGER NOT NULL REFERENCES series(id),
    hour_ns INTEGER NOT NULL,
    field TEXT NOT NULL,
    count INTEGER NOT NULL,
    mean REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    PRIMARY KEY (series_id, hour_ns, field)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollup_hour ON rollup_hourly (hour_ns);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ns INTEGER NOT NULL,
    first_row INTEGER NOT NULL,
    last_row INTEGER NOT NULL,
    status INTEGER,
    error TEXT NOT NULL,
    lines TEXT NOT NULL
);
"""
RELEASE1_ALERTS = """
CREATE TABLE IF NOT EXISTS alert_state (device TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, device TEXT NOT NULL, site TEXT NOT NULL, kind TEXT NOT NULL,
  start REAL NOT NULL, end REAL, duration_s REAL, cause TEXT NOT NULL DEFAULT '',
  suppressed_by TEXT, notified INTEGER NOT NULL DEFAULT 0, last_notified REAL, reminders INTEGER NOT NULL DEFAULT 0,
  severity TEXT NOT NULL DEFAULT 'critical');
CREATE INDEX IF NOT EXISTS incidents_open ON incidents(device, kind) WHERE end IS NULL;
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
  body TEXT NOT NULL, severity TEXT NOT NULL, data TEXT NOT NULL, created REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, sent_at REAL, last_error TEXT,
  UNIQUE(key, channel));
CREATE TABLE IF NOT EXISTS dead_letter (
  id INTEGER PRIMARY KEY, outbox_id INTEGER, channel TEXT, subject TEXT, error TEXT, at REAL);
CREATE TABLE IF NOT EXISTS maintenance_adhoc (
  id TEXT PRIMARY KEY, target TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL, reason TEXT NOT NULL);
"""
STATE = json.dumps({"confirmed": "down", "phase": "down", "fails": 3, "oks": 0, "first_fail_at": 5.0,
                    "changes": [1.0, 2.0]})


def _release1_file(path: Path, store_first: bool) -> dict[str, list[tuple[Any, ...]]]:
    """A file as the first release left it, with rows in every table; returns every table's rows."""
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA auto_vacuum=INCREMENTAL")
    c.execute("PRAGMA journal_mode=WAL")
    for ddl in (RELEASE1_STORE, RELEASE1_ALERTS) if store_first else (RELEASE1_ALERTS, RELEASE1_STORE):
        c.executescript(ddl)
    c.execute("PRAGMA user_version=1")
    c.executemany("INSERT INTO series (id, measurement, tags) VALUES (?,?,?)",
                  [(1, "ap_status", '{"ap":"ap-1","site":"s"}'), (2, "ap_ping", '{"ap":"ap-1","site":"s"}')])
    c.executemany("INSERT INTO points (series_id, time_ns, fields) VALUES (?,?,?)",
                  [(1 + i % 2, T0 + i * 60 * 10**9, json.dumps({"clients": i, "snmp_ok": True})) for i in range(50)])
    c.execute("DELETE FROM points WHERE id > 45")  # AUTOINCREMENT must keep counting from 50, not 45
    c.execute("INSERT INTO rollup_hourly VALUES (1, ?, 'clients', 25, 24.0, 0, 48)", (T0 - T0 % 3_600_000_000_000,))
    c.executemany("INSERT INTO meta VALUES (?,?)", [("cursor", "40"), ("last_error", "HTTP 503")])
    if store_first:  # the store's dead_letter won; the alert store's never existed
        c.execute("INSERT INTO dead_letter (created_ns, first_row, last_row, status, error, lines) "
                  "VALUES (?, 3, 4, 400, 'bad line', 'm a=1 1\nm a=2 2')", (T0,))
    else:  # the alert store's won; the measurement store had none
        c.execute("INSERT INTO dead_letter (outbox_id, channel, subject, error, at) VALUES (1, 'mail', 's', 'e', 9)")
    c.execute("INSERT INTO alert_state VALUES ('ap-1', ?)", (STATE,))
    c.execute("INSERT INTO incidents (device, site, kind, start, end, duration_s, cause, notified, severity) "
              "VALUES ('ap-1', 's', 'down', 5.0, 65.0, 60.0, 'no heartbeat reply', 1, 'critical')")
    c.execute("INSERT INTO incidents (device, site, kind, start, cause) VALUES ('ap-2', 's', 'down', 70.0, 'x')")
    c.execute("INSERT INTO outbox (key, channel, kind, subject, body, severity, data, created, next_at) "
              "VALUES ('1:down', 'mail', 'down', 'subj', 'body', 'critical', '{}', 5.0, 5.0)")
    c.execute("INSERT INTO maintenance_adhoc VALUES ('adhoc-1', 'ap-1', '2026-12-01T02:00+09:00', "
              "'2026-12-01T04:00+09:00', '交換')")
    rows = {t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in dbfile.tables(c)
            if t != "sqlite_sequence"}
    c.close()
    return rows


NEW_NAME = {"series": "store_series", "points": "store_points", "rollup_hourly": "store_rollup_hourly",
            "meta": "store_meta", "incidents": "alert_incidents", "outbox": "alert_outbox",
            "maintenance_adhoc": "alert_maintenance", "alert_state": "alert_state"}


def _open_store(p: Path) -> Any:
    return SqliteStore(p, StoreSettings(min_free_mb=0), reserve_bytes=0)


def _open_alerts(p: Path) -> Any:
    return AlertStore(p)


OPENERS: dict[str, Callable[[Path], Any]] = {"store": _open_store, "alerts": _open_alerts}
ORDERS = list(itertools.permutations(OPENERS))


def _namespaced(path: Path) -> None:
    with sqlite3.connect(path) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
                                         "AND name NOT LIKE 'sqlite_%'")]
    stray = [n for n in names if not n.startswith(("store_", "alert_", dbfile.VERSIONS_TABLE))]
    assert not stray, stray


def _exercise(store: SqliteStore, alerts: AlertStore, run: int = 0) -> None:
    """What the daemon and the CLI do with each component, including both dead-letter paths."""
    store.write([Point("ap_status", {"site": "s", "ap": "ap-9"}, {"clients": 3}, T0 + 10**12)])
    store.dead_letter(1, 1, 400, "refused", ["m a=1 1"])
    assert store.stats()["dead_letter_batches"] >= 1
    with alerts.tx() as c:
        assert alerts.enqueue(c, f"9:down:{run}", "hook", "down", "s", "b", "critical", {}, 1.0)
    (oid, *_), *_ = [r for r in alerts.due(2.0) if r[1] == "hook"]
    alerts.mark_failed(oid, "HTTP 404", None, 3.0)  # out of retries: dead-lettered
    assert ("hook", "s", "HTTP 404") in [(d[1], d[2], d[3]) for d in alerts.dead_letters()]
    alerts.incidents()
    alerts.maintenance()


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
@pytest.mark.parametrize("start", ["fresh", "release1-store-first", "release1-alerts-first"])
def test_every_component_in_every_order_on_one_file(tmp_path: Path, order: tuple[str, ...], start: str) -> None:
    path = tmp_path / "wifiwatch.sqlite3"
    if start != "fresh":
        _release1_file(path, store_first=start == "release1-store-first")
    for run in range(2):  # and again: a second start migrates nothing and loses nothing
        opened = {name: OPENERS[name](path) for name in order}
        try:
            _exercise(opened["store"], opened["alerts"], run)
        finally:
            for o in opened.values():
                o.close()
    _namespaced(path)
    with sqlite3.connect(path) as c:
        assert dict(c.execute(f"SELECT component, version FROM {dbfile.VERSIONS_TABLE}")) == {"store": 2, "alerts": 2}
        assert c.execute("PRAGMA user_version").fetchone()[0] == dbfile.FILE_FORMAT
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("store_first", [True, False], ids=["store-first", "alerts-first"])
def test_release1_file_is_upgraded_without_losing_a_row(tmp_path: Path, store_first: bool) -> None:
    path = tmp_path / "wifiwatch.sqlite3"
    before = _release1_file(path, store_first)
    alerts, store = AlertStore(path), _open_store(path)
    try:
        with sqlite3.connect(path) as c:
            for old, rows in before.items():
                new = NEW_NAME.get(old) or ("store_dead_letter" if store_first else "alert_dead_letter")
                assert c.execute(f"SELECT * FROM {new} ORDER BY 1").fetchall() == rows, old
        # ... and every component reads them through its own API.
        assert len(store.query("ap_status", 0, 2**62)) == 23 and len(store.query("ap_ping", 0, 2**62)) == 22
        assert store.cursor() == 40 and store.backlog() == 5 and store.meta("last_error") == "HTTP 503"
        assert store.query_hourly("ap_status", 0, 2**62)[0].count == 25
        store.write([Point("ap_status", {"site": "s", "ap": "ap-1"}, {"clients": 1}, T0 + 10**13)])
        assert store.rows_after(45, 10)[-1][0] == 51  # AUTOINCREMENT carried over: ids never reused
        assert alerts.load_states()["ap-1"].fails == 3
        assert [(i.device, i.end) for i in alerts.incidents()] == [("ap-1", 65.0), ("ap-2", None)]
        assert alerts.pending() == 1 and alerts.maintenance()[0][4] == "交換"
        if store_first:
            assert [d.lines for d in store.dead_letters()] == [["m a=1 1", "m a=2 2"]]
            assert alerts.dead_letters() == []
        else:
            assert store.dead_letters() == []
            assert alerts.dead_letters() == [(1, "mail", "s", "e", 9.0)]
        _exercise(store, alerts)
    finally:
        alerts.close()
        store.close()
    _namespaced(path)


def test_a_newer_file_is_refused_clearly_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "wifiwatch.sqlite3"
    _open_store(path).close()
    with sqlite3.connect(path) as c:
        c.execute(f"UPDATE {dbfile.VERSIONS_TABLE} SET version=99 WHERE component='store'")
    with pytest.raises(dbfile.SchemaError, match="store tables have schema version 99, newer than this wifiwatch"):
        _open_store(path)
    with sqlite3.connect(path) as c:
        c.execute(f"UPDATE {dbfile.VERSIONS_TABLE} SET version=2")
        c.execute(f"PRAGMA user_version={dbfile.FILE_FORMAT + 1}")
    with pytest.raises(dbfile.SchemaError, match="newer than this wifiwatch"):
        AlertStore(path)
    with sqlite3.connect(path) as c:
        assert {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {
            "store_series", "store_points", "sqlite_sequence", "store_rollup_hourly", "store_meta",
            "store_dead_letter", dbfile.VERSIONS_TABLE}


def test_ddl_outside_the_namespace_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="dead_letter: outside the 'alert_' namespace"):
        dbfile.check_namespace("alert_", "CREATE TABLE IF NOT EXISTS dead_letter (id INTEGER)")


# -- the daemon's file, through the CLI -------------------------------------------------------------------
CONFIG = """
[store]
path = "{store}"
min_free_mb = 0

[snmp]
version = "2c"
community = "env:X"

[alerts]
down_after = 2
up_after = 1

[[alerts.channels]]
name = "hook"
type = "webhook"
url = "env:WW_TEST_NS_HOOK"

[[sites]]
id = "center"
name_ja = "中央公民館"
name_en = "Community Center"
kind = "public_facility"
lat = 35.9655
lon = 140.6335
[[sites.aps]]
id = "ap1"
host = "127.0.0.2"
"""


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from wifiwatch.cli import app

    r = CliRunner().invoke(app, list(args))
    out = r.output + (repr(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")
    return r.exit_code, out


def test_out_of_retries_alert_is_dead_lettered_on_the_daemons_store(tmp_path: Path, webhook: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """As `wifiwatch run` wires it: the measurement store opens the file first, then the alert engine."""
    from collector.alerts.state import Heartbeat
    from core.config import parse_config
    from core.secrets import SecretResolver
    from wifiwatch.commands.collect import build_daemon

    store_path = tmp_path / "var" / "wifiwatch.sqlite3"
    cfg = tmp_path / "sites.toml"
    cfg.write_text(CONFIG.format(store=store_path), encoding="utf-8")
    monkeypatch.setenv("WW_TEST_NS_HOOK", webhook.url)
    webhook.status[0] = 404  # a permanent refusal: no retries left at once
    daemon = build_daemon(parse_config(cfg.read_text(), str(cfg)), cfg, SecretResolver(), http=False)
    eng = daemon.alerts
    try:
        for t in range(4):
            eng.observe(float(t * 10), {"ap1": Heartbeat(t == 0, None, 0.0 if t == 0 else 100.0)})
        assert eng.deliver_due(100.0) == 0
        assert [(d[1], d[3]) for d in eng.store.dead_letters()] == [("hook", "hook: HTTP 404: ")]
        daemon.writer.dead_letter(1, 2, 400, "bad line", ["m a=1 1"])  # the forwarder's own dead letters
    finally:
        eng.close()
        daemon.writer.close()
    code, out = _cli("alerts", "list", "--lang", "en", "-c", str(cfg))
    assert code == 0 and "ap1" in out and "1 dead-lettered" in out, out
    code, out = _cli("store", "status", "--lang", "en", "-c", str(cfg))
    assert code == 0 and "1 points in 1 batches" in out, out


@pytest.mark.parametrize("kind", ["fresh", "release1-store-first", "release1-alerts-first", "zero-bytes"])
def test_alerts_list_and_store_status_answer_on_every_kind_of_store(tmp_path: Path, kind: str) -> None:
    store_path = tmp_path / "wifiwatch.sqlite3"
    cfg = tmp_path / "sites.toml"
    cfg.write_text(CONFIG.format(store=store_path), encoding="utf-8")
    if kind == "fresh":
        _open_store(store_path).close()
        _open_alerts(store_path).close()
    elif kind == "zero-bytes":
        store_path.write_bytes(b"")
    else:
        _release1_file(store_path, store_first=kind == "release1-store-first")
    code, out = _cli("alerts", "list", "--lang", "en", "-c", str(cfg))
    assert code == 0 and "Traceback" not in out and "Error" not in out, out
    if kind.startswith("release1"):
        assert "ap-1" in out and "ap-2" in out
    code, out = _cli("store", "status", "--lang", "en", "-c", str(cfg))
    assert code == 0 and "Traceback" not in out and "Error" not in out, out
    want = {"fresh": "0 in 0 series", "zero-bytes": "0 in 0 series"}.get(kind, "45 in 2 series")
    assert want in out, out
    # No [influxdb]: a first-release file that forwarded (a cursor) shows its backlog, a fresh one no forwarding.
    assert ("5 points" if kind.startswith("release1") else "- (not forwarding)") in out, out
