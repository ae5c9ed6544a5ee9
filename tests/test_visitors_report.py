"""``wifiwatch report visitors`` on a real store file: the JSON contract (issue 24 point 5) with exactly the
expected uniques, sessions and median dwell; suppression as null / <10; table, CSV, --lang en; exit 3."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analytics.visitors.cube import day_start
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

ROOT = Path(__file__).resolve().parent.parent


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample inventory on a store holding, in November 2026 (JST):

    day  omachi                                 chuo-kominkan
    2    12 devices, 14 sessions (one open)     15 devices
    3    20 devices                             4 devices (under k: hidden)
    4    30 devices                             15 devices
    5    25 devices                             5 devices (under k: hidden)

    On days 3 and 5 the city total minus omachi would give the community centre away, so omachi is hidden too
    (and each site's month then has two hidden days, not one)."""
    tmp = tmp_path_factory.mktemp("visitors-report")
    store = tmp / "w.sqlite3"
    cfg = tmp / "sites.toml"
    cfg.write_text((ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'path = "var/wifiwatch.sqlite3"', f'path = "{store}"'), encoding="utf-8")
    d2 = day_start(dt.date(2026, 11, 2)) + 10 * 3600
    rows = []
    for p in range(12):  # dwell 1, 6, 11, ... 56 min
        rows.append(VisitorSession("omachi-1", "omachi", h(f"2:{p}"), None, d2 + p * 60, d2 + p * 60 + (1 + 5 * p) * 60,
                                   "radius", "ja", p % 3 == 0))
    rows.append(VisitorSession("omachi-2", "omachi", h("2:0"), None, d2 + 7200, d2 + 7200 + 30 * 60, "radius"))
    rows.append(VisitorSession("omachi-3", "omachi", h("2:1"), None, d2 + 9000, None, "radius"))
    for day, omachi, kominkan in ((2, 0, 15), (3, 20, 4), (4, 30, 15), (5, 25, 5)):
        t = day_start(dt.date(2026, 11, day)) + 10 * 3600
        rows += [VisitorSession("omachi-1", "omachi", h(f"{day}:o{p}"), None, t + p, t + p + 20 * 60, "radius")
                 for p in range(omachi)]
        rows += [VisitorSession("kominkan-1", "chuo-kominkan", h(f"{day}:k{p}"), None, t + p, t + p + 600, "radius")
                 for p in range(kominkan)]
    st = VisitorStore(store)
    st.add_many((r, None) for r in rows)
    st.close()
    return cfg


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "220"}
    return subprocess.run([sys.executable, "-m", "wifiwatch.cli", "report", "visitors", *args, "--config", str(cfg)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)


def test_json_contract(cfg: Path) -> None:
    r = cli(cfg, "--from", "2026-11-01", "--to", "2026-12-01", "--by", "day", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert isinstance(rows, list)
    got = {(x["site"], x["date"]): x for x in rows}
    assert set(got) == {(s, f"2026-11-0{d}") for s in ("omachi", "chuo-kominkan") for d in (2, 3, 4, 5)}
    shown = {key: x["unique_devices"] for key, x in got.items()}
    assert shown == {("omachi", "2026-11-02"): 12, ("omachi", "2026-11-03"): None, ("omachi", "2026-11-04"): 30,
                     ("omachi", "2026-11-05"): None, ("chuo-kominkan", "2026-11-02"): 15,
                     ("chuo-kominkan", "2026-11-03"): None, ("chuo-kominkan", "2026-11-04"): 15,
                     ("chuo-kominkan", "2026-11-05"): None}
    o2 = got[("omachi", "2026-11-02")]
    dwell = sorted([1 + 5 * p for p in range(12)] + [30])  # 13 closed sessions; the open one has no dwell
    assert (o2["unique_devices"], o2["suppressed"], o2["sessions"]) == (12, False, 14)
    assert o2["median_dwell_min"] == pytest.approx(dwell[6]) and isinstance(o2["median_dwell_min"], float)
    k = got[("chuo-kominkan", "2026-11-03")]
    assert k["suppressed"] is True and k["unique_devices"] is None and k["sessions"] is None
    assert k["median_dwell_min"] is None
    assert got[("omachi", "2026-11-04")]["sessions"] == 30
    assert got[("omachi", "2026-11-04")]["median_dwell_min"] == 20.0
    for x in rows:
        assert list(x)[:6] == ["site", "date", "unique_devices", "suppressed", "sessions", "median_dwell_min"]
        assert isinstance(x["unique_devices"], int | None) and isinstance(x["sessions"], int | None)


def test_table_csv_english_and_no_data(cfg: Path) -> None:
    r = cli(cfg, "--from", "2026-11-02", "--to", "2026-11-04")
    assert r.returncode == 0, r.stderr
    assert "利用端末数" in r.stdout and "接続回数" in r.stdout and "<10" in r.stdout and "秘匿処理" in r.stderr
    r = cli(cfg, "--from", "2026-11-02", "--to", "2026-11-04", "--lang", "en", "--format", "table")
    assert "unique devices" in r.stdout and "<10" in r.stdout
    r = cli(cfg, "--from", "2026-11-02", "--to", "2026-11-06", "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("site,date,unique_devices,suppressed,sessions,median_dwell_min")
    assert any(line.startswith("chuo-kominkan,2026-11-05,<10,true,<10,<10") for line in lines), lines
    r = cli(cfg, "--from", "2026-10-01", "--to", "2026-10-31")
    assert r.returncode == 3 and "データがありません" in r.stderr
    r = cli(cfg, "--from", "2026-11-01", "--to", "2026-12-01", "--by", "month", "--format", "json")
    (m,) = [x for x in json.loads(r.stdout) if x["site"] == "omachi"]
    assert (m["month"], m["unique_devices"], m["sessions"]) == ("2026-11", 87, 89)  # person-days
    r = cli(cfg, "--from", "2026-11-01", "--to", "2026-12-01", "--by", "fy", "--format", "json")
    (y,) = [x for x in json.loads(r.stdout) if x["site"] == "omachi"]
    assert (y["fy"], y["date"], y["sessions"]) == (2026, "2026-04-01", 89)
    assert cli(cfg, "--from", "2026-03-01", "--to", "2026-05-01", "--by", "fy").returncode == 2
    bad = cli(cfg, "--from", "2026-11-05", "--to", "2026-11-01")
    assert bad.returncode == 2 and "--to" in bad.stderr


def test_opendata_hourly_in_fukuoka_form(cfg: Path, tmp_path: Path) -> None:
    """Logins and unique devices per site and hour: no hash, no AP, small cells as <10."""
    out = tmp_path / "v.csv"
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "opendata", "export", "--visitors", "--month",
                        "2026-11", "--out", str(out), "--config", str(cfg)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    text = out.read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["全国地方公共団体コード", "年月日", "曜日", "時", "NO", "名称", "名称_英語", "緯度",
                             "経度", "認証回数", "利用端末数", "備考"]
    o4 = [x for x in rows if x["NO"] == "omachi" and x["年月日"] == "2026-11-04"]
    assert [(x["時"], x["認証回数"], x["利用端末数"]) for x in o4] == [("10", "30", "30")]
    assert {x["利用端末数"] for x in rows if x["NO"] == "chuo-kominkan" and x["年月日"] == "2026-11-05"} == {"<10"}
    assert not re.search(r"[0-9a-f]{32}", text) and "omachi-1" not in text and "127.0." not in text
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "opendata", "export", "--visitors", "--month",
                        "2026-10", "--out", str(out), "--config", str(cfg)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 3


def test_monthly_and_fiscal_reports_carry_the_section(cfg: Path, tmp_path: Path) -> None:
    """The monthly and 年度 reports get a 利用分析 section (HTML and CSV) with the same hidden cells."""
    from analytics.fiscal import write_fiscal
    from analytics.monthly import write_monthly
    from analytics.synthetic import synthetic_history
    from core.config import load_config
    from core.paths import known_vendors
    from core.store.sqlite_store import SqliteStore

    inv = load_config(cfg, known_vendors())
    store = SqliteStore(Path(inv.store.path), inv.store)
    try:
        store.write(list(synthetic_history(inv, dt.datetime(2026, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=9))),
                                           dt.datetime(2026, 11, 4, tzinfo=dt.timezone(dt.timedelta(hours=9))),
                                           seed=1)))
        files = write_monthly(inv, store, "2026-11", tmp_path, "ja", formats=("html", "csv"))
        html = (tmp_path / "monthly-2026-11-ja.html").read_text(encoding="utf-8")
        assert "利用分析" in html and "data-table='visitors'" in html and "&lt;10" in html
        vis = tmp_path / "visitors-2026-11.csv"
        assert vis in files
        rows = {(r["level"], r["site"], r["month"]): r for r in csv.DictReader(vis.open(encoding="utf-8-sig"))}
        assert rows[("site", "omachi", "2026-11")]["unique_devices"] == "87"
        files = write_fiscal(inv, store, 2026, tmp_path, "en", formats=("html", "csv"))
        fhtml = (tmp_path / "fiscal-2026-en.html").read_text(encoding="utf-8")
        assert "Visitors (people, dwell, flows)" in fhtml and "data-table='visitors-months'" in fhtml
        assert tmp_path / "fiscal-2026-visitors.csv" in files
    finally:
        store.close()


def test_grafana_dashboard_reads_only_shown_cells(cfg: Path, tmp_path: Path, influxd: Any, influx_db: str) -> None:
    """`report visitors --to-influx` writes the shown hour and day cells to a real influxd; every query of the
    visitors dashboard returns rows there, and the hidden days of the community centre are not in it."""
    from tests.test_grafana_queries import interpolate, min_interval, rows
    from wifiwatch.grafana.dashboards import visitors_dashboard

    icfg = tmp_path / "sites.toml"
    icfg.write_text(cfg.read_text(encoding="utf-8") + f'\n[influxdb]\nurl = "{influxd.url}"\napi = "v1"\n'
                    f'database = "{influx_db}"\n', encoding="utf-8")
    r = cli(icfg, "--from", "2026-11-01", "--to", "2026-12-01", "--to-influx")
    assert r.returncode == 0, r.stderr
    frm, to = int(day_start(dt.date(2026, 11, 1)) * 1000), int(day_start(dt.date(2026, 12, 1)) * 1000)
    dash = visitors_dashboard()
    (var,) = dash["templating"]["list"]
    sites = [str(x[-1]) for x in rows(influxd, influx_db, interpolate(var["query"], {}, frm, to, "1h"))]
    assert set(sites) == {"omachi", "chuo-kominkan"}
    chosen = {"site": (sites, True)}
    for p in dash["panels"]:
        for t in p["targets"]:
            assert rows(influxd, influx_db, interpolate(t["query"], chosen, frm, to, min_interval())), p["title"]
    days = rows(influxd, influx_db, "SELECT \"unique_devices\" FROM \"visitors\" WHERE \"grain\" = 'day' AND "
                                    "\"site\" = 'chuo-kominkan'")
    assert sorted(v[1] for v in days) == [15, 15]  # days 2 and 4; the hidden 4 and 5 are not there
    everything = rows(influxd, influx_db, 'SELECT "unique_devices" FROM "visitors"')
    assert all(v[1] >= 10 for v in everything)


def test_measured_visitors_for_the_planner(cfg: Path) -> None:
    """Shown days only (omachi 12 + 30, the centre 15 + 15), scaled to a year; hidden days count as nothing."""
    from analytics.visitors.demand import measured_visitors
    from core.config import load_config
    from core.paths import known_vendors

    got = measured_visitors(load_config(cfg, known_vendors()), days=30, now=day_start(dt.date(2026, 12, 1)))
    assert {k: (round(v.devices_per_year), v.days_shown) for k, v in got.items()} == {
        "omachi": (round(42 * 365 / 30), 2), "chuo-kominkan": (round(30 * 365 / 30), 2)}


def test_a_store_without_visitor_sources_gets_no_section(tmp_path: Path) -> None:
    """No visitor table: NoData (exit 3 / no report section), and nothing is created in the store file."""
    import sqlite3

    from analytics.coverage import NoData
    from analytics.visitors.load import read_cube
    from analytics.visitors.section import visitor_section
    from core.config import parse_config
    from core.paths import known_vendors

    db = tmp_path / "w.sqlite3"
    sqlite3.connect(db).execute("CREATE TABLE other (x)").connection.commit()
    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'path = "var/wifiwatch.sqlite3"', f'path = "{db}"')
    inv = parse_config(text, "sites.toml", known_vendors())
    with pytest.raises(NoData):
        read_cube(inv, dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert visitor_section(inv, dt.date(2026, 11, 1), dt.date(2026, 12, 1)) is None
    names = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    assert names == {"other"}
