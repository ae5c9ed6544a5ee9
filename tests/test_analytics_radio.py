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
