"""collector.alerts.timeline: one incident's events, from what the alert store records."""

from __future__ import annotations

from pathlib import Path

from collector.alerts import ack, timeline
from collector.alerts.store import AlertStore


def _store(tmp_path: Path) -> AlertStore:
    s = AlertStore(tmp_path / "s.sqlite3")
    with s.tx() as c:
        ack.ensure_schema(c)
        timeline.ensure_schema(c)
        c.execute("INSERT INTO alert_incidents(id, device, site, kind, start, end, cause, notified) "
                  "VALUES (7, 'omachi-2', 'omachi', 'down', 1000, 1900, 'no heartbeat reply', 1)")
        c.execute("INSERT INTO alert_incidents(id, device, site, kind, start, cause) "
                  "VALUES (70, 'omachi-3', 'omachi', 'down', 1000, 'x')")
        for key, kind, created, sent in (("7:down", "down", 1001, 1002), ("7:reminder:1", "reminder", 1500, 1501),
                                         ("7:escalate", "escalation", 1300, None), ("7:up", "up", 1901, 1903),
                                         ("70:down", "down", 1001, 1002)):
            c.execute("INSERT INTO alert_outbox(key, channel, kind, subject, body, severity, data, created, next_at, "
                      "sent_at) VALUES (?, 'duty', ?, 's', 'b', 'critical', '{}', ?, ?, ?)",
                      (key, kind, created, created, sent))
    return s


def test_events_tell_the_incident_in_order(tmp_path: Path) -> None:
    s = _store(tmp_path)
    with s.tx() as c:
        assert ack.acknowledge(c, 70, "duty", "n", 1100)  # another incident's: not in 7's story
        assert timeline.add_comment(c, 7, "sato", "  交換済み  ", 1400)
        msgs = timeline.messages(c, 7)
        notes = timeline.comments(c, 7)
    inc = next(i for i in s.incidents() if i.id == 7)
    evs = timeline.events(inc, ("tanaka", 1200.0, "見ています"), msgs, notes)
    assert [(e.at, e.kind) for e in evs] == [(1000, "down"), (1002, "message"), (1200, "ack"), (1300, "escalated"),
                                             (1400, "comment"), (1501, "reminder"), (1900, "recovered"),
                                             (1903, "message")]
    assert [m.status for m in msgs] == ["sent", "pending", "sent", "sent"]  # by creation: down, escalate, ...
    assert evs[4].text == "交換済み" and evs[3].status == "pending"


def test_comments_are_bounded_and_need_a_known_incident(tmp_path: Path) -> None:
    s = _store(tmp_path)
    with s.tx() as c:
        assert not timeline.add_comment(c, 8, "sato", "no such incident", 1)
        assert not timeline.add_comment(c, 7, "sato", "   ", 1)
        assert timeline.add_comment(c, 7, "sato", "x" * 10_000, 1)
        assert len(timeline.comments(c, 7)[0][2]) == timeline.MAX_COMMENT
        for n in range(timeline.MAX_COMMENTS - 1):
            assert timeline.add_comment(c, 7, "sato", f"c{n}", 2 + n)
        assert not timeline.add_comment(c, 7, "sato", "one too many", 10_000)
