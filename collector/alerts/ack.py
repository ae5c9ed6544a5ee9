"""Acknowledgements: the person on duty says "I have this outage" (who, when, a note).

An acknowledged incident gets no reminders and no escalation; its recovery message is still sent, because
the people told it went down want to know it came back. Kept in the alert tables of the embedded store.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from core.store.dbfile import check_namespace

SCHEMA = """CREATE TABLE IF NOT EXISTS alert_ack (
  incident_id INTEGER PRIMARY KEY, user TEXT NOT NULL, at REAL NOT NULL, note TEXT NOT NULL DEFAULT '')"""
MAX_NOTE = 2000


@dataclass(frozen=True)
class Ack:
    incident_id: int
    user: str
    at: float
    note: str


check_namespace("alert_", SCHEMA)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute(SCHEMA)


def acknowledge(c: sqlite3.Connection, incident_id: int, user: str, note: str, now: float) -> bool:
    """Record the acknowledgement of an open incident; False when it is closed, unknown or already acknowledged."""
    row = c.execute("SELECT end FROM alert_incidents WHERE id=?", (incident_id,)).fetchone()
    if row is None or row[0] is not None:
        return False
    cur = c.execute("INSERT OR IGNORE INTO alert_ack(incident_id, user, at, note) VALUES (?,?,?,?)",
                    (incident_id, user, now, note[:MAX_NOTE]))
    return cur.rowcount == 1


def acks(c: sqlite3.Connection) -> dict[int, Ack]:
    return {r[0]: Ack(*r) for r in c.execute("SELECT incident_id, user, at, note FROM alert_ack")}


UNACKED = "id NOT IN (SELECT incident_id FROM alert_ack)"  # an SQL condition on alert_incidents
