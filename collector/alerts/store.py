"""Alert persistence in the embedded SQLite file: device states, incidents, the outbox, dead letters.

Its own tables (the ``alert_`` namespace, see core.store.dbfile) and connection beside the measurement
store. The outbox key (incident + kind) is unique, so a restarted daemon can never enqueue, and so never
send, the same alert twice.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.alerts.state import DeviceState, State
from core.store import dbfile
from core.store.dbfile import check_namespace

COMPONENT = "alerts"
PREFIX = "alert_"
SCHEMA_VERSION = 2  # 1: the first release's unprefixed tables; 2: the alert_ namespace

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (device TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_incidents (
  id INTEGER PRIMARY KEY, device TEXT NOT NULL, site TEXT NOT NULL, kind TEXT NOT NULL,
  start REAL NOT NULL, end REAL, duration_s REAL, cause TEXT NOT NULL DEFAULT '',
  suppressed_by TEXT, notified INTEGER NOT NULL DEFAULT 0, last_notified REAL, reminders INTEGER NOT NULL DEFAULT 0,
  severity TEXT NOT NULL DEFAULT 'critical');
CREATE INDEX IF NOT EXISTS alert_incidents_open ON alert_incidents(device, kind) WHERE end IS NULL;
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
  body TEXT NOT NULL, severity TEXT NOT NULL, data TEXT NOT NULL, created REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, sent_at REAL, last_error TEXT,
  UNIQUE(key, channel));
CREATE TABLE IF NOT EXISTS alert_dead_letter (
  id INTEGER PRIMARY KEY, outbox_id INTEGER, channel TEXT, subject TEXT, error TEXT, at REAL);
CREATE TABLE IF NOT EXISTS alert_maintenance (
  id TEXT PRIMARY KEY, target TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL, reason TEXT NOT NULL);
"""
check_namespace(PREFIX, SCHEMA)

# The first release's table names; its dead_letter is told from the measurement store's by its columns.
_LEGACY = (("incidents", "alert_incidents", {"device", "kind", "start"}),
           ("outbox", "alert_outbox", {"key", "channel", "body"}),
           ("dead_letter", "alert_dead_letter", {"outbox_id", "channel", "subject"}),
           ("maintenance_adhoc", "alert_maintenance", {"target", "start", "end"}))


def _legacy_version(c: sqlite3.Connection) -> int:
    """1 for a file the first release's alert store wrote, 0 for one without alert tables."""
    return 1 if {"alert_state", "incidents", "outbox"} & dbfile.tables(c) else 0


def _namespace(c: sqlite3.Connection) -> None:
    """v2: adopt the first release's tables under ``alert_`` names, then create whatever is missing."""
    for old, new, needs in _LEGACY:
        dbfile.adopt(c, old, new, needs)
    c.execute("DROP INDEX IF EXISTS incidents_open")  # recreated below as alert_incidents_open
    for stmt in dbfile.statements(SCHEMA):
        c.execute(stmt)


MIGRATIONS = (dbfile.Migration(2, "tables moved into the alert_ namespace (the measurement store had its "
                                  "own dead_letter table in the same file)", _namespace),)


@dataclass
class Incident:
    id: int
    device: str
    site: str
    kind: str
    start: float
    end: float | None
    duration_s: float | None
    cause: str
    suppressed_by: str | None
    notified: bool
    last_notified: float | None
    reminders: int
    severity: str


def _encode(s: DeviceState) -> str:
    d = dataclasses.asdict(s)
    d["changes"] = list(s.changes)
    return json.dumps(d)


def _decode(text: str) -> DeviceState:
    d = json.loads(text)
    d["confirmed"], d["phase"] = State(d["confirmed"]), State(d["phase"])
    d["changes"] = tuple(d.get("changes", ()))
    fields = {f.name for f in dataclasses.fields(DeviceState)}
    return DeviceState(**{k: v for k, v in d.items() if k in fields})


class AlertStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = dbfile.connect(path)
        self._lock = threading.RLock()
        try:
            dbfile.migrate(self._conn, COMPONENT, MIGRATIONS, _legacy_version, str(path))
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- states ---------------------------------------------------------------------------------
    def load_states(self) -> dict[str, DeviceState]:
        with self._lock:
            return {d: _decode(s) for d, s in self._conn.execute("SELECT device, state FROM alert_state")}

    def save_states(self, c: sqlite3.Connection, states: dict[str, DeviceState]) -> None:
        c.executemany("INSERT OR REPLACE INTO alert_state(device, state) VALUES (?, ?)",
                      [(d, _encode(s)) for d, s in states.items()])

    # -- incidents ------------------------------------------------------------------------------
    def open_incident(self, device: str, kind: str) -> Incident | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM alert_incidents WHERE device=? AND kind=? AND end IS NULL "
                                     "ORDER BY id DESC LIMIT 1", (device, kind)).fetchone()
        return Incident(*row) if row else None

    def incidents(self, open_only: bool = False, since: float | None = None) -> list[Incident]:
        q = "SELECT * FROM alert_incidents"
        cond, args = [], []
        if open_only:
            cond.append("end IS NULL")
        if since is not None:
            cond.append("(end IS NULL OR end >= ?)")
            args.append(since)
        if cond:
            q += " WHERE " + " AND ".join(cond)
        with self._lock:
            return [Incident(*r) for r in self._conn.execute(q + " ORDER BY start", args)]

    # -- outbox -----------------------------------------------------------------------------------
    def enqueue(self, c: sqlite3.Connection, key: str, channel: str, kind: str, subject: str, body: str,
                severity: str, data: dict[str, Any], now: float) -> bool:
        cur = c.execute(
            "INSERT OR IGNORE INTO alert_outbox(key, channel, kind, subject, body, severity, data, created, next_at) "
            "VALUES (?,?,?,?,?,?,?,?,?)", (key, channel, kind, subject, body, severity, json.dumps(data), now, now))
        return cur.rowcount == 1

    def due(self, now: float, limit: int = 100) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(
                "SELECT id, channel, kind, subject, body, severity, data, attempts FROM alert_outbox "
                "WHERE sent_at IS NULL AND next_at <= ? ORDER BY id LIMIT ?", (now, limit)).fetchall()

    def pending(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM alert_outbox WHERE sent_at IS NULL").fetchone()[0])

    def mark_sent(self, oid: int, now: float) -> None:
        with self.tx() as c:
            c.execute("UPDATE alert_outbox SET sent_at=?, attempts=attempts+1 WHERE id=?", (now, oid))

    def mark_failed(self, oid: int, error: str, next_at: float | None, now: float) -> None:
        with self.tx() as c:
            if next_at is None:  # give up: dead letter, kept for inspection
                c.execute("UPDATE alert_outbox SET sent_at=-1, attempts=attempts+1, last_error=? WHERE id=?",
                          (error, oid))
                c.execute("INSERT INTO alert_dead_letter(outbox_id, channel, subject, error, at) "
                          "SELECT id, channel, subject, ?, ? FROM alert_outbox WHERE id=?", (error, now, oid))
            else:
                c.execute("UPDATE alert_outbox SET attempts=attempts+1, next_at=?, last_error=? WHERE id=?",
                          (next_at, error, oid))

    def dead_letters(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute("SELECT outbox_id, channel, subject, error, at FROM alert_dead_letter "
                                      "ORDER BY id").fetchall()

    def sent(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute("SELECT channel, kind, subject, sent_at FROM alert_outbox WHERE sent_at > 0 "
                                      "ORDER BY sent_at").fetchall()

    # -- ad-hoc maintenance ---------------------------------------------------------------------------
    def add_maintenance(self, wid: str, target: str, start: str, end: str, reason: str) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO alert_maintenance(id, target, start, end, reason) VALUES (?,?,?,?,?)",
                      (wid, target, start, end, reason))

    def remove_maintenance(self, wid: str) -> bool:
        with self.tx() as c:
            return c.execute("DELETE FROM alert_maintenance WHERE id=?", (wid,)).rowcount == 1

    def set_maintenance_end(self, wid: str, end: str) -> bool:
        with self.tx() as c:
            return c.execute("UPDATE alert_maintenance SET end=? WHERE id=?", (end, wid)).rowcount == 1

    def maintenance(self) -> list[tuple[str, str, str, str, str]]:
        with self._lock:
            return self._conn.execute("SELECT id, target, start, end, reason FROM alert_maintenance "
                                      "ORDER BY start").fetchall()
