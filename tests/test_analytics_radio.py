"""Radio capacity for a period (analytics/radio.py) from a real embedded store."""

from __future__ import annotations

from pathlib import Path

from analytics.radio import radio_capacity
from analytics.tables import Period
from core.config import parse_config
from core.inventory import StoreSettings
from core.schema import Point
from core.store import SqliteStore

T0 = 1_790_000_000  # epoch seconds
CONFIG = '''
[snmp]
version = "2c"
community = "env:X"
[planner]
capacity_per_radio = 30
[[sites]]
id = "omachi"
name_ja = "大町通り"
name_en = "Omachi-dori"
kind = "tourist_spot"
lat = 35.97
lon = 140.63
[[sites.aps]]
id = "ap1"
host = "192.0.2.1"
[[sites.aps]]
id = "ap2"
host = "192.0.2.2"
'''


def test_peak_clients_beside_channel_use_noise_and_band(tmp_path: Path) -> None:
    inv = parse_config(CONFIG, "t.toml")
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    pts = []
    for i in range(20):
        t = int((T0 + i * 60) * 1e9)
        pts.append(Point("ap_clients", {"site": "omachi", "ap": "ap1", "radio": "5GHz"}, {"clients": 10 + i}, t))
        pts.append(Point("ap_clients", {"site": "omachi", "ap": "ap1", "radio": "ssid:Free"}, {"clients": 99}, t))
        pts.append(Point("ap_radio", {"site": "omachi", "ap": "ap1", "radio": "5GHz"},
                         {"channel": 36.0 if i < 15 else 44.0, "utilization_pct": float(i * 5), "noise_dbm": -95.0,
                          "frequency_mhz": 5180.0, "band": "5GHz"}, t))
        pts.append(Point("ap_clients", {"site": "omachi", "ap": "ap2", "radio": "2.4GHz"}, {"clients": 3}, t))
    store.write(pts)
    rows = radio_capacity(store, inv, Period(T0, T0 + 3600))
    store.close()
    by = {(r.ap, r.radio): r for r in rows}
    assert set(by) == {("ap1", "5GHz"), ("ap2", "2.4GHz")}  # SSID rows are not radios
    r = by[("ap1", "5GHz")]
    assert (r.samples, r.peak_clients, r.capacity, r.band, r.channels) == (20, 29, 30, "5GHz", (36, 44))
    assert r.utilization_mean_pct == 47.5 and r.utilization_p95_pct == 90.2 and r.noise_mean_dbm == -95.0
    assert r.peak_share is not None and round(r.peak_share, 2) == 0.97
    plain = by[("ap2", "2.4GHz")]  # a profile without radio health: channel figures are unknown, not 0
    assert plain.peak_clients == 3 and plain.health_samples == 0
    assert plain.utilization_mean_pct is None and plain.channels == () and plain.band is None
    assert (r.hours, r.health_hours, plain.hours, plain.health_hours) == (1, 1, 1, 0)


def _month_store(tmp_path: Path, with_radio: bool, with_clients: bool = True) -> SqliteStore:
    """Two hours (14:13-16:13 UTC, three clock hours) of pings and clients in September
    2026; with ``with_radio``, ap_radio rows too (ap1 on 5 GHz,
    ap2's radio named like a spreadsheet formula, as a hostile AP could)."""
    store = SqliteStore(tmp_path / "m.sqlite3", StoreSettings(min_free_mb=0))
    pts = []
    for i in range(120):
        t = int((T0 + i * 60) * 1e9)
        for ap, radio in (("ap1", "5GHz"), ("ap2", "=HYPERLINK(1)")):
            tags = {"site": "omachi", "ap": ap}
            pts.append(Point("ap_ping", tags, {"reachable": True, "rtt_ms": 1.0, "loss_pct": 0.0}, t))
            if with_clients:
                pts.append(Point("ap_clients", {**tags, "radio": radio}, {"clients": 7 if ap == "ap1" else 2}, t))
            if with_radio:
                pts.append(Point("ap_radio", {**tags, "radio": radio},
                                 {"channel": 36.0 if ap == "ap1" else 6.0, "utilization_pct": 41.0,
                                  "noise_dbm": -93.0 if ap == "ap1" else -88.0}, t))
    store.write(pts)
    return store


def test_monthly_report_capacity_section_shows_each_radio(tmp_path: Path) -> None:
    import csv

    from openpyxl import load_workbook

    from analytics.monthly import write_monthly

    inv = parse_config(CONFIG, "t.toml")
    store = _month_store(tmp_path, with_radio=True)
    try:
        write_monthly(inv, store, "2026-09", tmp_path / "ja", now=T0 + 7200, formats=("html", "csv", "xlsx"))
        write_monthly(inv, store, "2026-09", tmp_path / "en", lang="en", now=T0 + 7200, formats=("html",))
    finally:
        store.close()
    ja = (tmp_path / "ja" / "monthly-2026-09-ja.html").read_text(encoding="utf-8")
    section = ja[ja.index("無線ごとの状態"):]
    assert 'data-table="radio"' in section and "チャネル使用率" in section and "無線測定数" in section
    row = section[section.index(">5GHz<"):].split("</tr>")[0]
    for cell in (">5GHz<", ">36<", ">41.0<", ">-93.0<", ">7<", ">30<", ">120 (3)<"):
        assert cell in row, (cell, row)
    assert "=HYPERLINK(1)" in section and ">6<" in section and "2.4GHz" in section
    en = (tmp_path / "en" / "monthly-2026-09-en.html").read_text(encoding="utf-8")
    assert "Per radio (channel, load, noise)" in en and "Channel utilisation mean %" in en
    with (tmp_path / "ja" / "radio-2026-09.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    by = {r["radio"]: r for r in rows}
    assert set(by) == {"5GHz", "'=HYPERLINK(1)"}  # the AP's text stays text in Excel
    assert (by["5GHz"]["channels"], by["5GHz"]["band"], by["5GHz"]["utilization_mean_pct"],
            by["5GHz"]["noise_mean_dbm"], by["5GHz"]["health_samples"], by["5GHz"]["health_hours"],
            by["5GHz"]["samples"], by["5GHz"]["hours"]) == ("36", "5GHz", "41.0", "-93.0", "120", "3", "120", "3")
    ws = load_workbook(tmp_path / "ja" / "monthly-2026-09-ja.xlsx")["無線"]
    values = [c for r in ws.iter_rows(values_only=True) for c in r]
    assert "'=HYPERLINK(1)" in values and "=HYPERLINK(1)" not in values and -93.0 in values


def test_monthly_report_without_radio_data_says_so(tmp_path: Path) -> None:
    from analytics.monthly import write_monthly

    inv = parse_config(CONFIG, "t.toml")
    store = _month_store(tmp_path, with_radio=False)
    try:
        write_monthly(inv, store, "2026-09", tmp_path, lang="en", now=T0 + 7200, formats=("html",))
    finally:
        store.close()
    html = (tmp_path / "monthly-2026-09-en.html").read_text(encoding="utf-8")
    # clients per radio exist, channel figures do not: the table shows the radios with "-", never 0
    row = html[html.index('data-table="radio"'):].split(">5GHz<")[1].split("</tr>")[0]
    assert row.count(">-<") == 5 and ">7<" in row


def test_monthly_report_with_no_radio_at_all_says_so_without_a_table(tmp_path: Path) -> None:
    from analytics.monthly import write_monthly

    inv = parse_config(CONFIG, "t.toml")
    store = _month_store(tmp_path, with_radio=False, with_clients=False)
    try:
        write_monthly(inv, store, "2026-09", tmp_path, now=T0 + 7200, formats=("html", "csv"))
    finally:
        store.close()
    html = (tmp_path / "monthly-2026-09-ja.html").read_text(encoding="utf-8")
    assert 'data-table="radio"' not in html and 'data-radio="none"' in html and "無線ごとのデータはありません" in html
    assert "無線ごとのデータはありません" in (tmp_path / "radio-2026-09.csv").read_text(encoding="utf-8-sig")
