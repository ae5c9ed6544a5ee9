"""Aggregate by AP first (analytics.figures): an AP whose tags change inside a bucket counts once, and a site's
peak is the peak of its APs' concurrent sum, the same in the report tables, the 年度 report, open data, the
planner's observed demand and the console's charts, from the embedded store and from a real influxd."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.figures import ApFigures, Period, bucket_mean, concurrent_peak, hourly_mean, merge_by_ap, peak
from analytics.fiscal import write_fiscal
from analytics.opendata import usage_rows as opendata_rows
from analytics.planner.observed import observed_demand
from analytics.tables import figures, site_batches, usage_rows
from console.history import chart
from core.inventory import AccessPoint, Inventory, Site, StoreSettings
from core.schema import Point
from core.store.influxql import InfluxQLReader
from core.store.sqlite_store import SqliteStore

JST = dt.timezone(dt.timedelta(hours=9))
DAY = dt.datetime(2026, 10, 15, tzinfo=JST)
START = DAY.timestamp()
END = START + 86400
# Clients of each AP at 10:00, 11:00 and 12:00 JST (an hour each): their peaks fall in different hours.
PLAN = {"a1": (40, 10, 20), "a2": (10, 34, 20), "a3": (10, 10, 30)}
SITE_PEAK = 70  # 20 + 20 + 30 at 12:00: more than any AP's peak (40), less than the sum of peaks (104)


def _inv() -> Inventory:
    aps = [AccessPoint(id=a, host=f"127.0.0.{k + 1}", name_ja=a) for k, a in enumerate(PLAN)]
    return Inventory(sites=[Site(id="s", name_ja="大町通り", name_en="Omachi", kind="tourist_spot", lat=35.9,
                                 lon=140.6, aps=aps)])


def _points(tag_change: bool) -> list[Point]:
    """A sample a minute 10:00-13:00 JST. With ``tag_change``, a2's vendor tag resolves from ``auto`` to ``cisco``
    at 11:32: both series have rows in the 11:00 hour and in the 5-minute bucket from 11:30 (where the charts used to
    double)."""
    out = []
    for a, levels in PLAN.items():
        for m in range(180):
            t = START + 10 * 3600 + 60 * m
            c = levels[m // 60]
            tags = {"site": "s", "ap": a, "role": "ap", "vendor": "generic"}
            ns = int(t * 1e9)
            if a == "a2" and tag_change:
                if m < 92:
                    out.append(Point("ap_status", {**tags, "vendor": "auto"}, {"clients": c}, ns))
                else:
                    out.append(Point("ap_status", {**tags, "vendor": "cisco"}, {"clients": c}, ns))
            else:
                out.append(Point("ap_status", tags, {"clients": c}, ns))
            out.append(Point("ap_traffic", {"site": "s", "ap": a, "interface": "eth0"},
                             {"rx_bps": c * 1e5, "tx_bps": c * 2e4}, ns))
            out.append(Point("ap_ping", {"site": "s", "ap": a, "role": "ap"}, {"reachable": True}, ns))
    return out


def _store(path: Path, tag_change: bool, rolled: bool = True) -> SqliteStore:
    store = SqliteStore(path, StoreSettings(min_free_mb=0))
    store.write(_points(tag_change))
    if rolled:
        store.rollup(int(END * 1e9))
    return store


def _peaks(rows: list[dict[str, object]]) -> dict[str, object]:
    return {str(r["id"]): r["peak_clients"] for r in rows}


@pytest.mark.parametrize("rolled", [True, False])
def test_a_tag_change_inside_an_hour_counts_the_ap_once_and_the_site_peak_is_the_concurrent_sum(
        tmp_path: Path, rolled: bool) -> None:
    inv = _inv()
    p = Period(START, END)
    with _store(tmp_path / "plain.sqlite3", False, rolled) as plain, \
            _store(tmp_path / "changed.sqlite3", True, rolled) as changed:
        assert len(changed._matching_series("ap_status", {"ap": "a2"})) == 2
        rows = usage_rows(inv, changed, p)
        assert _peaks(rows) == {"a1": 40, "a2": 34, "a3": 30, "s": SITE_PEAK, "tourist_spot": SITE_PEAK}
        assert rows == usage_rows(inv, plain, p)
        site = next(r for r in rows if r["level"] == "site")
        assert site["mean_clients"] == pytest.approx(sum(r["mean_clients"] for r in rows if r["level"] == "ap"))
        hourly = figures(inv, changed, p)["a2"].clients_hourly
        assert hourly is not None and list(hourly[10:13]) == [10, 34, 20]  # 10:00-13:00 JST: one value an hour
        od = [opendata_rows(inv, x, "2026-10", now=END)[0] for x in (changed, plain)]
        assert od[0]["最大同時接続数"] == SITE_PEAK == od[1]["最大同時接続数"]
        a, b = observed_demand(inv, changed, int(START * 1e9), int(END * 1e9)), \
            observed_demand(inv, plain, int(START * 1e9), int(END * 1e9))
        assert a["a2"].peak_clients == 34 and a["a2"].client_hours == b["a2"].client_hours


def test_fiscal_year_peaks_and_means_follow_the_same_rule(tmp_path: Path) -> None:
    inv = _inv()
    with _store(tmp_path / "changed.sqlite3", True) as store:
        files = write_fiscal(inv, store, 2026, tmp_path / "out", "ja", now=END, formats=("csv",))
    sites = next(f for f in files if f.name == "fiscal-2026-sites.csv").read_text(encoding="utf-8-sig")
    head, row = sites.splitlines()[:2]
    got = dict(zip(head.split(","), row.split(","), strict=True))
    assert float(got["peak_clients"]) == SITE_PEAK
    # a site's mean concurrent clients is the sum of its APs' means (each AP over the hours it was observed)
    assert float(got["mean_clients"]) == pytest.approx((70 + 54 + 60) / 3, abs=0.01)


def test_charts_from_sqlite_and_influxdb_count_a_retagged_ap_once(tmp_path: Path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    pts = _points(True)
    r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"},
                   content="\n".join(p.to_line() for p in pts).encode(), timeout=60)
    assert r.status_code == 204, r.text
    influx = InfluxQLReader(influxd.url, influx_db)
    now = END - 60
    try:
        with _store(tmp_path / "changed.sqlite3", True) as changed, _store(tmp_path / "plain.sqlite3", False) as plain:
            for reader in (changed, influx):
                day = chart(reader, "clients", {"site": "s"}, "24h", now)  # 5-minute buckets
                ref = chart(plain, "clients", {"site": "s"}, "24h", now)
                assert np.allclose(day.lines[0].values, ref.lines[0].values, equal_nan=True)
                assert np.nanmax(day.lines[0].values) == SITE_PEAK
                a2 = chart(reader, "clients", {"ap": "a2"}, "24h", now).lines[0].values
                assert np.nanmax(a2) == 34  # not 68 in the buckets both series hold
                month = chart(reader, "clients", {"site": "s"}, "30d", now)  # 2-hour buckets from the rollups
                assert np.allclose(month.lines[0].values, chart(plain, "clients", {"site": "s"}, "30d", now)
                                   .lines[0].values, equal_nan=True)
                assert np.nanmax(month.lines[0].values) <= SITE_PEAK
    finally:
        influx.close()


def test_reports_from_influxdb_agree(tmp_path: Path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"},
                   content="\n".join(p.to_line() for p in _points(True)).encode(), timeout=60)
    assert r.status_code == 204, r.text
    influx = InfluxQLReader(influxd.url, influx_db)
    try:
        with _store(tmp_path / "changed.sqlite3", True) as store:
            p = Period(START, END)
            assert _peaks(usage_rows(_inv(), influx, p)) == _peaks(usage_rows(_inv(), store, p))
    finally:
        influx.close()


# Per AP: samples (minute within 4 hours, clients, which of two tag sets it was written under).
AP_SAMPLES = st.lists(st.tuples(st.integers(0, 239), st.integers(0, 80), st.booleans()), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(AP_SAMPLES, min_size=1, max_size=4))
def test_site_peak_bounds_and_tag_splits_change_nothing(aps: list[list[tuple[int, int, bool]]]) -> None:
    """Pure rule: site peak >= each AP's peak, <= the sum of AP peaks; splitting an AP's samples over tag sets
    changes no AP's hourly values and no site figure."""
    h0, n = 0.0, 4

    def per_series(split: bool) -> list[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        out = []
        for k, samples in enumerate(aps):
            for tagset in (False, True):
                got = {m: c for m, c, tg in samples if (tg == tagset) or (not split and not tagset)}
                if not split and tagset:
                    continue
                t = np.array([60.0 * m for m in got], dtype=np.float64)
                v = np.array(list(got.values()), dtype=np.float64)
                idx = (t // 3600).astype(np.int64)
                out.append(({"ap": f"a{k}", "vendor": "x" if tagset else "auto"},
                            np.bincount(idx, weights=v, minlength=n).astype(np.float64),
                            np.bincount(idx, minlength=n).astype(np.float64)))
        return out

    def figures_of(split: bool) -> tuple[list[np.ndarray], float]:
        merged = merge_by_ap(per_series(split))
        per_ap = [hourly_mean(np.arange(n) * 3600.0 + h0, c, s, h0, h0 + n * 3600) for s, c in merged.values()]
        return per_ap, concurrent_peak(per_ap)

    # one sample per minute and AP: a minute written under both tag sets keeps the last, as the stores merge
    aps = [list({m: (m, c, tg) for m, c, tg in samples}.values()) for samples in aps]
    split_aps, split_peak = figures_of(True)
    whole_aps, whole_peak = figures_of(False)
    for a, b in zip(split_aps, whole_aps, strict=True):
        assert np.allclose(a, b, equal_nan=True)
    assert split_peak == pytest.approx(whole_peak)
    ap_peaks = [peak(v) for v in whole_aps]
    assert max(ap_peaks) - 1e-9 <= whole_peak <= sum(ap_peaks) + 1e-9
    assert np.allclose(bucket_mean(np.array([4.0, 0.0]), np.array([2.0, 0.0])), [2.0, np.nan], equal_nan=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 179), st.integers(0, 60), st.booleans()),
                min_size=1, max_size=40))
def test_report_rows_do_not_depend_on_tag_splits(samples: list[tuple[int, int, int, bool]]) -> None:
    """The same through the embedded store and the report tables: splitting samples over tag sets changes nothing,
    and the site's peak stays within its bounds."""
    inv = _inv()
    ids = list(PLAN)
    seen = {(a, m): (c, tg) for a, m, c, tg in samples}  # one sample per AP and minute
    rows = {}
    with tempfile.TemporaryDirectory(prefix="figures-") as d:
        for split in (False, True):
            pts = [Point("ap_status", {"site": "s", "ap": ids[a], "vendor": "cisco" if split and tg else "auto"},
                         {"clients": c}, int((START + 36000 + 60 * m) * 1e9)) for (a, m), (c, tg) in seen.items()]
            with SqliteStore(Path(d) / f"{split}.sqlite3", StoreSettings(min_free_mb=0)) as store:
                store.write(pts)
                store.rollup(int(END * 1e9))
                rows[split] = usage_rows(inv, store, Period(START, END))
    assert rows[True] == rows[False]
    site = next(r for r in rows[True] if r["level"] == "site")
    ap_peaks = [r["peak_clients"] for r in rows[True] if r["level"] == "ap"]
    assert max(ap_peaks) - 0.1 <= site["peak_clients"] <= sum(ap_peaks) + 0.1


def _same_figures(a: dict[str, ApFigures], b: dict[str, ApFigures]) -> None:
    assert list(a) == list(b)
    for k in a:
        fa, fb = a[k], b[k]
        assert fa.availability and fb.availability and fa.usage and fb.usage
        assert (fa.availability.up_s, fa.availability.down_s, fa.availability.outages) == \
            (fb.availability.up_s, fb.availability.down_s, fb.availability.outages)
        assert (fa.usage.client_hours, fa.usage.rx_gb, fa.hours_over, fa.peak_sample) == \
            (fb.usage.client_hours, fb.usage.rx_gb, fb.hours_over, fb.peak_sample)
        assert np.array_equal(fa.clients_hourly, fb.clients_hourly, equal_nan=True)  # type: ignore[arg-type]


def test_reading_site_batch_by_site_batch_gives_the_fleet_read_at_once(tmp_path: Path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    """Reports read a large fleet in batches of whole sites (the reader filters by AP); the figures must not
    depend on the batch size, from either store."""
    pts = [p for p in _points(True) if not (p.tags["ap"] == "a3" and p.measurement == "ap_ping"
                                            and 11 * 3600 <= p.time_ns / 1e9 - START < 11.5 * 3600)]
    pts.append(Point("ap_ping", {"site": "s", "ap": "a3", "role": "ap"}, {"reachable": False},
                     int((START + 11.2 * 3600) * 1e9)))
    inv = Inventory(sites=[Site(id=f"s{k}", name_ja=a, name_en=a, kind="park", lat=35.9, lon=140.6,
                                aps=[AccessPoint(id=a, host=f"127.0.0.{k + 1}")]) for k, a in enumerate(PLAN)])
    assert [len(b) for b in site_batches(inv, size=2)] == [2, 1]
    r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"},
                   content="\n".join(p.to_line() for p in pts).encode(), timeout=60)
    assert r.status_code == 204, r.text
    influx = InfluxQLReader(influxd.url, influx_db)
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    store.write(pts)
    store.rollup(int((START + 11 * 3600) * 1e9))  # part rolled up, part still raw
    p = Period(START, END)
    try:
        whole = figures(inv, store, p, batch_aps=10_000)
        assert whole["a3"].availability is not None and whole["a3"].availability.down_s > 0
        for reader in (store, influx):
            _same_figures(figures(inv, reader, p, batch_aps=1), whole)
            _same_figures(figures(inv, reader, p, batch_aps=2), whole)
    finally:
        influx.close()
        store.close()
