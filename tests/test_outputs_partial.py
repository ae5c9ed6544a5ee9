"""Outputs on partial data: a full month, a month in progress, a month with a long gap, an empty month, a month
after raw rows were pruned, and simulated history. Every output (monthly HTML/CSV/xlsx/PDF, the availability,
usage and capacity tables, opendata --usage) is checked for its coverage labels (観測率, 参考値, 集計中,
対象期間/集計時点, 模擬データ) and its refusals (no comparison across uneven coverage, no open data from a 参考値 or
from simulated data, データがありません with exit 3 for an empty month)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analytics.coverage import NO_DATA_EXIT, SIMULATED_TAG, NoData
from analytics.monthly import month_period, write_monthly
from analytics.opendata import SimulatedData, usage_export
from analytics.synthetic import synthetic_history
from analytics.tables import availability_rows, capacity_rows, usage_rows
from core.config import load_config
from core.inventory import StoreSettings
from core.schema import Point
from core.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
INV = load_config(ROOT / "config" / "sites.toml")
JST = dt.timezone(dt.timedelta(hours=9))
# 集計時点 of every report here: 20 November 2026, noon JST (November is in progress)
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=JST)
STEP = 900  # a sample every 15 minutes: a third of the demo's points, the same shapes


def at(y: int, m: int, d: int, h: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=JST)


def real(points: Any) -> list[Point]:
    """The synthetic curve without its simulated tag: stands for data a real daemon polled."""
    return [Point(p.measurement, {k: v for k, v in p.tags.items() if k != SIMULATED_TAG}, p.fields, p.time_ns)
            for p in points]


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    """Sep 2026 full; Oct 2026 only its last 28 hours (716 of 744 h without data); Nov 2026 full up to NOW;
    Aug 2026 empty."""
    s = SqliteStore(tmp_path_factory.mktemp("partial") / "s.sqlite3", StoreSettings(min_free_mb=0))
    s.write(real(synthetic_history(INV, at(2026, 9, 1), at(2026, 10, 1), seed=11, step_s=STEP)))
    s.write(real(synthetic_history(INV, at(2026, 10, 30, 20), at(2026, 11, 1), seed=12, step_s=STEP)))
    s.write(real(synthetic_history(INV, at(2026, 11, 1), NOW, seed=13, step_s=STEP)))
    return s


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    s = SqliteStore(tmp_path_factory.mktemp("sim") / "s.sqlite3", StoreSettings(min_free_mb=0))
    s.write(list(synthetic_history(INV, at(2026, 9, 1), at(2026, 11, 1), seed=14, step_s=STEP)))
    return s


def _period(month: str) -> Any:
    return month_period(month, NOW.timestamp())


def _ap(rows: list[dict[str, Any]], ap: str = "omachi-1") -> dict[str, Any]:
    return next(r for r in rows if r.get("ap", r.get("id")) == ap)


# -- a full month ---------------------------------------------------------------------------------------
def test_full_month_is_a_firm_figure(real_store: SqliteStore) -> None:
    p = _period("2026-09")
    a = _ap(availability_rows(INV, real_store, p))
    assert a["coverage_pct"] >= 99 and a["provisional"] is False and a["in_progress"] is False
    assert a["observed_h"] == pytest.approx(720 - a["maintenance_h"], abs=1) and a["period_h"] == 720
    u = _ap(usage_rows(INV, real_store, p))
    assert u["provisional"] is False and u["simulated"] is False
    # August holds nothing: no 前期比, and the reason says so
    assert u["change_pct"] is None and u["change_prev_note"] == "比較期間のデータなし"


# -- a month in progress ----------------------------------------------------------------------------------
def test_month_in_progress_does_not_count_days_to_come_as_no_data(real_store: SqliteStore, tmp_path: Path) -> None:
    p = _period("2026-11")
    assert p.in_progress
    a = _ap(availability_rows(INV, real_store, p))
    assert a["unknown_h"] < 1, a  # today code: 254 h of データなし for the 10.5 days still to come
    assert a["in_progress"] is True and a["provisional"] is True  # 19.5 of 30 days: 65 %
    assert 60 < a["coverage_pct"] < 70
    html = write_monthly(INV, real_store, "2026-11", tmp_path, "ja", now=NOW.timestamp(),
                         formats=("html",))[0].read_text(encoding="utf-8")
    assert "対象期間" in html and "2026年11月1日〜2026年11月30日" in html
    assert "集計時点" in html and "2026年11月20日 12:00" in html and 'data-in-progress="true"' in html
    assert "参考値" in html and "模擬データを含みます" not in html


# -- a month with a long gap ------------------------------------------------------------------------------
def test_month_with_a_long_gap_is_a_reference_value_everywhere(real_store: SqliteStore, tmp_path: Path) -> None:
    p = _period("2026-10")
    a = _ap(availability_rows(INV, real_store, p))
    assert a["availability_pct"] is not None and a["unknown_h"] > 700
    assert a["coverage_pct"] < 5 and a["provisional"] is True  # today: 100.0 % with no coverage given
    u = _ap(usage_rows(INV, real_store, p))
    assert u["provisional"] is True and u["change_pct"] is None and u["change_prev_note"].startswith("今期の観測率")
    # November compared with October (28 h of data): no +2109 %, a reason instead
    nov = _ap(usage_rows(INV, real_store, _period("2026-11")))
    assert nov["change_pct"] is None and nov["change_prev_note"]
    files = write_monthly(INV, real_store, "2026-10", tmp_path, "ja", now=NOW.timestamp(),
                          formats=("html", "csv", "xlsx"))
    html = files[0].read_text(encoding="utf-8")
    assert "参考値" in html and "—" in html and "今期の観測率" in html
    avail_csv = list(csv.DictReader(io.StringIO((tmp_path / "availability-2026-10.csv").read_text("utf-8-sig"))))
    row = next(r for r in avail_csv if r["ap"] == "omachi-1")
    assert row["provisional"] == "true" and float(row["coverage_pct"]) < 5 and float(row["observed_h"]) < 40
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "monthly-2026-10-ja.xlsx")
    cells = [str(c.value) for ws in wb.worksheets for row_ in ws.iter_rows() for c in row_ if c.value is not None]
    assert any("対象期間" in c for c in cells) and any("集計時点" in c for c in cells)
    assert "参考値" in cells and "観測率 %" in cells


def test_open_data_never_publishes_a_reference_value(real_store: SqliteStore) -> None:
    sep = usage_export(INV, real_store, ["2026-09"], now=NOW.timestamp())
    assert sep.rows and not sep.withheld and all(float(r["観測率_%"]) >= 90 for r in sep.rows)
    for month in ("2026-10", "2026-11"):
        out = usage_export(INV, real_store, [month], now=NOW.timestamp())
        assert out.rows == [] and len(out.withheld) == len(INV.sites), month
        assert all("参考値" in w for w in out.withheld)


# -- an empty month ---------------------------------------------------------------------------------------
def test_empty_month_says_no_data(real_store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(NoData, match="データがありません"):
        write_monthly(INV, real_store, "2026-08", tmp_path / "aug", "ja", now=NOW.timestamp())
    assert not (tmp_path / "aug").exists()
    with pytest.raises(NoData):
        usage_export(INV, real_store, ["2026-08"], now=NOW.timestamp())


def _cfg(tmp_path: Path, store: SqliteStore) -> Path:
    cfg = tmp_path / "sites.toml"
    cfg.write_text((ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'path = "var/wifiwatch.sqlite3"', f'path = "{store.path}"'), encoding="utf-8")
    return cfg


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (``wifiwatch.cli.main`` as the console script runs it): a subprocess per call
    would cost seconds of imports each."""
    from wifiwatch.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["wifiwatch", *args, "--config", str(cfg)])
        mp.setattr(sys, "stdout", out)
        mp.setattr(sys, "stderr", err)
        try:
            main()
        except SystemExit as e:
            code = e.code
    return subprocess.CompletedProcess(args, int(code or 0), out.getvalue(), err.getvalue())


def test_cli_exit_codes_on_partial_and_empty_data(real_store: SqliteStore, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, real_store)
    r = _cli(cfg, "report", "monthly", "--month", "2026-08", "--out", str(tmp_path / "m"), "--no-pdf")
    assert r.returncode == NO_DATA_EXIT == 3 and "データがありません" in r.stderr and "Traceback" not in r.stderr
    r = _cli(cfg, "report", "usage", "--from", "2026-08-01", "--to", "2026-09-01", "--format", "csv")
    assert r.returncode == 3 and "データがありません" in r.stderr
    r = _cli(cfg, "report", "availability", "--from", "2026-10-01", "--to", "2026-11-01", "--format", "json")
    assert r.returncode == 0 and '"provisional": true' in r.stdout and "参考値" in r.stderr
    for month in ("2026-08", "2026-10"):
        r = _cli(cfg, "opendata", "export", "--usage", "--month", month, "--out", str(tmp_path / f"{month}.csv"))
        assert r.returncode == 3 and not (tmp_path / f"{month}.csv").exists(), (month, r.stderr)
    r = _cli(cfg, "opendata", "export", "--usage", "--month", "2026-09", "--out", str(tmp_path / "sep.csv"))
    assert r.returncode == 0, r.stderr
    head = (tmp_path / "sep.csv").read_bytes().decode("utf-8-sig").splitlines()[0]
    assert "観測時間_時間" in head and "観測率_%" in head
    for bad in ("2026-0_1", " 2026-11", "9999-12", "0001-01"):
        r = _cli(cfg, "report", "monthly", "--month", bad, "--out", str(tmp_path / "x"), "--no-pdf")
        assert r.returncode == 2 and "Traceback" not in r.stderr and not (tmp_path / "x").exists(), bad


def test_capacity_csv_without_overload_has_a_header_and_a_note(real_store: SqliteStore, tmp_path: Path) -> None:
    assert capacity_rows(INV, real_store, _period("2026-09")) == []
    write_monthly(INV, real_store, "2026-09", tmp_path, "ja", now=NOW.timestamp(), formats=("csv",))
    text = (tmp_path / "capacity-2026-09.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("site,ap,name,capacity,hours_over") and "coverage_pct" in lines[0]
    assert "該当なし" in lines[1]


# -- a month after raw rows were pruned --------------------------------------------------------------------
def test_month_after_pruning_is_reported_from_the_hourly_rollup(tmp_path: Path) -> None:
    """Raw rows are kept 35 days, the hourly rollup 400: July's report written in September still has its
    availability, usage and coverage; only the list of single outages is gone, and says so ("-")."""
    s = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0, raw_retention_days=35))
    s.write(real(synthetic_history(INV, at(2026, 7, 1), at(2026, 8, 1), seed=21, step_s=STEP)))
    p = month_period("2026-07", NOW.timestamp())
    before_a = {(r["site"], r["ap"]): r for r in availability_rows(INV, s, p)}
    before_u = {r["id"]: r for r in usage_rows(INV, s, p)}
    s.rollup(int(at(2026, 8, 1, 1).timestamp() * 1e9))
    raw, _ = s.prune(int(at(2026, 9, 5).timestamp() * 1e9))
    assert raw > 0 and s.query("ap_ping", *p.ns) == []  # July's raw rows are gone
    after_a = availability_rows(INV, s, p)
    for r in after_a:
        b = before_a[r["site"], r["ap"]]
        assert r["coverage_pct"] == pytest.approx(b["coverage_pct"], abs=0.2) and r["provisional"] is False
        assert r["availability_pct"] == pytest.approx(b["availability_pct"], abs=0.01), r["ap"]
        if b["down_h"] > 0:
            assert r["outages"] is None and r["mttr_min"] is None  # not 0: the single samples are gone
    for r in usage_rows(INV, s, p):
        assert r["client_hours"] == pytest.approx(before_u[r["id"]]["client_hours"], rel=0.01), r["id"]
        assert r["provisional"] is False
    html = write_monthly(INV, s, "2026-07", tmp_path / "jul", "ja", now=NOW.timestamp(),
                         formats=("html",))[0].read_text(encoding="utf-8")
    assert "（参考値）" not in html and "<td>-</td>" in html  # firm figures; outage counts unknown, not 0
    ok = usage_export(INV, s, ["2026-07"], now=NOW.timestamp())
    assert ok.rows and not ok.withheld


# -- simulated history ------------------------------------------------------------------------------------
def test_simulated_history_is_labelled_in_every_output(sim_store: SqliteStore, tmp_path: Path) -> None:
    p = _period("2026-10")
    assert all(r["simulated"] is True for r in availability_rows(INV, sim_store, p))
    assert all(r["simulated"] is True for r in usage_rows(INV, sim_store, p))
    files = write_monthly(INV, sim_store, "2026-10", tmp_path, "ja", now=NOW.timestamp(),
                          formats=("html", "csv", "xlsx"))
    html = files[0].read_text(encoding="utf-8")
    assert 'data-simulated="true"' in html and "模擬データを含みます" in html
    for name in ("availability", "usage"):
        rows = list(csv.DictReader(io.StringIO((tmp_path / f"{name}-2026-10.csv").read_text("utf-8-sig"))))
        assert rows and all(r["simulated"] == "true" for r in rows), name
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "monthly-2026-10-ja.xlsx")
    first = [str(c.value) for c in wb.worksheets[0]["A"][:6]]
    assert any("模擬データを含みます" in c for c in first)


def test_open_data_refuses_simulated_data_unless_asked(sim_store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(SimulatedData, match="--allow-simulated"):
        usage_export(INV, sim_store, ["2026-10"], now=NOW.timestamp())
    ok = usage_export(INV, sim_store, ["2026-10"], allow_simulated=True, now=NOW.timestamp())
    assert ok.rows and all("模擬データ" in r["備考"] for r in ok.rows)
    cfg = _cfg(tmp_path, sim_store)
    r = _cli(cfg, "opendata", "export", "--usage", "--month", "2026-10", "--out", str(tmp_path / "u.csv"))
    assert r.returncode == 2 and "模擬データ" in r.stderr and not (tmp_path / "u.csv").exists()
    r = _cli(cfg, "opendata", "export", "--usage", "--month", "2026-10", "--out", str(tmp_path / "u.csv"),
             "--allow-simulated")
    assert r.returncode == 0 and "模擬データ" in (tmp_path / "u.csv").read_bytes().decode("utf-8-sig")


def test_simulated_and_real_months_are_not_compared(sim_store: SqliteStore, real_store: SqliteStore) -> None:
    # The simulated store's September is as well covered as October: compared (both simulated).
    both = _ap(usage_rows(INV, sim_store, _period("2026-10")))
    assert both["change_pct"] is not None and both["change_prev_note"] == ""


# -- 年度 (fiscal year) report ------------------------------------------------------------------------------
def test_fiscal_year_in_progress_labels_months_to_come_and_reference_values(real_store: SqliteStore,
                                                                              tmp_path: Path) -> None:
    from analytics.fiscal import write_fiscal

    files = write_fiscal(INV, real_store, 2026, tmp_path, "ja", now=NOW.timestamp(), formats=("html", "csv", "xlsx"),
                         era="reiwa")
    html = files[0].read_text(encoding="utf-8")
    assert "年度報告 令和8年度" in html and "令和8年4月1日〜令和9年3月31日" in html and "集計時点" in html
    assert 'data-in-progress="true"' in html and "施策16" in html and "施策17" in html
    months = list(csv.DictReader(io.StringIO((tmp_path / "fiscal-2026-months.csv").read_text("utf-8-sig"))))
    by = {(r["month"], r["site"]): r for r in months}
    assert by["2026-12", "omachi"]["remarks"] == "未到来" and by["2027-03", "omachi"]["coverage_pct"] == ""
    assert by["2026-09", "omachi"]["provisional"] == "false" and float(by["2026-09", "omachi"]["coverage_pct"]) > 99
    assert by["2026-10", "omachi"]["provisional"] == "true" and "参考値" in by["2026-10", "omachi"]["remarks"]
    assert by["2026-11", "omachi"]["in_progress"] == "true"
    sites = list(csv.DictReader(io.StringIO((tmp_path / "fiscal-2026-sites.csv").read_text("utf-8-sig"))))
    # a year with Sep, 28 h of Oct and 20 days of Nov is a reference value; no comparison with an empty FY2025
    assert all(r["provisional"] == "true" and float(r["coverage_pct"]) < 30 for r in sites)
    assert all(r["change_prev_fy_pct"] == "" and r["change_prev_fy_note"] for r in sites)
    measures = list(csv.DictReader(io.StringIO((tmp_path / "fiscal-2026-measures.csv").read_text("utf-8-sig"))))
    assert [m["measure"] for m in measures] == ["16", "17"] and "整備済み 1 か所" in measures[0]["progress"]
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "fiscal-2026-ja.xlsx")
    assert [ws.title for ws in wb.worksheets] == ["拠点別", "月別", "施策別"]
    assert any("集計中" in str(c.value) for c in wb.worksheets[0]["A"][:6])


def test_fiscal_year_of_simulated_history_and_of_no_data(sim_store: SqliteStore, tmp_path: Path) -> None:
    from analytics.fiscal import write_fiscal

    html = write_fiscal(INV, sim_store, 2026, tmp_path, "ja", now=NOW.timestamp(),
                        formats=("html",))[0].read_text(encoding="utf-8")
    assert 'data-simulated="true"' in html and "模擬データ" in html
    with pytest.raises(NoData, match="2025年度: データがありません"):
        write_fiscal(INV, sim_store, 2025, tmp_path / "fy25", "ja", now=NOW.timestamp(), formats=("html",))
    r = _cli(_cfg(tmp_path, sim_store), "report", "fiscal", "--year", "2025", "--out", str(tmp_path / "x"),
             "--no-pdf")
    assert r.returncode == 3 and "データがありません" in r.stderr


def test_reports_print_to_pdf_in_chromium(real_store: SqliteStore, tmp_path: Path) -> None:
    from analytics.export import chromium

    if chromium() is None:
        pytest.skip("needs Debian's chromium")
    files = write_monthly(INV, real_store, "2026-10", tmp_path, "ja", now=NOW.timestamp(), formats=("pdf",))
    assert [f.suffix for f in files] == [".pdf"]
    data = files[0].read_bytes()
    assert data.startswith(b"%PDF-") and data.count(b"/Type /Page") >= 2 and len(data) > 30_000


def test_monthly_job_mails_the_report_once_written(real_store: SqliteStore, tmp_path: Path, smtp_server: Any) -> None:
    from analytics.monthly_job import write_previous_month
    from core.inventory import AlertChannel, ReportSettings

    ch = AlertChannel(name="office-mail", type="email", smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                      starttls=False, sender="wifiwatch@city.example", to=["duty@city.example"])
    inv = INV.model_copy(update={
        "alerts": INV.alerts.model_copy(update={"channels": [ch]}),
        "reports": ReportSettings(dir=str(tmp_path / "reports"), email_to=["soumu@city.example", "kikaku@city.example"],
                                  email_channel="office-mail")})
    files = write_previous_month(inv, real_store, at(2026, 12, 1, 0))  # November: data up to the 20th
    assert files and [m["To"] for m in smtp_server.box.messages] == ["soumu@city.example, kikaku@city.example"]
    msg = smtp_server.box.messages[0]
    assert "月次報告 2026年11月" in str(msg["Subject"])
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "対象期間" in body and "参考値" in body
    names = sorted(a.get_filename() for a in msg.iter_attachments())
    assert names == ["monthly-2026-11-ja.pdf", "monthly-2026-11-ja.xlsx"]
    assert write_previous_month(inv, real_store, at(2026, 12, 2, 0)) == [] and len(smtp_server.box.messages) == 1


# -- the same labels from InfluxDB, with and without its hourly rollup ---------------------------------------
def test_influxdb_gives_the_same_labelled_figures_before_and_after_its_rollup(real_store: SqliteStore, influxd: Any,
                                                                               influx_db: str) -> None:
    import httpx

    from core.store.influxql import InfluxQLReader

    pts = real(synthetic_history(INV, at(2026, 10, 30, 20), NOW, seed=12, step_s=STEP))
    r = httpx.post(f"{influxd.url}/write", params={"db": influx_db, "precision": "ns"},
                   content="\n".join(p.to_line() for p in pts).encode(), timeout=60)
    assert r.status_code == 204, r.text
    sq = SqliteStore(real_store.path.parent / "influx-twin.sqlite3", StoreSettings(min_free_mb=0))
    sq.write(pts)
    influx = InfluxQLReader(influxd.url, influx_db)
    p = _period("2026-11")
    fns = (availability_rows, usage_rows, capacity_rows)
    raw = [fn(INV, influx, p) for fn in fns]
    assert raw == [fn(INV, sq, p) for fn in fns]
    assert _ap(raw[0])["in_progress"] is True and _ap(raw[0])["provisional"] is True
    assert influx.create_rollups() and influx._rolled_until("ap_status", ["clients"]) is None
    influx.backfill_rollups(int(at(2026, 10, 1).timestamp() * 1e9), int(NOW.timestamp() * 1e9))
    assert influx._rolled_until("ap_status", ["clients"]) is not None
    assert [fn(INV, influx, p) for fn in fns] == raw


def test_a_fleets_availability_chart_shows_its_lowest_sites() -> None:
    from analytics.monthly import CHART_MAX, chart_rows

    rows = [{"site_name": f"s{i}", "ap_name": f"a{k}", "ap": f"ap{i}-{k}" if k < 4 else "*",
             "availability_pct": 100.0 - i / 10} for i in range(60) for k in range(5)]
    bars = chart_rows(rows, "ja")
    assert len(bars) == CHART_MAX and bars[0] == ("s59", 94.1) and all(b[0].startswith("s") for b in bars)
    assert chart_rows(rows[:10], "ja") == [(f"s{i} a{k}", 100.0 - i / 10) for i in range(2) for k in range(4)]
