"""Live views (wifiwatch status / /status, outputs.current_status, the console's 状況) on a real SQLite store that
holds, per AP, the demo's simulated history beside the daemon's live series: the live point wins even when the
simulated history ends later; a device with only simulated data still shows it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.coverage import SIMULATED_TAG
from collector.alerts.store import AlertStore
from collector.status import read_status
from console.fleet import fleet_status
from core.config import parse_config
from core.inventory import Inventory, StoreSettings
from core.schema import Point
from core.store import SqliteStore
from wifiwatch.outputs import current_status

CONFIG = '''
[snmp]
version = "2c"
community = "env:X"
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


@pytest.fixture(params=["live_first", "simulated_first"])
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Inventory, SqliteStore, AlertStore, float]]:
    inv = parse_config(CONFIG, "t.toml")
    store = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    now = time.time()
    live_t, sim_t = int((now - 300) * 1e9), int((now - 120) * 1e9)  # the demo's history ends after the last poll
    tags = {"site": "omachi", "ap": "ap1", "role": "ap"}
    sim = {**tags, SIMULATED_TAG: "true"}
    live = [Point("ap_status", {**tags, "vendor": "cisco"}, {"clients": 5, "snmp_ok": True}, live_t),
            Point("ap_ping", tags, {"reachable": False, "rtt_ms": 0.0}, live_t)]
    simulated = [Point("ap_status", sim, {"clients": 77, "snmp_ok": True}, sim_t),
                 Point("ap_ping", sim, {"reachable": True, "rtt_ms": 2.5}, sim_t),
                 Point("ap_status", {**sim, "ap": "ap2"}, {"clients": 9, "snmp_ok": True}, sim_t)]
    # either order: the demo before the daemon started, or the demo re-run beside a running daemon
    for batch in ((live, simulated) if request.param == "live_first" else (simulated, live)):
        store.write(batch)
    yield inv, store, AlertStore(tmp_path / "s.sqlite3"), now
    store.close()


def test_status_shows_the_live_point_over_a_newer_simulated_one(setup: tuple) -> None:
    inv, store, _, now = setup
    devs = {d["device"]: d for d in read_status(inv, store, {}, now)["devices"]}
    assert (devs["ap1"]["clients"], devs["ap1"]["reachable"], devs["ap1"]["vendor"]) == (5, False, "cisco")
    assert devs["ap2"]["clients"] == 9  # only simulated data: shown (the demo before its daemon polled)
    rows = {r.ap: r for r in current_status(inv, store, {})}
    assert rows["ap1"].reachable is False and rows["ap1"].clients == 5


def test_console_status_page_shows_the_live_point(setup: tuple) -> None:
    inv, store, alerts, now = setup
    rows = {d.id: d for s in fleet_status(inv, store, alerts, now).sites for d in s.devices}
    assert (rows["ap1"].clients, rows["ap1"].vendor) == (5, "cisco")
    assert rows["ap2"].clients == 9
