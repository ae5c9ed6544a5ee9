"""Forwarding and reading against real servers: influxd 1.6 (v1 /write, InfluxQL) and VictoriaMetrics (v2 client)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from core.inventory import InfluxSettings, StoreSettings
from core.schema import Point
from core.secrets import SecretResolver
from core.store import Forwarder, SinkError, SqliteStore, make_reader, make_sink
from core.store.forwarder import backoff_delay
from core.store.influx_v1 import InfluxV1Sink
from core.store.influx_v2 import InfluxV2Sink
from core.store.influxql import InfluxQLReader
from tests.fixtures_influx import free_port

T0 = 1_760_000_000 * 10**9


def mixed_points(n: int, t0: int = T0) -> list[Point]:
    """Every field type, tags with spaces/commas/equals/Japanese, several measurements and series."""
    out: list[Point] = []
    for i in range(n):
        ap = f"ap {i % 3},x=1" if i % 5 == 0 else f"ap-{i % 3}"
        out.append(Point("ap_status", {"site": "鹿嶋 市役所", "ap": ap, "vendor": "generic", "role": "ap"},
                         {"reachable": i % 4 != 0, "snmp_ok": True, "rtt_ms": 1.0 + i / 7, "clients": i,
                          "uptime_s": 10**12 + i, "error": 'a "quoted", ok' if i % 6 == 0 else ""}, t0 + i * 10**9))
        out.append(Point("ap_clients", {"site": "s", "ap": f"ap-{i % 2}", "radio": "5g"}, {"clients": i % 9},
                         t0 + i * 10**9))
    return out


def store_for(tmp_path: Path, name: str = "s.sqlite3") -> SqliteStore:
    return SqliteStore(tmp_path / name, StoreSettings(min_free_mb=0))


def test_influxql_reader_equals_sqlite_query(tmp_path: Path, influxd, influx_db) -> None:
    store = store_for(tmp_path)
    pts = mixed_points(60)
    store.write(pts)
    fwd = Forwarder(store, InfluxV1Sink(influxd.url, influx_db), batch_size=25)
    r = fwd.drain()
    assert (r.sent, r.dead_lettered, r.backlog, r.error) == (len(pts), 0, 0, None)
    reader = InfluxQLReader(influxd.url, influx_db)
    for m in ("ap_status", "ap_clients"):
        local = store.query(m, T0, T0 + 60 * 10**9)
        remote = reader.query(m, T0, T0 + 60 * 10**9)
        assert remote == local and len(local) == 60
        for a, b in zip(local, remote, strict=True):
            assert {k: type(v) for k, v in a.fields.items()} == {k: type(v) for k, v in b.fields.items()}
    tags = {"ap": "ap 0,x=1", "site": "鹿嶋 市役所"}
    assert reader.query("ap_status", T0, T0 + 10**12, tags) == store.query("ap_status", T0, T0 + 10**12, tags)
    assert len(store.query("ap_status", T0, T0 + 10**12, tags)) > 0
    assert reader.query("ap_status", T0 + 5 * 10**9, T0 + 6 * 10**9) == store.query("ap_status", T0 + 5 * 10**9,
                                                                                     T0 + 6 * 10**9)
    assert reader.query("no_such_measurement", 0, 2**62) == []
    store.close()


def test_v1_factory_and_missing_database_is_dead_lettered(tmp_path: Path, influxd, influx_db, caplog) -> None:
    store = store_for(tmp_path)
    store.write(mixed_points(5))
    settings = InfluxSettings(url=influxd.url, database="does_not_exist")
    fwd = Forwarder(store, make_sink(settings, SecretResolver()), batch_size=100)
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        r = fwd.forward_once()
    assert (r.sent, r.dead_lettered, r.backlog) == (0, 10, 0)
    (dl,) = store.dead_letters()
    assert dl.status == 404 and "database not found" in dl.error and len(dl.lines) == 10
    assert any("missing database" in rec.getMessage() for rec in caplog.records)
    assert fwd.forward_once().sent == 0  # not retried forever
    assert fwd.retry_dead_letters() == (0, 0, [f"batch {dl.id}: {dl.error}"])  # still missing: kept
    assert store.dead_letter_count() == (1, 10)
    # Once the database exists, the parked lines are re-sent verbatim and leave the table.
    influxd.create_db("does_not_exist")
    try:
        assert fwd.retry_dead_letters() == (1, 10, [])
        assert store.dead_letter_count() == (0, 0)
        assert influxd.count("does_not_exist", "ap_status", "clients") == 5
        reader = make_reader(settings, SecretResolver())
        assert reader.query("ap_clients", 0, 2**62) == store.query("ap_clients", 0, 2**62)
        assert len(reader.query("ap_clients", 0, 2**62)) == 5
    finally:
        influxd.query('DROP DATABASE "does_not_exist"')
    store.close()


def test_bad_line_is_bisected_out_and_good_lines_land(tmp_path: Path, influxd, influx_db, caplog) -> None:
    store = store_for(tmp_path)
    good = [Point("ap_clients", {"site": "s", "ap": "a", "radio": "2g"}, {"clients": i}, T0 + i) for i in range(40)]
    # clients as a string after InfluxDB learned it is an integer: a field type conflict (400 partial write)
    InfluxV1Sink(influxd.url, influx_db).send([good[0].to_line()])
    bad = [Point("ap_clients", {"site": "s", "ap": "a", "radio": "2g"}, {"clients": "many"}, T0 + 1000 + i)
           for i in range(2)]
    store.write(good[:17] + [bad[0]] + good[17:30] + [bad[1]] + good[30:])
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        r = Forwarder(store, InfluxV1Sink(influxd.url, influx_db), batch_size=1000).forward_once()
    assert (r.sent, r.dead_lettered, r.backlog) == (40, 2, 0)
    assert influxd.count(influx_db, "ap_clients", "clients") == 40
    dls = store.dead_letters()
    assert sorted(line for d in dls for line in d.lines) == sorted(b.to_line() for b in bad)
    assert all(d.status == 400 and "conflict" in d.error for d in dls)
    assert any("type conflict" in rec.getMessage() for rec in caplog.records)
    store.close()


def test_unparsable_body_and_wrong_token_are_permanent_with_server_message(influxd, influx_db) -> None:
    sink = InfluxV1Sink(influxd.url, influx_db)
    with pytest.raises(SinkError) as e:
        sink.send(["not line protocol at all"])
    assert not e.value.retryable and e.value.status == 400 and "unable to parse" in e.value.message


class _StatusServer:
    """A real HTTP server answering every write with ``status``: 401 like InfluxDB with a wrong token, 5xx/429."""

    def __init__(self, status: int = 401, error: str = "authorization failed") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.dumps({"error": error}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.server.seen_auth.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.seen_auth = []  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_wrong_token_is_dead_lettered_and_token_never_logged(tmp_path: Path, caplog, monkeypatch) -> None:
    srv = _StatusServer()
    monkeypatch.setenv("WW_TEST_INFLUX_TOKEN", "s3cret-token-value")
    settings = InfluxSettings(url=srv.url, database="wifiwatch", token="env:WW_TEST_INFLUX_TOKEN")
    store = store_for(tmp_path)
    store.write(mixed_points(3))
    fwd = Forwarder(store, make_sink(settings, SecretResolver()))
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        r = fwd.forward_once()
    assert r.dead_lettered == 6 and r.backlog == 0
    assert srv.server.seen_auth == ["Token s3cret-token-value"]  # type: ignore[attr-defined]
    (dl,) = store.dead_letters()
    assert dl.status == 401 and "authorization failed" in dl.error and "s3cret" not in dl.error
    text = " ".join(rec.getMessage() + str(getattr(rec, "kv", "")) for rec in caplog.records)
    assert "wrong credentials" in text and "s3cret" not in text
    srv.server.shutdown()
    store.close()


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_retryable_and_keep_the_batch(tmp_path: Path, status: int) -> None:
    srv = _StatusServer(status, "engine overloaded")
    store = store_for(tmp_path)
    store.write(mixed_points(2))
    r = Forwarder(store, InfluxV1Sink(srv.url, "db")).forward_once()
    assert r.error is not None and r.error.retryable and r.error.status == status
    assert "engine overloaded" in r.error.message
    assert (r.sent, r.dead_lettered, r.backlog, store.cursor(), store.dead_letter_count()) == (0, 0, 4, 0, (0, 0))
    srv.server.shutdown()
    store.close()


def test_unreachable_is_retryable_and_logged_once(tmp_path: Path, caplog) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = store_for(tmp_path)
    store.write(mixed_points(3))
    fwd = Forwarder(store, InfluxV1Sink(url, "db", timeout_s=2))
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        results = [fwd.forward_once() for _ in range(5)]
    assert all(r.error is not None and r.error.retryable and r.sent == 0 for r in results)
    assert results[-1].backlog == 6 and store.cursor() == 0 and store.dead_letter_count() == (0, 0)
    msgs = [rec.getMessage() for rec in caplog.records if rec.name.startswith("wifiwatch.store")]
    assert len(msgs) == 1 and f"unreachable at {url}" in msgs[0]
    assert "unreachable" in (store.stats()["last_error"] or "")
    assert fwd.failures == 5
    store.close()


def test_backoff_grows_with_jitter_and_caps() -> None:
    import random

    rng = random.Random(1)
    delays = [[backoff_delay(n, 1.0, 300.0, rng) for _ in range(200)] for n in (1, 4, 20)]
    assert max(delays[0]) <= 1.0 and max(delays[1]) <= 8.0 and max(delays[2]) <= 300.0
    assert max(delays[2]) > 200 and len(set(delays[2])) > 150  # jittered, reaches near the cap
    assert min(min(d) for d in delays) >= 0.1


def test_outage_mid_run_every_point_arrives_once(tmp_path: Path, influxd, influx_db) -> None:
    """influxd stops while the forwarder runs and many batches pile up; after restart all arrive exactly once."""
    store = store_for(tmp_path)
    fwd = Forwarder(store, InfluxV1Sink(influxd.url, influx_db, timeout_s=2), batch_size=200, idle_s=0.05,
                    backoff_base_s=0.05, backoff_cap_s=0.3)
    stop = threading.Event()
    th = threading.Thread(target=fwd.run, args=(stop,), daemon=True)
    th.start()
    n = 0

    def produce(batches: int) -> None:
        nonlocal n
        for _ in range(batches):
            store.write([Point("ap_ping", {"site": "s", "ap": f"ap-{k % 7}", "role": "ap"},
                               {"reachable": True, "rtt_ms": 1.0, "loss_pct": 0.0, "method": "icmp"}, T0 + n + k)
                         for k in range(100)])
            n += 100
            time.sleep(0.005)

    produce(10)
    influxd.stop()
    produce(30)  # 3,000 points = 15 batches while down
    time.sleep(0.5)
    assert store.backlog() > 0 and fwd.failures > 0
    influxd.start()
    produce(10)
    deadline = time.monotonic() + 30
    while store.backlog() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    th.join(10)
    assert store.backlog() == 0 and store.dead_letter_count() == (0, 0)
    assert influxd.count(influx_db, "ap_ping", "rtt_ms") == n == 5000
    store.close()


_CHILD = textwrap.dedent("""
    import sys
    from core.inventory import StoreSettings
    from core.store import Forwarder, SqliteStore
    from core.store.influx_v1 import InfluxV1Sink
    store = SqliteStore(sys.argv[1], StoreSettings(min_free_mb=0))
    fwd = Forwarder(store, InfluxV1Sink(sys.argv[2], sys.argv[3]), batch_size=int(sys.argv[4]))
    print("ready", flush=True)
    while fwd.forward_once().backlog:
        pass
    print("done", flush=True)
""")


def test_sigkill_mid_forwarding_then_restart_no_loss_no_duplicates(tmp_path: Path, influxd, influx_db) -> None:
    path = tmp_path / "k.sqlite3"
    store = store_for(tmp_path, "k.sqlite3")
    n = 30_000
    for b in range(0, n, 5000):
        store.write([Point("ap_clients", {"site": "s", "ap": f"ap-{i % 11}", "radio": "2g"}, {"clients": i},
                           T0 + i * 1000) for i in range(b, b + 5000)])
    store.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), influxd.url, influx_db, "500"],
                             stdout=subprocess.PIPE, env=env, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    check = store_for(tmp_path, "k.sqlite3")
    deadline = time.monotonic() + 20
    while check.cursor() < n // 4 and time.monotonic() < deadline:
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    killed_at = check.cursor()
    assert 0 < killed_at < n, "the child must die mid-run"
    r = Forwarder(check, InfluxV1Sink(influxd.url, influx_db), batch_size=500).drain()
    assert r.error is None and check.backlog() == 0
    assert influxd.count(influx_db, "ap_clients", "clients") == n
    res = influxd.query('SELECT SUM("clients") FROM "ap_clients"', influx_db)["results"][0]["series"][0]
    assert res["values"][0][1] == sum(range(n))  # each point once: no loss, no duplicate
    check.close()


def test_v2_client_forwarding_to_victoriametrics(tmp_path: Path, victoria) -> None:
    store = store_for(tmp_path)
    pts = [Point("ap_traffic", {"site": "s", "ap": "ap-1", "interface": "wan"},
                 {"rx_bps": 1000.5 + i, "tx_bps": 10.0, "rx_bytes": 10**9 + i, "tx_bytes": 5, "oper_up": i % 2 == 0},
                 T0 + i * 60 * 10**9) for i in range(50)]
    store.write(pts)
    settings = InfluxSettings(url=victoria.url, api="v2", database="wifiwatch", org="kashima")
    sink = make_sink(settings, SecretResolver())
    assert isinstance(sink, InfluxV2Sink)
    r = Forwarder(store, sink, batch_size=20).drain()
    assert (r.sent, r.backlog, r.error) == (50, 0, None)
    rows = {(s["metric"]["__name__"], s["metric"]["ap"]): s for s in victoria.export('{__name__=~"ap_traffic_.*"}')}
    rx = rows[("ap_traffic_rx_bytes", "ap-1")]
    assert rx["values"] == [10**9 + i for i in range(50)]
    assert rx["timestamps"] == [(T0 + i * 60 * 10**9) // 10**6 for i in range(50)]
    assert rows[("ap_traffic_oper_up", "ap-1")]["values"][:2] == [1, 0]
    store.close()


def test_v2_unreachable_is_retryable() -> None:
    sink = InfluxV2Sink(f"http://127.0.0.1:{free_port()}", "b", token="t", timeout_s=2)
    with pytest.raises(SinkError) as e:
        sink.send([mixed_points(1)[0].to_line()])
    assert e.value.retryable and "unreachable" in e.value.message
    assert sink.ping() is not None


def test_influxql_errors_are_clear(influxd) -> None:
    from core.store.influxql import InfluxQLError

    with pytest.raises(InfluxQLError, match="database not found"):
        InfluxQLReader(influxd.url, "nope_db").query("ap_status", 0, 1)
    with pytest.raises(InfluxQLError, match="unreachable"):
        InfluxQLReader(f"http://127.0.0.1:{free_port()}", "x").query("ap_status", 0, 1)
    assert httpx.get(f"{influxd.url}/ping").status_code == 204
