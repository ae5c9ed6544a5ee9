"""The vectorised report math equals the per-sample definitions it replaced, and the column reads of both stores
equal what ``PointReader.query`` returns (including same-time rows merging, later value winning)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.availability import Sample, availability, merge, segments
from analytics.usage import JST, client_hours, hours_over, jst_weekday_hour, usage
from core.inventory import StoreSettings
from core.schema import Point
from core.store.columns import Columns, columns_from_points
from core.store.influxql import InfluxQLReader
from core.store.sqlite_store import SqliteStore


# -- the per-sample definitions (the code before vectorising), kept here as the reference -------------------
def ref_availability(samples: Sequence[Sample], start: float, end: float, interval_s: float,
                     maintenance: Sequence[tuple[float, float]]) -> tuple[float, float, float, float,
                                                                           list[tuple[float, float]]]:
    holes = merge((max(a, start), min(b, end)) for a, b in maintenance if min(b, end) > max(a, start))
    up = down = unknown = maint = covered = 0.0
    downs: list[tuple[float, float]] = []
    for a, b, state in segments(samples, interval_s):
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        covered += b - a
        parts = [(a, b)]
        for h0, h1 in holes:
            nxt = []
            for x, y in parts:
                lo, hi = max(x, h0), min(y, h1)
                if lo >= hi:
                    nxt.append((x, y))
                    continue
                maint += hi - lo
                nxt += [(x, lo)] if x < lo else []
                nxt += [(hi, y)] if hi < y else []
            parts = nxt
        dur = sum(y - x for x, y in parts)
        if state == "up":
            up += dur
        elif state == "down":
            down += dur
            downs += parts
        else:
            unknown += dur
    gaps = (end - start) - covered
    if gaps > 0:
        in_maint = sum(b - a for a, b in holes)
        unknown += gaps - (in_maint - maint)
        maint = in_maint
    return up, down, unknown, maint, merge(downs)


def ref_held(samples: Sequence[tuple[float, float]], start: float, end: float,
             gap: float) -> Iterator[tuple[float, float, float]]:
    pts = sorted(samples)
    for i, (t, v) in enumerate(pts):
        nxt = pts[i + 1][0] if i + 1 < len(pts) else t + gap
        a, b = max(t, start), min(nxt, t + gap, end)
        if b > a:
            yield a, b, v


def ref_usage(clients: Sequence[tuple[float, float]], start: float, end: float,
              gap: float) -> tuple[int, float, float, list[list[list[float]]]]:
    peak, ch, obs = 0, 0.0, 0.0
    profile = [[[0.0, 0.0] for _ in range(24)] for _ in range(7)]
    for a, b, v in ref_held(clients, start, end, gap):
        peak = max(peak, int(v))
        while a < b:
            y = min(b, (a // 3600 + 1) * 3600)
            h = (y - a) / 3600
            ch += v * h
            obs += h
            local = dt.datetime.fromtimestamp(a, JST)
            profile[local.weekday()][local.hour][0] += v * h
            profile[local.weekday()][local.hour][1] += h
            a = y
    return peak, ch, obs, profile


times = st.integers(0, 20_000)
ping_samples = st.lists(st.tuples(times, st.booleans()), max_size=80).map(
    lambda xs: [Sample(float(t), up) for t, up in sorted(dict(xs).items())])
windows = st.lists(st.tuples(times, st.integers(1, 2000)), max_size=3).map(
    lambda xs: [(float(a), float(a + d)) for a, d in xs])
client_samples = st.lists(st.tuples(st.integers(0, 40_000).map(lambda t: t * 0.5), st.integers(0, 300).map(float)),
                          max_size=80)


@given(ping_samples, windows, st.integers(0, 20_000), st.integers(1, 20_000), st.sampled_from([10.0, 60.0, 300.0]))
def test_availability_equals_the_per_segment_definition(ss: list[Sample], maint: list[tuple[float, float]],
                                                        start: int, length: int, interval: float) -> None:
    a = availability(ss, start, start + length, interval, maint)
    up, down, unknown, m, outages = ref_availability(ss, start, start + length, interval, maint)
    assert (a.up_s, a.down_s, a.unknown_s, a.maintenance_s) == pytest.approx((up, down, unknown, m), abs=1e-6)
    assert a.outages == outages


@given(client_samples, st.integers(0, 20_000), st.integers(1, 30_000), st.sampled_from([300.0, 900.0, 7200.0]),
       st.integers(0, 300))
def test_usage_equals_the_per_piece_definition(cs: list[tuple[float, float]], start: int, length: int, gap: float,
                                               cap: int) -> None:
    end = start + length
    u = usage(cs, [], start, end, max_gap_s=gap)
    peak, ch, obs, profile = ref_usage(cs, start, end, gap)
    assert u.peak_clients == peak
    assert (u.client_hours, u.observed_h) == pytest.approx((ch, obs), abs=1e-9)
    assert np.allclose(np.array(u.profile), np.array(profile), atol=1e-9)
    want = sum(b - a for a, b, v in ref_held(cs, start, end, gap) if v > cap) / 3600
    assert hours_over(cs, cap, start, end, max_gap_s=gap) == pytest.approx(want, abs=1e-9)
    assert client_hours(np.array([t for t, _ in cs]), np.array([v for _, v in cs]), start, end, gap) == \
        pytest.approx(ch, abs=1e-9)


@given(st.lists(st.floats(-2e9, 4.2e9, allow_nan=False), min_size=1, max_size=50))
def test_weekday_and_hour_are_japan_time(xs: list[float]) -> None:
    """As datetime.fromtimestamp(x, Asia/Tokyo) gives them, microsecond rounding included (Japan last had
    summer time in 1951, so times from 1952 on)."""
    xs = [x for x in xs if x >= dt.datetime(1952, 1, 1, tzinfo=JST).timestamp()] or [0.0]
    day, hour = jst_weekday_hour(np.array(xs))
    want = [(d.weekday(), d.hour) for d in (dt.datetime.fromtimestamp(x, JST) for x in xs)]
    assert list(zip(day.tolist(), hour.tolist(), strict=True)) == want


@given(st.sampled_from([60, 300, 600]), st.lists(st.integers(0, 80), min_size=1, max_size=600),
       st.lists(st.booleans(), min_size=1))
def test_rolled_up_hours_give_the_raw_figure_for_regular_samples(step: int, values: list[int],
                                                                 rolled: list[bool]) -> None:
    """Hours whose raw rows were pruned count from (samples, sum) as the raw rows would have counted."""
    per_hour = 3600 // step
    n_hours = max(1, len(values) // per_hour)
    v = np.resize(np.array(values, dtype=np.float64), n_hours * per_hour)
    t = np.arange(len(v), dtype=np.float64) * step + 7200
    start, end = 7200.0, 7200.0 + n_hours * 3600
    raw = client_hours(t, v, start, end)
    pick = [h for h in range(n_hours) if rolled[h % len(rolled)]]
    hours = np.array([7200.0 + h * 3600 for h in pick])
    count = np.full(len(pick), float(per_hour))
    total = np.array([v[h * per_hour:(h + 1) * per_hour].sum() for h in pick])
    # the pruned hours' raw samples are gone: only the rollup speaks for them
    keep = ~np.isin((t - 7200) // 3600, pick)
    assert client_hours(t[keep], v[keep], start, end, rolled=(hours, count, total)) == pytest.approx(raw, abs=1e-6)


# -- column reads against query() on both stores --------------------------------------------------------------
T0 = int(dt.datetime(2026, 10, 5, tzinfo=JST).timestamp()) * 10**9


def _points() -> list[Point]:
    pts = []
    for i in range(200):
        t = T0 + i * 60 * 10**9
        pts.append(Point("ap_status", {"ap": "a1", "vendor": "x"}, {"clients": i % 7, "reachable": i % 11 != 0}, t))
        pts.append(Point("ap_traffic", {"ap": "a1", "interface": "eth0"}, {"rx_bps": 1e3 * i, "tx_bps": 2.5 * i}, t))
        if i % 3 == 0:
            pts.append(Point("ap_traffic", {"ap": "a1", "interface": "wlan0"}, {"rx_bps": 7.0 * i}, t))
    # the same series and time written again: fields merge, the later value wins
    pts.append(Point("ap_status", {"ap": "a1", "vendor": "x"}, {"clients": 99}, T0 + 5 * 60 * 10**9))
    pts.append(Point("ap_status", {"ap": "a1", "vendor": "y"}, {"snmp_ok": True}, T0))  # no field asked for
    return pts


def _same(a: list[Columns], b: list[Columns]) -> None:
    assert [c.tags for c in a] == [c.tags for c in b]
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.time_ns, y.time_ns)
        assert x.values.keys() == y.values.keys()
        for f in x.values:
            assert np.array_equal(x.values[f], y.values[f], equal_nan=True), f


@pytest.mark.parametrize("fields", [("clients",), ("clients", "reachable")])
def test_sqlite_columns_equal_query(tmp_path: Path, fields: tuple[str, ...]) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    store.write(_points())
    end = T0 + 150 * 60 * 10**9
    got = store.query_columns("ap_status", T0, end, {"ap": "a1"}, fields)
    _same(got, columns_from_points(store.query("ap_status", T0, end, {"ap": "a1"}), fields))
    assert got[0].values["clients"][5] == 99.0  # the later write won
    tr = store.query_columns("ap_traffic", T0, end, {"ap": "a1"}, ["rx_bps", "tx_bps"])
    _same(tr, columns_from_points(store.query("ap_traffic", T0, end, {"ap": "a1"}), ["rx_bps", "tx_bps"]))
    assert np.isnan(tr[1].values["tx_bps"]).all() and len(tr[1].time_ns) == 50  # wlan0: rx only


def test_influx_columns_equal_query(influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"},
                   content="\n".join(p.to_line() for p in _points()).encode(), timeout=60)
    assert r.status_code == 204, r.text
    reader = InfluxQLReader(influxd.url, influx_db, chunk_size=37)  # series split over many chunks
    end = T0 + 150 * 60 * 10**9
    for m, fields in (("ap_status", ["clients", "reachable"]), ("ap_traffic", ["rx_bps", "tx_bps"])):
        got = reader.query_columns(m, T0, end, {"ap": "a1"}, fields)
        _same(got, columns_from_points(reader.query(m, T0, end, {"ap": "a1"}), fields))
        assert got and len(got[0].time_ns) == 150
    reader.close()


def test_pruned_hours_are_reported_only_where_raw_rows_are_gone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0, raw_retention_days=1))
    store.write(_points())
    store.rollup(T0)
    end = T0 + 4 * 3600 * 10**9
    assert store.pruned_hours("ap_status", "clients", T0, end, {"ap": "a1"}) == []  # nothing pruned yet
    # prune half-way through the second hour: hour 1 wholly, hour 2 in part
    cut = T0 + 90 * 60 * 10**9
    store.prune(cut + 86400 * 10**9)
    got = store.pruned_hours("ap_status", "clients", T0, end, {"ap": "a1"})
    assert len(got) == 1 and got[0].tags == {"ap": "a1", "vendor": "x"}
    assert got[0].time_ns.tolist() == [T0, T0 + 3600 * 10**9]
    # 60 rows an hour, plus the duplicate row in the first hour; sum as the raw rows held it before pruning
    assert got[0].values["count"].tolist() == [61.0, 60.0]
    raw_sum = sum(i % 7 for i in range(60)) + 99
    assert got[0].values["sum"][0] == pytest.approx(raw_sum)
