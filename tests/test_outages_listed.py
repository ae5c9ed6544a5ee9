"""One definition of an outage: what the reports count is what 障害 and the site and AP timelines list.

A store with an AP that was down for 215 minutes in the demo's simulated history, one live 40-minute outage no
incident recorded (heartbeats written by another collector, say), and one live outage the alert engine did record
(listed once, as its incident). The availability table (the reports' figures) and the console over loopback must
name the same outages; the simulated one is labelled 模擬データ.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from analytics.coverage import SIMULATED_TAG
from analytics.tables import Period, figures
from collector.alerts.store import AlertStore
from console.context import open_context
from console.pages import devices
from core.config import parse_config
from core.schema import Point
from core.store import SqliteStore
from tests.fixtures_console import ServedConsole

CONFIG = '''
[defaults]
heartbeat_s = 60
[snmp]
version = "2c"
community = "env:X"
[store]
path = "{store}"
min_free_mb = 0
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


def _store(tmp_path: Path) -> tuple[Any, Path, float, tuple[float, float], tuple[float, float], tuple[float, float]]:
    path = tmp_path / "ww.sqlite3"
    inv = parse_config(CONFIG.format(store=path), "t.toml")
    now = time.time() // 60 * 60
    day = now - 86400
    pts = []
    sim_down = (day + 3600, day + 3600 + 215 * 60)  # simulated history: ap1 down 215 min
    live_unrecorded = (now - 5 * 3600, now - 5 * 3600 + 40 * 60)  # ap2: no incident
    live_recorded = (now - 3 * 3600, now - 3 * 3600 + 20 * 60)  # ap2: the engine's incident
    for ap in ("ap1", "ap2"):
        tags = {"site": "omachi", "ap": ap, "role": "ap"}
        for t in range(int(day), int(now - 12 * 3600), 60):
            down = ap == "ap1" and sim_down[0] <= t < sim_down[1]
            pts.append(Point("ap_ping", {**tags, SIMULATED_TAG: "true"}, {"reachable": not down}, t * 10**9))
        for t in range(int(now - 12 * 3600), int(now), 60):
            down = ap == "ap2" and any(a <= t < b for a, b in (live_unrecorded, live_recorded))
            pts.append(Point("ap_ping", tags, {"reachable": not down}, t * 10**9))
    store = SqliteStore(path, inv.store)
    store.write(pts)
    alerts = AlertStore(path)
    with alerts.tx() as c:
        c.execute("INSERT INTO alert_incidents(device, site, kind, start, end, duration_s, cause, notified, severity) "
                  "VALUES (?,?,?,?,?,?,?,?,?)", ("ap2", "omachi", "down", live_recorded[0] + 120, live_recorded[1],
                                                 live_recorded[1] - live_recorded[0] - 120, "no reply", 1, "critical"))
    alerts.close()
    store.close()
    return inv, path, now, sim_down, live_unrecorded, live_recorded


def test_the_reports_outages_are_listed_in_incidents_and_timelines(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    inv, path, now, sim_down, live_unrecorded, live_recorded = _store(tmp_path)
    store = SqliteStore(path, inv.store)
    # the reports' figures: three outages in two days
    figs = figures(inv, store, Period(now - 2 * 86400, now), None, ("availability",))
    reported = {(ap, round(a), round(b)) for ap, f in figs.items() for a, b in f.availability.outages}  # type: ignore[union-attr]
    assert len(reported) == 3, reported
    assert {b - a for _, a, b in reported} == {215 * 60, 40 * 60, 20 * 60}
    store.close()

    ctx = open_context(inv, None)
    try:
        with ServedConsole(ctx) as c:
            page = c.get("/incidents", params={"days": 2}).text
            listed = {(m[0], int(m[1]), m[2]) for m in re.findall(
                r'<tr data-outage="([^"]+)" data-start="(\d+)" data-simulated="(yes|no)">', page)}
            # every reported outage is listed once: as its incident, or as found in the history
            incidents = re.findall(r'data-incident="(\d+)" data-device="([^"]+)"', page)
            assert [d for _, d in incidents] == ["ap2"]
            assert {(ap, a) for ap, a, _ in listed} == {(ap, a) for ap, a, _ in reported if a != live_recorded[0]}
            assert {ap: sim for ap, _, sim in listed} == {"ap1": "yes", "ap2": "no"}
            assert "模擬データ" in page and "記録から検出" in page
            ap1 = c.get("/aps/ap1", params={"range": "7d"}).text
            assert 'data-outage="ap1" data-simulated="yes"' in ap1
            site = c.get("/sites/omachi", params={"range": "7d"}).text
            assert site.count("data-outage=") == 2  # ap1's simulated and ap2's unrecorded one
            assert "ap2" not in [m for m in re.findall(r'data-outage="([^"]+)"', c.get("/aps/ap1").text)]
            # a large site: its page shows the states at once and loads the charts and this timeline after
            monkeypatch.setattr(devices, "INLINE_DETAIL_MAX", 1)
            big = c.get("/sites/omachi", params={"range": "7d"}).text
            assert 'data-load="/sites/omachi/detail?range=7d"' in big and "data-outage=" not in big
            assert 'data-device="ap1"' in big
            detail = c.get("/sites/omachi/detail", params={"range": "7d"}).text
            assert detail.count("data-outage=") == 2 and 'data-metric="clients"' in detail
    finally:
        ctx.close()


def test_a_window_added_at_run_time_is_set_aside_by_reports_and_incidents_alike(tmp_path: Path) -> None:
    """``maintenance add`` over ap2's unrecorded outage: the reports no longer count it, 障害 no longer lists it."""
    import datetime as dt
    import json

    from tests.test_cli_text import run_main

    inv, path, now, _, live_unrecorded, _ = _store(tmp_path)
    cfg = tmp_path / "sites.toml"
    cfg.write_text(CONFIG.format(store=path), encoding="utf-8")
    os.environ.setdefault("X", "community")
    day = dt.datetime.fromtimestamp(now - 2 * 86400, dt.UTC).strftime("%Y-%m-%d")
    to = dt.datetime.fromtimestamp(now + 86400, dt.UTC).strftime("%Y-%m-%d")

    def ap2_outages() -> int:
        r = run_main("report", "availability", "-c", str(cfg), "--from", day, "--to", to, "--format", "json")
        assert r.returncode == 0, r.stderr
        return next(row["outages"] for row in json.loads(r.stdout) if row["ap"] == "ap2")

    assert ap2_outages() == 2
    alerts = AlertStore(path)
    iso = [dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds") for t in
           (live_unrecorded[0] - 60, live_unrecorded[1] + 60)]
    alerts.add_maintenance("w-added", "ap2", iso[0], iso[1], "工事")
    alerts.close()
    assert ap2_outages() == 1  # only the incident's outage is left
    ctx = open_context(inv, None)
    try:
        with ServedConsole(ctx) as c:
            page = c.get("/incidents", params={"days": 2}).text
            assert 'data-outage="ap2"' not in page and 'data-outage="ap1"' in page
    finally:
        ctx.close()
