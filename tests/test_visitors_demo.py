"""The demo's visitors: simulated history that gives every figure something to show, and live RADIUS and
syslog from the simulated fleet reaching a real receiver, all marked simulated (模擬データ)."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict

import tomlkit

from core.config import parse_config
from tests.fixtures_sim import SAMPLE
from tests.visitors_fixtures import running
from wifiwatch.sim import visitors as sv


def demo_inventory(tmp_path):
    text = SAMPLE.read_text(encoding="utf-8").replace('path = "var/wifiwatch.sqlite3"',
                                                     f'path = "{tmp_path}/w.sqlite3"')
    doc = tomlkit.parse(sv.demo_visitor_config(text))
    doc["visitors"]["key_file"] = f"{tmp_path}/keys.json"  # type: ignore[index]
    return parse_config(tomlkit.dumps(doc), "demo.toml")


def test_simulated_history_has_every_figure(tmp_path, monkeypatch):
    monkeypatch.setenv(sv.RADIUS_SECRET_ENV, "demo-radius-secret-test")
    inv = demo_inventory(tmp_path)
    sessions = list(sv.simulated_sessions(inv, dt.date(2026, 11, 1), 30))
    assert sessions and all(s.simulated and s.source == "sim" and s.end is not None for s in sessions)
    dwell_min = [s.dwell_s / 60 for s in sessions]  # type: ignore[operator]
    bands = Counter(0 if d < 3 else 1 if d < 15 else 2 if d <= 60 else 3 for d in dwell_min)
    assert all(bands[b] > 100 for b in range(4))
    assert {"ja", "en", "zh-Hant", "ko", "zh-Hans"} <= {s.lang for s in sessions}
    assert 0.4 < sum(s.randomized for s in sessions) / len(sessions) < 0.9
    # flows: the same device (day hash) at two sites the same day, at least k=10 on some days each way
    by_day: dict[tuple[int, str], list[str]] = defaultdict(list)
    for s in sorted(sessions, key=lambda s: s.start):
        by_day[(int((s.start + 9 * 3600) // 86400), s.device)].append(s.site_id)
    flows = Counter((a, b) for sites in by_day.values() for a, b in zip(sites, sites[1:], strict=False) if a != b)
    assert min(flows.values()) >= 10 and len(flows) == 2
    # returning: some device30 hashes appear on several days of the window
    days30: dict[str, set[int]] = defaultdict(set)
    for s in sessions:
        days30[str(s.device30)].add(int((s.start + 9 * 3600) // 86400))
    assert sum(len(d) > 1 for d in days30.values()) > 50
    # weekends and festival days are busier than weekdays
    per_day = Counter(dt.datetime.fromtimestamp(s.start, sv.JST).date() for s in sessions)
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    weekday = [n for d, n in per_day.items() if d.weekday() < 5 and d.toordinal() % sv.FESTIVAL_EVERY_DAYS]
    assert min(weekend) > max(weekday)


def test_live_accounting_and_syslog_reach_the_receiver_as_simulated(tmp_path, monkeypatch):
    monkeypatch.setenv(sv.RADIUS_SECRET_ENV, "demo-radius-secret-test")
    inv = demo_inventory(tmp_path)
    with running(inv, monkeypatch) as svc:
        live = sv.LiveVisitors(inv, seed=3, interval_s=0.05).start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (live.sent["answered"] < 3 or live.sent["syslog"] < 2):
            time.sleep(0.2)
        live.stop()
        time.sleep(0.3)
        sessions = list(svc.store.iter_sessions(0, 4e9))
    assert live.sent["answered"] >= 3 and live.sent["syslog"] >= 2
    assert {s.source for s in sessions} == {"radius", "syslog"}
    assert all(s.simulated for s in sessions)
    assert {s.ap_id for s in sessions} <= {ap.id for _s, ap in inv.aps()}
