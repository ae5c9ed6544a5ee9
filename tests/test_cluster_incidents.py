"""Shared incidents across members (collector/cluster/incidents.py + the alert engine's hooks), on a real Redis.

Two alert engines, each with its own SQLite store like two members, share one redis-server: an outage seen
by both, or opened by one and ended on the other, queues one DOWN and one UP in total; a member taking over an
AP continues its open outage (reminders and escalation are claimed once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from collector.alerts.engine import AlertEngine
from collector.alerts.state import Heartbeat
from collector.cluster.incidents import SharedIncidents
from collector.cluster.membership import connect
from core.config import parse_config
from core.inventory import ClusterSettings
from core.paths import known_vendors
from core.secrets import SecretResolver
from tests.fixtures_cluster import RedisServer
from tests.fixtures_sim import SAMPLE

AP = "omachi-1"
DOWN = Heartbeat(False, None, None)
UP = Heartbeat(True, 2.0, 0.0)


def _inv(**alerts: Any) -> Any:
    doc = tomlkit.parse(SAMPLE.read_text(encoding="utf-8"))
    doc.pop("maintenance", None)
    doc["alerts"].update(alerts)  # type: ignore[union-attr]
    chan = tomlkit.aot()
    chan.append(tomlkit.item({"name": "duty", "type": "webhook", "url": "env:WIFIWATCH_TEST_UNUSED_HOOK",
                              "min_severity": "info"}))
    doc["alerts"]["channels"] = chan  # type: ignore[index]
    return parse_config(tomlkit.dumps(doc), "sites.toml", known_vendors())


def _member(tmp: Path, name: str, server: RedisServer, inv: Any) -> AlertEngine:
    eng = AlertEngine(inv, tmp / f"{name}.sqlite3", SecretResolver())
    settings = ClusterSettings(redis=server.url, name=name, lease_s=3.0)
    eng.shared = SharedIncidents(connect(settings, None), name)
    return eng


def _queued(*engines: AlertEngine) -> list[str]:
    return sorted(kind for e in engines for _id, _ch, kind, *_ in e.store.due(1e12))


def _beats(eng: AlertEngine, t0: float, hb: Heartbeat, n: int) -> float:
    for i in range(n):
        eng.observe(t0 + i, {AP: hb, "omachi-2": UP})
    return t0 + n


def test_outage_seen_by_two_members_is_one_down_and_one_up(tmp_path: Path, redis_server: RedisServer) -> None:
    inv = _inv()
    a, b = _member(tmp_path, "a", redis_server, inv), _member(tmp_path, "b", redis_server, inv)
    t = _beats(a, 1000.0, DOWN, 4)
    _beats(b, 1000.5, DOWN, 4)  # both poll it for a moment (a rebalance in progress)
    assert _queued(a, b) == ["down"]
    _beats(a, t + 10, UP, 3)
    _beats(b, t + 10.5, UP, 3)
    assert _queued(a, b) == ["down", "up"]


def test_outage_opened_on_a_dead_member_ends_on_its_successor(tmp_path: Path, redis_server: RedisServer) -> None:
    inv = _inv(reminder_h=0.001)  # a reminder every 3.6 s
    a, b = _member(tmp_path, "a", redis_server, inv), _member(tmp_path, "b", redis_server, inv)
    t = _beats(a, 1000.0, DOWN, 4)
    assert _queued(a) == ["down"]
    # a dies; b takes omachi-1 over: it continues the state machine and the open outage
    b.adopt_states([AP])
    assert b.states[AP].confirmed.value == "down"
    assert b.store.open_incident(AP, "down") is not None
    _beats(b, t + 10, DOWN, 2)  # still down on b: no second DOWN; the reminder is b's, once
    _beats(a, t + 10.2, DOWN, 1)  # a's last breath before it died: its reminder is claimed already
    assert _queued(a, b).count("down") == 1
    assert _queued(a, b).count("reminder") == 1, _queued(a, b)
    _beats(b, t + 20, UP, 3)
    assert _queued(a, b).count("up") == 1 and _queued(b).count("up") == 1


def test_without_redis_each_member_alerts_on_its_own(tmp_path: Path, redis_server: RedisServer) -> None:
    """Fail open: Redis unreachable, a member still sends its DOWN and UP (a duplicate beats none)."""
    inv = _inv()
    a = _member(tmp_path, "a", redis_server, inv)
    redis_server.stop()
    t = _beats(a, 1000.0, DOWN, 4)
    _beats(a, t + 10, UP, 3)
    assert _queued(a) == ["down", "up"]


def test_an_outage_across_a_redis_restart_still_ends_with_one_up(tmp_path: Path, redis_server: RedisServer) -> None:
    """Redis restarted without persistence lost the open record: the member that sent the DOWN sends the UP."""
    inv = _inv()
    a, b = _member(tmp_path, "a", redis_server, inv), _member(tmp_path, "b", redis_server, inv)
    t = _beats(a, 1000.0, DOWN, 4)
    redis_server.stop()
    redis_server.start()  # empty: --save '' --appendonly no
    a.shared._down_until = 0.0  # noqa: SLF001 - no need to wait out the pause after the failure in this test
    _beats(a, t + 10, UP, 3)
    _beats(b, t + 10.5, UP, 3)  # b never had it open: nothing to say
    assert _queued(a, b) == ["down", "up"]


def test_a_member_that_loses_its_network_sends_one_monitoring_lost(tmp_path: Path,
                                                                  redis_server: RedisServer) -> None:
    """The host-network check counts this member's own devices, not the whole inventory."""
    inv = _inv()
    a = _member(tmp_path, "a", redis_server, inv)
    mine = ["omachi-1", "omachi-2", "omachi-3"]
    a.owned = set(mine)
    for i in range(4):
        a.observe(1000.0 + i, dict.fromkeys(mine, DOWN))
    assert _queued(a) == ["monitoring_lost"], _queued(a)


def test_an_acknowledgement_on_one_member_is_seen_by_the_other(tmp_path: Path, redis_server: RedisServer) -> None:
    """Acked on a's console, the outage b now holds gets no reminder from b either."""
    from collector.alerts import ack

    inv = _inv(reminder_h=0.001)
    a, b = _member(tmp_path, "a", redis_server, inv), _member(tmp_path, "b", redis_server, inv)
    t = _beats(a, 1000.0, DOWN, 4)
    b.adopt_states([AP])  # b takes the AP over with its open outage
    inc_a, inc_b = a.store.open_incident(AP, "down"), b.store.open_incident(AP, "down")
    assert inc_a is not None and inc_b is not None
    with a.store.tx() as c:
        assert ack.acknowledge(c, inc_a.id, "duty", "on my way", t + 1)
    assert a.shared.sync_acks(a.store) == 0 and b.shared.sync_acks(b.store) == 1
    with b.store.tx() as c:
        assert ack.acks(c)[inc_b.id].user == "duty"
    _beats(b, t + 10, DOWN, 2)
    assert "reminder" not in _queued(a, b), _queued(a, b)


def test_maintenance_windows_added_changed_and_removed_anywhere(tmp_path: Path, redis_server: RedisServer) -> None:
    """A window added on a's console silences b too; its new end and its removal follow; a restarted member
    takes the group's windows rather than resurrecting removed ones."""
    inv = _inv()
    a, b = _member(tmp_path, "a", redis_server, inv), _member(tmp_path, "b", redis_server, inv)
    la, lb = a.shared.sync_windows(a.store, None), b.shared.sync_windows(b.store, None)
    a.store.add_maintenance("w1", AP, "2026-12-07T09:00:00+09:00", "2026-12-07T12:00:00+09:00", "工事")
    la = a.shared.sync_windows(a.store, la)
    lb = b.shared.sync_windows(b.store, lb)
    assert [w[0] for w in b.store.maintenance()] == ["w1"]
    b.store.set_maintenance_end("w1", "2026-12-07T13:00:00+09:00")  # extended on b's console
    lb = b.shared.sync_windows(b.store, lb)
    la = a.shared.sync_windows(a.store, la)
    assert a.store.maintenance()[0][3] == "2026-12-07T13:00:00+09:00"
    stale = _member(tmp_path, "c", redis_server, inv)  # c was down meanwhile and still has w1 from before
    stale.store.add_maintenance("w1", AP, "2026-12-07T09:00:00+09:00", "2026-12-07T12:00:00+09:00", "工事")
    assert a.store.remove_maintenance("w1")
    la = a.shared.sync_windows(a.store, la)
    b.shared.sync_windows(b.store, lb)
    stale.shared.sync_windows(stale.store, None)
    assert b.store.maintenance() == [] and stale.store.maintenance() == [] and a.store.maintenance() == []


def test_the_rota_edited_on_one_member_is_every_members(tmp_path: Path, redis_server: RedisServer) -> None:
    import datetime as dt

    from collector.alerts import rota

    inv = _inv()
    a, b = _member(tmp_path, "a", redis_server, inv), _member(tmp_path, "b", redis_server, inv)
    ra, rb = a.shared.sync_rota(a.store, None), b.shared.sync_rota(b.store, None)
    with a.store.tx() as c:
        sid = rota.add_shift(c, "duty", "*", ("mon", "tue"), dt.time(9), dt.time(17), "鈴木")
    ra = a.shared.sync_rota(a.store, ra)
    rb = b.shared.sync_rota(b.store, rb)
    with b.store.tx() as c:
        got = rota.shifts(c)
    assert [(s.person, s.weekdays, s.start) for s in got] == [("鈴木", ("mon", "tue"), dt.time(9))]
    with a.store.tx() as c:
        assert rota.remove_shift(c, sid)
    a.shared.sync_rota(a.store, ra)
    b.shared.sync_rota(b.store, rb)
    with b.store.tx() as c:
        assert rota.shifts(c) == []
