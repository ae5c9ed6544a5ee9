"""An open 状況 page never stays green on old data: in a real browser, its refresh turns it grey when the
data ages past two heartbeats (the daemon stopped writing), and when the console itself stops answering."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from console.context import open_context
from core.config import parse_config
from core.schema import Point
from core.store import SqliteStore
from tests.fixtures_console import ServedConsole

CONFIG = '''
[defaults]
heartbeat_s = 1
interval_s = 5
timeout_s = 0.4
retries = 1
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
'''


def test_open_status_page_turns_grey_when_data_ages_and_when_the_console_is_gone(tmp_path: Path, page: Any) -> None:
    from collector.alerts.state import DeviceState, State
    from collector.alerts.store import AlertStore

    path = tmp_path / "ww.sqlite3"
    inv = parse_config(CONFIG.format(store=path), "t.toml")
    store = SqliteStore(path, inv.store)
    tags = {"site": "omachi", "ap": "ap1", "role": "ap"}
    store.write([Point("ap_ping", tags, {"reachable": True, "rtt_ms": 1.0}, time.time_ns()),
                 Point("ap_status", {**tags, "vendor": "cisco"}, {"clients": 3, "snmp_ok": True}, time.time_ns())])
    store.close()
    alerts = AlertStore(path)
    with alerts.tx() as c:
        alerts.save_states(c, {"ap1": DeviceState(confirmed=State.UP, phase=State.UP, since=time.time() - 60)})
    alerts.close()
    ctx = open_context(inv, None)
    served = ServedConsole(ctx)
    client = served.__enter__()
    try:
        url = str(client.base_url).rstrip("/")
        page.goto(url + "/login")
        page.fill("input[name=user]", "viewer")
        page.fill("input[name=password]", ServedConsole.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        assert page.locator('tr[data-device="ap1"]').get_attribute("data-state") == "up"  # fresh: green
        assert page.locator('#fleet .summary').get_attribute("data-monitor") == "live"
        # nothing writes: after two heartbeats (+5 s) the refresh (every second) turns the page grey, with its age
        page.wait_for_selector('tr[data-device="ap1"][data-state="stale"]', timeout=20000)
        assert page.locator('#fleet .summary').get_attribute("data-monitor") == "stale"
        banner = page.locator('#fleet [data-monitor="stale"].monitor-banner').inner_text()
        assert "監視停止中" in banner and "秒前" in banner, banner
        colour = page.locator('tr[data-device="ap1"] .badge').evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(158, 158, 158)", colour  # core.state's grey, never green
    finally:
        served.__exit__()
        ctx.close()
    # the console is gone: the page says it cannot reach it and greys the block
    page.wait_for_selector("#fleet.offline", timeout=10000)
    assert page.locator("[data-offline]").is_visible()
    assert "接続できません" in page.locator("[data-offline]").inner_text()
