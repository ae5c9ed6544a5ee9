"""Charts: the embedded store and InfluxDB give the same lines for every range; bucketing is exact; labels escape."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from console.charts import axis, line_chart, tick_text
from console.history import RANGES, Chart, Line, bucket_mean, chart
from core.inventory import StoreSettings
from core.schema import Point
from core.store.influxql import InfluxQLReader
from core.store.sqlite_store import SqliteStore

NOW = 1_795_000_000.0  # 2026-11-18, fixed so buckets are reproducible
DAYS = 40


def _points() -> list[Point]:
    """Two APs of one site: 40 days at 10-minute steps (1 day at 1 minute for the last day), an outage, gaps."""
    out = []
    t = NOW - DAYS * 86400
    while t < NOW:
        step = 60 if t > NOW - 86400 else 600
        for k, ap in enumerate(("a1", "a2")):
            h = (t / 3600 + 9) % 24
            up = not (NOW - 20 * 86400 <= t < NOW - 20 * 86400 + 5400) or k == 1
            if ap == "a2" and NOW - 9 * 86400 <= t < NOW - 8 * 86400:
                continue  # a day without data: a gap, not zero
            ns = int(t * 1e9)
            clients = int(30 * max(0.0, math.sin(math.pi * (h - 6) / 15))) if up else 0
            out.append(Point("ap_ping", {"site": "s", "ap": ap, "role": "ap"},
                             {"reachable": up, "rtt_ms": 2.0 + (t % 7)}, ns))
            out.append(Point("ap_status", {"site": "s", "ap": ap, "vendor": "generic", "role": "ap"},
                             {"clients": clients, "snmp_ok": up}, ns))
            out.append(Point("ap_traffic", {"site": "s", "ap": ap, "interface": "eth0"},
                             {"rx_bps": clients * 2e5, "tx_bps": clients * 4e4}, ns))
            out.append(Point("ap_clients", {"site": "s", "ap": ap, "radio": "5GHz"}, {"clients": clients // 2}, ns))
        t += step
    return out


def test_sqlite_and_influxdb_give_the_same_charts(tmp_path: Path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    pts = _points()
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    store.write(pts)
    store.rollup(int(NOW * 1e9) - 3 * 3600 * 10**9)  # the rollup job ran 3 h ago: the newest hours are raw only
    for i in range(0, len(pts), 20000):
        r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"},
                       content="\n".join(p.to_line() for p in pts[i:i + 20000]).encode(), timeout=60)
        assert r.status_code == 204, r.text
    influx = InfluxQLReader(influxd.url, influx_db)
    for rk in RANGES:
        for metric in ("clients", "availability", "traffic", "rtt", "radio"):
            for tags in ({"ap": "a1"}, {"site": "s"}):
                a, b = chart(store, metric, tags, rk, NOW), chart(influx, metric, tags, rk, NOW)
                assert a.samples == b.samples > 0, (rk, metric, tags)
                assert [ln.label for ln in a.lines] == [ln.label for ln in b.lines]
                for la, lb in zip(a.lines, b.lines, strict=True):
                    assert np.array_equal(np.isnan(la.values), np.isnan(lb.values)), (rk, metric, tags)
                    assert np.allclose(la.values, lb.values, equal_nan=True, rtol=1e-9), (rk, metric, tags)
                if metric == "availability" and rk in ("30d", "13m") and tags == {"ap": "a1"}:
                    assert np.nanmin(a.lines[0].values) < 100  # the outage shows
    a2 = chart(store, "clients", {"ap": "a2"}, "30d", NOW).lines[0].values
    assert np.isnan(a2).sum() >= 12  # the day without data is a gap (2-hour buckets), not zeros
    influx.close()
    store.close()


@given(st.lists(st.tuples(st.floats(0, 10_000, allow_nan=False), st.one_of(st.none(), st.floats(-1e6, 1e6))),
                max_size=200), st.integers(1, 500), st.integers(1, 40))
def test_bucket_mean_matches_a_loop(samples: list[tuple[float, float | None]], step: int, n: int) -> None:
    t = np.array([int(s * 1e9) for s, _ in samples], dtype=np.int64)
    v = np.array([np.nan if x is None else x for _, x in samples], dtype=np.float64)
    s, c = bucket_mean(t, v, 0.0, step, n)
    for i in range(n):
        inside = [x for (ts, x), tn in zip(samples, t, strict=True)
                  if x is not None and i * step <= tn / 1e9 < (i + 1) * step]
        assert c[i] == len(inside)
        assert math.isclose(s[i], sum(inside), rel_tol=1e-9, abs_tol=1e-6)


def test_chart_escapes_labels_and_breaks_lines_at_gaps() -> None:
    vals = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    svg = line_chart(Chart("clients", time.time(), 300, [Line("<x>", vals)], 5), '"><script>alert(1)</script>',
                     "${7*7}", {"<x>": "<img src=x>"})
    assert "<script>" not in svg and "<img" not in svg and "&lt;img src=x&gt;" in svg
    assert svg.count("<path") == 2  # the gap splits the line


@given(st.floats(0, 1e7, allow_nan=False), st.booleans())
def test_axis_ticks_are_round_numbers(vmax: float, integer: bool) -> None:
    top, step = axis(vmax, integer)
    n = round(top / step)
    assert top >= vmax and 1 <= n <= 5 and math.isclose(n * step, top, rel_tol=1e-9)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5))  # never 2.5 or 1.25
    if integer:
        assert step >= 1 and step == int(step)
    labels = [tick_text(i * step, step) for i in range(n + 1)]
    assert len(set(labels)) == len(labels)  # no two ticks read the same


def test_axis_examples_from_the_issue() -> None:
    assert axis(3.8, integer=True) == (4, 1)  # clients: 0 1 2 3 4, not 1.2 / 2.5 / 3.8
    assert axis(62.0) == (80, 20)
    assert axis(0) == (1.0, 0.2) and axis(0, integer=True) == (4, 1) and axis(250) == (250, 50)
    assert axis(55, top=100.0) == (100.0, 25.0)
    svg = line_chart(Chart("clients", time.time(), 300, [Line("clients", np.array([0.0, 3.8]))], 2), "c", "台",
                     integer=True)
    assert [t.split(">")[-1] for t in svg.split("</text>") if 'class="ytick"' in t] == ["0", "1", "2", "3", "4"]
