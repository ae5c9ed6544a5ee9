"""One incident's story, in order: down, each message sent (or not yet), acknowledged, escalated, reminders,
comments, recovered. Built from what the alert store already records (the incident row, its outbox messages
keyed ``<id>:<kind>``, the acknowledgement, the comments), so the console's incident page and its CSV tell
the same events as the messages people received.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from collector.alerts.store import Incident
from core.store.dbfile import check_namespace

COMMENTS = """CREATE TABLE IF NOT EXISTS alert_comment (
  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, user TEXT NOT NULL, at REAL NOT NULL, text TEXT NOT NULL)"""
check_namespace("alert_", COMMENTS)
MAX_COMMENT = 2000
MAX_COMMENTS = 500  # per incident: a page, not a chat log


@dataclass(frozen=True)
class Event:
    at: float
    kind: str  # down, message, ack, escalated, reminder, comment, recovered
    who: str = ""  # a user, or a channel for a message
    text: str = ""
    status: str = ""  # for a message: sent, pending, failed


@dataclass(frozen=True)
class Message:
    kind: str
    channel: str
    subject: str
    created: float
    sent_at: float | None
    attempts: int
    last_error: str | None

    @property
    def status(self) -> str:
        return "sent" if self.sent_at is not None else ("failed" if self.last_error else "pending")


def ensure_schema(c: sqlite3.Connection) -> None:
    c.execute(COMMENTS)
    c.execute("CREATE INDEX IF NOT EXISTS alert_comment_incident ON alert_comment(incident_id)")


def add_comment(c: sqlite3.Connection, incident_id: int, user: str, text: str, now: float) -> bool:
    """False when the incident is unknown, the text empty, or the incident already holds MAX_COMMENTS."""
    text = text.strip()[:MAX_COMMENT]
    if not text or c.execute("SELECT 1 FROM alert_incidents WHERE id=?", (incident_id,)).fetchone() is None:
        return False
    n = c.execute("SELECT count(*) FROM alert_comment WHERE incident_id=?", (incident_id,)).fetchone()[0]
    if n >= MAX_COMMENTS:
        return False
    c.execute("INSERT INTO alert_comment(incident_id, user, at, text) VALUES (?,?,?,?)", (incident_id, user, now, text))
    return True


def messages(c: sqlite3.Connection, incident_id: int) -> list[Message]:
    rows = c.execute("SELECT kind, channel, subject, created, sent_at, attempts, last_error FROM alert_outbox "
                     "WHERE key >= ? AND key < ? ORDER BY created, id", (f"{incident_id}:", f"{incident_id};"))
    return [Message(*r) for r in rows]


def comments(c: sqlite3.Connection, incident_id: int) -> list[tuple[str, float, str]]:
    return list(c.execute("SELECT user, at, text FROM alert_comment WHERE incident_id=? ORDER BY at, id",
                          (incident_id,)))


def events(inc: Incident, ack: tuple[str, float, str] | None, msgs: list[Message],
           notes: list[tuple[str, float, str]]) -> list[Event]:
    """The incident's events in time order (ties in the order things happen: down before its message)."""
    out = [Event(inc.start, "down", text=inc.cause)]
    for m in msgs:
        kind = {"escalation": "escalated", "reminder": "reminder"}.get(m.kind, "message")
        out.append(Event(m.sent_at if m.sent_at is not None else m.created, kind, m.channel, m.subject, m.status))
    if ack is not None:
        out.append(Event(ack[1], "ack", ack[0], ack[2]))
    out.extend(Event(at, "comment", user, text) for user, at, text in notes)
    if inc.end is not None:
        out.append(Event(inc.end, "recovered"))
    order = {"down": 0, "message": 1, "reminder": 1, "escalated": 1, "ack": 2, "comment": 3, "recovered": 4}
    return sorted(out, key=lambda e: (e.at, order[e.kind]))
