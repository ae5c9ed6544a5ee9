"""SqliteStore on a real file: round trip, rollups, retention, latest, concurrency, disk full."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.inventory import StoreSettings
from core.schema import Point
from core.store.sqlite_store import DAY_NS, HOUR_NS, SCHEMA_VERSION, SqliteStore, series_id_key

T0 = 1_760_000_000 * 10**9 - (1_760_000_000 * 10**9) % HOUR_NS  # an hour boundary in 2025


def status(ap: str, t: int, clients: int = 3, rtt: float = 1.5, up: bool = True, err: str = "") -> Point:
    return Point(
        "ap_status",
        {"site": "city-hall", "ap": ap, "vendor": "generic", "role": "ap"},
        {"reachable": up, "snmp_ok": up, "rtt_ms": rtt, "clients": clients, "uptime_s": 100, "error": err},
        t,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    yield s
    s.close()


def test_round_trip_keeps_types_order_and_filters(store: SqliteStore) -> None:
    pts = [status("ap-2", T0 + 2), status("ap-1", T0 + 1, clients=0, rtt=2.0, up=False, err="timeout"),
           status("ap-1", T0 + 5, rtt=3.0)]
    store.write(pts)
    got = store.query("ap_status", T0, T0 + 10)
    assert [p.time_ns for p in got] == [T0 + 1, T0 + 2, T0 + 5]
    assert got[0] == pts[1]
    first = got[0].fields
    assert type(first["clients"]) is int and type(first["rtt_ms"]) is float and first["reachable"] is False
    assert first["error"] == "timeout"
    assert store.query("ap_status", T0, T0 + 10, {"ap": "ap-1"}) == [pts[1], pts[2]]
    assert store.query("ap_status", T0 + 2, T0 + 5) == [pts[0]]  # end is exclusive
    assert store.query("ap_status", T0, T0 + 10, {"ap": "nope"}) == []
    assert store.query("ap_ping", T0, T0 + 10) == []


def test_empty_tags_and_nan_fields_are_dropped_like_line_protocol(store: SqliteStore) -> None:
    p = Point("ap_ping", {"site": "s", "ap": "a", "role": ""}, {"rtt_ms": float("nan"), "reachable": False}, T0)
    store.write([p])
    (got,) = store.query("ap_ping", T0, T0 + 1)
    assert dict(got.tags) == {"site": "s", "ap": "a"}
    assert dict(got.fields) == {"reachable": False}
    assert "role" not in p.to_line() and "rtt_ms" not in p.to_line()


def test_same_series_same_time_merges_like_influx(store: SqliteStore) -> None:
    store.write([Point("ap_clients", {"site": "s", "ap": "a", "radio": "2g"}, {"clients": 1}, T0)])
    store.write([Point("ap_clients", {"site": "s", "ap": "a", "radio": "2g"}, {"clients": 7}, T0)])
    got = store.query("ap_clients", T0, T0 + 1)
    assert len(got) == 1 and got[0].fields["clients"] == 7


def test_schema_version_wal_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    with SqliteStore(path, StoreSettings(min_free_mb=0)) as s:
        s.write([status("ap-1", T0)])
        s.set_cursor(1)
    with SqliteStore(path, StoreSettings(min_free_mb=0)) as s:
        assert s.query("ap_status", T0, T0 + 1) == [status("ap-1", T0)]
        assert s.cursor() == 1
    c = sqlite3.connect(path)
    assert c.execute("SELECT version FROM wifiwatch_schema WHERE component='store'").fetchone()[0] == SCHEMA_VERSION
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental: prune gives space back
    c.execute(f"UPDATE wifiwatch_schema SET version={SCHEMA_VERSION + 1} WHERE component='store'")
    c.commit()
    c.close()
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStore(path, StoreSettings())


def test_row_ids_only_grow_after_deletes(store: SqliteStore) -> None:
    store.write([status("ap-1", T0 + i) for i in range(5)])
    store.set_cursor(5)
    store._free_rows(5)
    store.write([status("ap-1", T0 + 10)])
    assert store.rows_after(0, 10)[0][0] == 6


def test_concurrent_writers_from_threads(store: SqliteStore) -> None:
    def writer(ap: str) -> None:
        for i in range(50):
            store.write([status(ap, T0 + i * 1000 + j) for j in range(10)])

    threads = [threading.Thread(target=writer, args=(f"ap-{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.query("ap_status", T0, T0 + 10**9)) == 4 * 50 * 10
    ids = [rid for rid, _ in store.rows_after(0, 10_000)]
    assert ids == sorted(ids) and len(set(ids)) == 2000


def test_hourly_rollup_counts_means_and_late_rows(store: SqliteStore) -> None:
    pts = [status("ap-1", T0 + i * 60 * 10**9, clients=i, rtt=float(i), up=i % 2 == 0) for i in range(60)]
    pts.append(status("ap-1", T0 + HOUR_NS, clients=100))
    store.write(pts)
    assert store.rollup(T0 + 2 * HOUR_NS) == 2
    rows = {r.field: r for r in store.query_hourly("ap_status", T0, T0 + HOUR_NS)}
    assert set(rows) == {"reachable", "snmp_ok", "rtt_ms", "clients", "uptime_s"}  # strings excluded
    c = rows["clients"]
    assert (c.count, c.min, c.max, c.mean) == (60, 0, 59, pytest.approx(29.5))
    assert rows["reachable"].mean == pytest.approx(0.5)
    # A late row for the first hour recomputes it; nothing new means nothing to do.
    store.write([status("ap-1", T0 + 30, clients=1000)])
    assert store.rollup(T0 + 2 * HOUR_NS) == 1
    assert store.rollup(T0 + 2 * HOUR_NS) == 0
    c2 = next(r for r in store.query_hourly("ap_status", T0, T0 + HOUR_NS, fields=["clients"]))
    assert (c2.count, c2.max) == (61, 1000)
    assert len(store.query_hourly("ap_status", T0, T0 + 2 * HOUR_NS, {"ap": "ap-1"}, ["clients"])) == 2


def test_prune_keeps_unforwarded_rows_and_rollups(tmp_path: Path) -> None:
    settings = StoreSettings(raw_retention_days=2, retention_days=10, min_free_mb=0)
    s = SqliteStore(tmp_path / "r.sqlite3", settings, forwarding=True)
    s.write([status("ap-1", T0), status("ap-1", T0 + 1), status("ap-1", T0 + 5 * DAY_NS)])
    s.set_cursor(1)  # only the first row reached InfluxDB
    raw, rolled = s.prune(T0 + 3 * DAY_NS)
    assert raw == 1 and rolled == 0
    assert [p.time_ns for p in s.query("ap_status", 0, 2**62)] == [T0 + 1, T0 + 5 * DAY_NS]
    assert s.query_hourly("ap_status", T0, T0 + HOUR_NS)  # the aggregate outlives the raw rows
    raw, rolled = s.prune(T0 + 11 * DAY_NS)
    assert raw == 0 and rolled > 0
    assert s.query_hourly("ap_status", T0, T0 + HOUR_NS) == []
    s.close()
    # Without forwarding, age alone decides.
    s2 = SqliteStore(tmp_path / "r2.sqlite3", settings)
    s2.write([status("ap-1", T0), status("ap-1", T0 + 5 * DAY_NS)])
    assert s2.forwarding() is False
    assert s2.prune(T0 + 3 * DAY_NS)[0] == 1
    s2.close()


def test_latest_and_stats(store: SqliteStore) -> None:
    store.write([status("ap-1", T0), status("ap-1", T0 + 9, clients=9), status("ap-2", T0 + 3, clients=4)])
    latest = store.latest("ap_status")
    assert len(latest) == 2
    key = series_id_key({"site": "city-hall", "ap": "ap-1", "vendor": "generic", "role": "ap"})
    assert latest[key].fields["clients"] == 9 and latest[key].time_ns == T0 + 9
    assert list(store.latest("ap_status", {"ap": "ap-2"}).values())[0].fields["clients"] == 4
    st = store.stats()
    assert (st["rows"], st["oldest_ns"], st["newest_ns"], st["backlog"], st["series"]) == (3, T0, T0 + 9, 3, 2)
    assert st["bytes"] > 0


def test_low_free_space_deletes_oldest_forwarded_first_and_logs(tmp_path: Path, caplog) -> None:
    s = SqliteStore(tmp_path / "d.sqlite3", StoreSettings(min_free_mb=0))
    s.write([status("ap-1", T0 + i) for i in range(3000)])
    s.set_cursor(500)
    s.settings = StoreSettings(min_free_mb=10**9)  # more than any disk here: every write must make room
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        s.write([status("ap-1", T0 + 10**6 + i) for i in range(10)])
        s.write([status("ap-1", T0 + 2 * 10**6)])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "nearly full" in errors[0].getMessage()  # once per minute, not per write
    assert errors[0].kv["free_mb"] is not None
    times = [p.time_ns for p in s.query("ap_status", 0, 2**62)]
    assert times[-1] == T0 + 2 * 10**6 and T0 + 10**6 + 9 in times  # newest kept
    assert len(times) == 3000 + 11 - 2000
    # forwarded rows (ids 1..500) went first, then the oldest unforwarded by time
    assert times[0] == T0 + 2000
    s.close()


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_filesystem_keeps_newest_data(tiny_fs: Path, caplog) -> None:
    """An 8 MB tmpfs filled by the store itself: SQLITE_FULL is handled (ERROR, oldest rows deleted, retried)
    and later the free-space check keeps room; the newest rows always survive."""
    s = SqliteStore(tiny_fs / "full.sqlite3", StoreSettings(min_free_mb=0))
    assert (tiny_fs / "full.sqlite3-reserve").stat().st_size == 2 * 1_048_576
    big = "x" * 200
    batches = 400  # ~12 MB of rows: more than the filesystem
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        for b in range(batches):
            s.write([status("ap-1", T0 + b * 1000 + i, err=big) for i in range(100)])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "nearly full" in errors[0].getMessage() and "full" in errors[0].kv["sqlite_error"]
    times = [p.time_ns for p in s.query("ap_status", 0, 2**62)]
    assert times[-1] == T0 + (batches - 1) * 1000 + 99 and T0 + (batches - 1) * 1000 in times
    assert times[0] > T0 and len(times) < batches * 100  # the oldest went
    # With a free-space floor the store makes room before SQLite ever fails.
    s.settings = StoreSettings(min_free_mb=1)
    s._last_disk_log = 0.0
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="wifiwatch.store"):
        for b in range(batches, batches + 20):
            s.write([status("ap-1", T0 + b * 1000 + i, err=big) for i in range(100)])
    assert any(r.kv.get("free_mb") is not None for r in caplog.records if r.levelno == logging.ERROR)
    assert s.query("ap_status", T0 + (batches + 19) * 1000, 2**62)[-1].time_ns == T0 + (batches + 19) * 1000 + 99
    s.close()


def test_lines_after_equal_point_to_line_and_skip_fieldless_rows(store: SqliteStore) -> None:
    pts = [status("ap-1", T0 + i, err="a b,c=d") for i in range(3)]
    odd = Point("ap_event", {"site": "鹿嶋 市", "ap": "a,b=c", "kind": "down"}, {"message": 'x "y"'}, T0 + 9)
    empty = Point("ap_ping", {"ap": "z"}, {"rtt_ms": float("nan")}, T0 + 10)
    store.write([*pts, odd, empty])
    lines = store.lines_after(0, 100)
    assert [line for _, line in lines] == [p.to_line() for p in [*pts, odd]]
    assert store.lines_after(4, 100) == [(5, "")]  # a field-less row still lets the cursor pass
