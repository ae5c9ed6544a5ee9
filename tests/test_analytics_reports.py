"""Reports: usage math, identical numbers from the embedded store and a real InfluxDB 1.6, the monthly
HTML report rendered in headless Chromium, and the report CLI."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.monthly import month_period, write_monthly
from analytics.synthetic import synthetic_history
from analytics.tables import Period, availability_rows, capacity_rows, usage_rows
from analytics.usage import hours_over, usage
from core.config import load_config
from core.inventory import StoreSettings
from core.store.influxql import InfluxQLReader
from core.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
INV = load_config(ROOT / "config" / "sites.toml")
END = dt.datetime(2026, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqliteStore, list]:  # type: ignore[type-arg]
    store = SqliteStore(tmp_path_factory.mktemp("hist") / "s.sqlite3", StoreSettings())
    pts = list(synthetic_history(INV, END - dt.timedelta(days=40), END, seed=3))
    store.write(pts)
    return store, pts


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 200)), max_size=40), st.integers(1, 150))
def test_usage_bounds(samples: list[tuple[int, int]], cap: int) -> None:
    s = [(float(t), float(c)) for t, c in sorted(dict(samples).items())]
    u = usage(s, [], 0, 10_000, max_gap_s=900)
    assert u.observed_h <= 10_000 / 3600 + 1e-9
    assert 0 <= u.mean_clients <= max((c for _, c in s), default=0) + 1e-9
    assert u.client_hours == pytest.approx(sum(ch for row in u.profile for ch, _ in row))
    assert 0 <= hours_over(s, cap, 0, 10_000) <= u.observed_h + 1e-9


def test_usage_integrates_clients_and_traffic() -> None:
    clients = [(0.0, 10.0), (1800.0, 30.0), (3600.0, 0.0)]
    traffic = [(0.0, 8e6, 8e5), (3600.0, 0.0, 0.0)]
    u = usage(clients, traffic, 0, 3600, max_gap_s=3600)
    assert u.client_hours == pytest.approx(20.0) and u.peak_clients == 30 and u.mean_clients == pytest.approx(20.0)
    assert u.rx_gb == pytest.approx(3.6) and u.tx_gb == pytest.approx(0.36)  # 1 MB/s for an hour


def test_embedded_store_and_influxdb_give_the_same_report(history, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    store, pts = history
    lines = "\n".join(p.to_line() for p in pts)
    r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"}, content=lines.encode(),
                   timeout=60)
    assert r.status_code == 204, r.text
    influx = InfluxQLReader(influxd.url, influx_db)
    p = month_period("2026-10")
    for fn in (availability_rows, usage_rows, capacity_rows):
        assert fn(INV, influx, p) == fn(INV, store, p), fn.__name__
    rows = availability_rows(INV, store, p)
    assert all(r["availability_pct"] is None or 0 <= r["availability_pct"] <= 100 for r in rows)
    assert {r["ap"] for r in rows} == {"omachi-1", "omachi-2", "omachi-3", "kominkan-1", "*"}


def test_weekly_maintenance_is_set_aside(history) -> None:  # type: ignore[no-untyped-def]
    store, _ = history
    rows = availability_rows(INV, store, month_period("2026-10"))
    ap = next(r for r in rows if r["ap"] == "omachi-1")
    # four or five Mondays 03:00-03:30 JST in October 2026
    assert ap["maintenance_h"] in (2.0, 2.5) and ap["maintenance_windows"] == "weekly-reboot"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_monthly_report_renders_in_chromium(history, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, _ = history
    files = write_monthly(INV, store, "2026-10", tmp_path / "r", "ja", formats=("html", "csv", "xlsx"))
    html = files[0].read_text(encoding="utf-8")
    assert "鹿嶋市 公衆無線LAN 月次報告 2026年10月" in html and "施策16" in html and "大町通り" in html
    assert {f.name for f in files[1:]} == {"availability-2026-10.csv", "usage-2026-10.csv", "capacity-2026-10.csv",
                                           "radio-2026-10.csv",
                                           "monthly-2026-10-ja.xlsx"}
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'chr'}", f"--screenshot={shot}",
                    "--window-size=1100,1400", files[0].as_uri()], capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page compresses to a few KB
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--user-data-dir={tmp_path / 'chr2'}", "--dump-dom", files[0].as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "稼働率" in dom and dom.count("<svg") == 2
    en = write_monthly(INV, store, "2026-10", tmp_path / "en", "en", formats=("html",))[0].read_text(encoding="utf-8")
    assert "Kashima City public Wi-Fi monthly report October 2026" in en and "Omachi-dori" in en


def test_names_are_escaped(history, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, _ = history
    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'name_ja = "大町通り"', 'name_ja = "<script>alert(1)</script>"')
    from core.config import parse_config

    inv = parse_config(text, "x.toml")
    html = write_monthly(inv, store, "2026-10", tmp_path, "ja", formats=("html",))[0].read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_cli(history, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, _ = history
    cfg = tmp_path / "sites.toml"
    cfg.write_text((ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'path = "var/wifiwatch.sqlite3"', f'path = "{store.path}"'))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wifiwatch.cli", "report", *args, "--config", str(cfg)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    r = cli("availability", "--from", "2026-10-01", "--to", "2026-11-01", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("site,site_name_ja,site_name_en,ap,")
    r = cli("usage", "--from", "2026-10-01", "--to", "2026-11-01", "--site", "omachi", "--format", "json")
    assert r.returncode == 0 and '"level": "site"' in r.stdout
    bad = cli("usage", "--from", "yesterday", "--to", "2026-11-01")
    assert bad.returncode == 2 and "--from: 'yesterday' is not a date" in bad.stderr
    r = cli("monthly", "--month", "2026-10", "--out", str(tmp_path / "m"), "--lang", "en", "--no-pdf")
    assert r.returncode == 0 and (tmp_path / "m" / "monthly-2026-10-en.html").exists()
    assert cli("monthly", "--month", "2026-13", "--out", str(tmp_path)).returncode == 2


def test_period_of_a_month() -> None:
    p = month_period("2026-02")
    assert (p.end - p.start) == 28 * 86400 and isinstance(p, Period)


def test_previous_period_survives_pruning_of_raw_rows(tmp_path: Path) -> None:
    """On the 1st the daemon reports last month; raw rows are kept 35 days, so most of the month before has been
    pruned by then (hourly rollups kept). The comparison must still match what the raw rows gave."""
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(raw_retention_days=35))
    p = month_period("2026-10")
    prev_start = dt.datetime.fromtimestamp(2 * p.start - p.end, END.tzinfo)
    store.write(list(synthetic_history(INV, prev_start, END, seed=5)))
    before = usage_rows(INV, store, p)
    # the nightly prune of 2026-10-31 02:30 JST, the last one before the report job of 2026-11-01 00:15
    prune_at = int(dt.datetime(2026, 10, 31, 2, 30, tzinfo=END.tzinfo).timestamp() * 1e9)
    raw_deleted, _ = store.prune(prune_at)
    prev_ns = (int((2 * p.start - p.end) * 1e9), int(p.start * 1e9))
    left = len(store.query("ap_status", *prev_ns, {"ap": "omachi-1"}))
    full = 31 * 288
    assert raw_deleted > 0 and left < full / 5, (raw_deleted, left)  # most of the previous period is gone
    after = usage_rows(INV, store, p)
    assert [r["id"] for r in after] == [r["id"] for r in before]
    for b, a in zip(before, after, strict=True):
        assert a["client_hours"] == b["client_hours"], a["id"]  # this month is untouched
        assert b["client_hours_prev"] > 0
        # within the rollup's resolution: a sample held before a gap counts one step, not up to 15 minutes
        assert a["client_hours_prev"] == pytest.approx(b["client_hours_prev"], rel=0.01), a["id"]
        assert abs(a["change_pct"] - b["change_pct"]) <= 1.0, a["id"]
