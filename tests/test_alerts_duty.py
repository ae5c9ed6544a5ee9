"""Acknowledgement stops reminders and escalation; escalation goes once to its channel; the rota routes by time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.alerts import ack, rota
from collector.alerts.engine import AlertEngine
from collector.alerts.state import Heartbeat
from core.config import parse_config
from core.inventory import AlertSettings
from core.secrets import SecretResolver

CONFIG = """
[snmp]
version = "2c"
community = "env:X"
[alerts]
down_after = 2
up_after = 1
reminder_h = 0.5
escalate_after_min = 10
escalate_channel = "boss"
[[alerts.channels]]
name = "duty"
type = "webhook"
url = "env:WW_TEST_DUTY_HOOK"
[[alerts.channels]]
name = "boss"
type = "webhook"
url = "env:WW_TEST_BOSS_HOOK"
min_severity = "critical"
[[sites]]
id = "omachi"
name_ja = "大町通り"
name_en = "Omachi-dori"
kind = "tourist_spot"
lat = 35.968
lon = 140.6287
[[sites.aps]]
id = "ap1"
host = "127.0.0.2"
[[sites.aps]]
id = "ap2"
host = "127.0.0.3"
[[sites.aps]]
id = "ap3"
host = "127.0.0.4"
"""
T0 = dt.datetime(2026, 11, 30, 10, 0, tzinfo=rota.JST).timestamp()  # a Monday, 10:00 JST
UP, DOWN = Heartbeat(True, 1.0, 0.0), Heartbeat(False, None, 100.0)


class Phone:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    def __call__(self, channel: Any, msg: Any, resolver: Any) -> None:
        self.sent.append((channel.name, msg.kind, msg.data.get("incident_id")))


def engine(tmp_path: Path) -> tuple[AlertEngine, Phone]:
    phone = Phone()
    inv = parse_config(CONFIG, "t.toml", {"generic"})
    return AlertEngine(inv, tmp_path / "a.sqlite3", SecretResolver(), sender=phone), phone


def run(eng: AlertEngine, phone: Phone, t: float, beats: dict[str, Heartbeat]) -> None:
    eng.observe(t, {**beats, "ap3": UP})  # one AP stays up: not the monitoring host's own network
    eng.deliver_due(t)


def down_both(eng: AlertEngine, phone: Phone) -> dict[str, int]:
    for i in range(3):
        run(eng, phone, T0 + i * 10, {"ap1": UP, "ap2": UP} if i == 0 else {"ap1": DOWN, "ap2": DOWN})
    return {i.device: i.id for i in eng.store.incidents(open_only=True)}


def test_ack_stops_reminders_and_escalation_of_that_incident_only(tmp_path: Path) -> None:
    eng, phone = engine(tmp_path)
    ids = down_both(eng, phone)
    assert sorted(k for _, k, _ in phone.sent) == ["down", "down", "down", "down"]  # duty + boss, 2 APs
    with eng.store.tx() as c:
        assert ack.acknowledge(c, ids["ap1"], "tanaka", "向かっています", T0 + 60)
        assert not ack.acknowledge(c, ids["ap1"], "suzuki", "twice", T0 + 61)  # the first one stands
    for minute in range(2, 70, 2):  # an hour: past escalate_after (10 min) and reminder_h (30 min)
        run(eng, phone, T0 + minute * 60, {"ap1": DOWN, "ap2": DOWN})
    later = phone.sent[4:]
    assert all(iid == ids["ap2"] for _, _, iid in later), later
    assert ("boss", "escalation", ids["ap2"]) in later
    assert sum(1 for _, k, _ in later if k == "escalation") == 1
    assert sum(1 for ch, k, _ in later if k == "reminder" and ch == "duty") == 2
    with eng.store.tx() as c:
        assert ack.acks(c)[ids["ap1"]].user == "tanaka"
    run(eng, phone, T0 + 4300, {"ap1": UP, "ap2": UP})  # the recovery still reaches who was told
    assert ("duty", "up", ids["ap1"]) in phone.sent


def test_closed_incident_cannot_be_acknowledged(tmp_path: Path) -> None:
    eng, phone = engine(tmp_path)
    ids = down_both(eng, phone)
    run(eng, phone, T0 + 100, {"ap1": UP, "ap2": UP})
    with eng.store.tx() as c:
        assert not ack.acknowledge(c, ids["ap1"], "tanaka", "", T0 + 200)
        assert not ack.acknowledge(c, 9999, "tanaka", "", T0 + 200)


def test_rota_routes_a_channel_only_in_its_shift(tmp_path: Path) -> None:
    eng, phone = engine(tmp_path)
    with eng.store.tx() as c:  # duty: weekday nights only; boss has no shift (gets everything its routing allows)
        rota.add_shift(c, "duty", "*", ("mon", "tue", "wed", "thu", "fri"), dt.time(17, 0), dt.time(8, 30), "夜間当番")
    down_both(eng, phone)  # Monday 10:00: outside the shift
    assert {ch for ch, _, _ in phone.sent} == {"boss"}
    assert [s.person for s in rota.shifts(eng.store._conn)] == ["夜間当番"]


def test_escalation_needs_a_configured_channel() -> None:
    with pytest.raises(ValidationError, match="escalate_channel 'nobody'"):
        AlertSettings(escalate_after_min=5, escalate_channel="nobody")
    with pytest.raises(ValidationError, match="both"):
        AlertSettings(escalate_after_min=5)


@given(st.integers(0, 6), st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 23),
       st.sets(st.sampled_from(rota.WEEKDAYS), min_size=1))
def test_shift_covers_matches_a_minute_walk(day: int, hour: int, minute: int, h0: int, h1: int,
                                             days: set[str]) -> None:
    """A shift covers an instant iff walking back minute by minute reaches its start on one of its days
    before leaving it (the oracle counts the minutes since the most recent start)."""
    if h0 == h1:
        return
    shift = rota.Shift(1, "c", "*", tuple(days), dt.time(h0), dt.time(h1), "")
    now = dt.datetime(2026, 11, 30 + day, hour, minute, tzinfo=rota.JST) if day < 1 else \
        dt.datetime(2026, 12, day, hour, minute, tzinfo=rota.JST)
    length = ((h1 - h0) % 24) * 60
    expect = False
    for back in range(0, length):
        t = now - dt.timedelta(minutes=back)
        if t.hour == h0 and t.minute == 0 and rota.WEEKDAYS[t.weekday()] in days:
            expect = True
            break
    assert shift.covers("omachi", now.timestamp()) == expect
    assert not rota.Shift(1, "c", "other", tuple(days), dt.time(h0), dt.time(h1), "").covers("omachi",
                                                                                            now.timestamp())
