"""``wifiwatch store ...`` against a real store file and a real influxd."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.inventory import StoreSettings
from core.schema import Point
from core.store import SqliteStore
from wifiwatch.cli import app

T0 = 1_760_000_000 * 10**9


@pytest.fixture
def config(tmp_path: Path, influxd, influx_db, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "sites.toml"
    cfg.write_text(
        f'[store]\npath = "var/ww.sqlite3"\nmin_free_mb = 0\n'
        f'[influxdb]\nurl = "{influxd.url}"\ndatabase = "{influx_db}"\nbatch_size = 7\n',
        encoding="utf-8",
    )
    return cfg


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def test_status_forward_and_dead_letters(config: Path, influxd, influx_db) -> None:
    code, out = run("store", "status", "--lang", "en", "-c", str(config))
    assert code == 2 and "does not exist yet" in out and "Traceback" not in out
    store = SqliteStore(config.parent / "var/ww.sqlite3", StoreSettings(min_free_mb=0))
    store.write([Point("ap_clients", {"site": "s", "ap": "a", "radio": "2g"}, {"clients": i}, T0 + i)
                 for i in range(20)])
    store.write([Point("ap_clients", {"site": "s", "ap": "a", "radio": "2g"}, {"clients": "lots"}, T0 + 100)])
    code, out = run("store", "status", "--lang", "en", "-c", str(config))
    assert code == 0, out
    assert "21 in 1 series" in out and "21 points" in out and f"reachable at {influxd.url}" in out
    code, out = run("store", "forward", "--once", "-c", str(config))
    assert code == 0, out
    assert "sent 20 points, dead-lettered 1, backlog 0" in out
    assert influxd.count(influx_db, "ap_clients", "clients") == 20
    code, out = run("store", "dead-letter", "list", "--lines", "-c", str(config))
    assert code == 0 and "400" in out and "conflict" in out and 'clients="lots"' in out
    code, out = run("store", "status", "--lang", "en", "-c", str(config))
    assert "1 points in 1 batches" in out and "0 points" in out
    code, out = run("store", "dead-letter", "retry", "-c", str(config))
    assert code == 1 and "re-sent 0 batches" in out and "conflict" in out
    assert store.dead_letter_count() == (1, 1)
    store.close()


def test_forward_with_influx_down_exits_1_and_keeps_data(tmp_path: Path, monkeypatch) -> None:
    from tests.fixtures_influx import free_port

    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "s.sqlite3"\n[influxdb]\nurl = "http://127.0.0.1:{free_port()}"\n'
                   'timeout_s = 2\n', encoding="utf-8")
    with SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0)) as s:
        s.write([Point("ap_ping", {"ap": "a"}, {"rtt_ms": 1.0}, T0)])
    code, out = run("store", "forward", "--once", "-c", str(cfg))
    assert code == 1 and "unreachable" in out and "data kept" in out and "Traceback" not in out
    code, out = run("store", "status", "--lang", "en", "-c", str(cfg))
    assert code == 0 and "1 points" in out and "unreachable" in out
