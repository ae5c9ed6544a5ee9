"""The InfluxDB 2.x write API (influxdb-client) under an outage: the same zero-loss test as for v1
(tests/test_store_influx.py::test_outage_mid_run_every_point_arrives_once), against Debian's VictoriaMetrics,
which accepts influxdb-client writes. The server is stopped while the forwarder runs and batches pile up;
after it returns every point arrives exactly once, and the local store is the only buffer."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from core.inventory import InfluxSettings, StoreSettings
from core.schema import Point
from core.secrets import SecretResolver
from core.store import Forwarder, SqliteStore, make_sink
from core.store.influx_v2 import InfluxV2Sink

T0 = 1_760_000_000 * 10**9


def test_v2_outage_mid_run_every_point_arrives_once(tmp_path: Path, victoria) -> None:
    measurement = "outage_" + uuid.uuid4().hex[:8]  # the session server is shared: count only our own series
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    sink = make_sink(InfluxSettings(url=victoria.url, api="v2", database="wifiwatch", org="kashima",
                                    token="env:WW_TEST_V2_TOKEN", timeout_s=2),
                     _resolver_with_token())
    assert isinstance(sink, InfluxV2Sink)
    fwd = Forwarder(store, sink, batch_size=200, idle_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.3)
    stop = threading.Event()
    th = threading.Thread(target=fwd.run, args=(stop,), daemon=True)
    th.start()
    n = 0

    def produce(batches: int) -> None:
        nonlocal n
        for _ in range(batches):
            store.write([Point(measurement, {"site": "s", "ap": f"ap-{(n + k) % 7}", "role": "ap"},
                               {"seq": n + k, "reachable": True}, T0 + (n + k) * 10**9) for k in range(100)])
            n += 100
            time.sleep(0.005)

    try:
        produce(10)
        victoria.stop()
        produce(30)  # 3,000 points = 15 batches while the server is down
        deadline = time.monotonic() + 10
        while fwd.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.backlog() > 0 and fwd.failures > 0
        assert "unreachable" in (store.stats()["last_error"] or "")
    finally:
        if victoria.proc is None:
            victoria.start()
    produce(10)
    deadline = time.monotonic() + 30
    while store.backlog() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    th.join(10)
    sink.close()
    assert store.backlog() == 0 and store.dead_letter_count() == (0, 0)
    series = victoria.export(f'{{__name__="{measurement}_seq"}}')
    seqs = sorted(int(v) for s in series for v in s["values"])
    assert seqs == list(range(n)) and n == 5000  # each point once: none lost, none twice
    store.close()


def _resolver_with_token() -> SecretResolver:
    import os

    os.environ.setdefault("WW_TEST_V2_TOKEN", "any-token-victoria-ignores-it")
    return SecretResolver()
