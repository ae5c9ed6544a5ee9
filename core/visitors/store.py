"""Visitor sessions in the project's SQLite store file (component ``visitors``, tables ``visitors_*``).

One row per session (core.visitors.model.VisitorSession). Hashes are stored as 32-byte BLOBs (half the
size of hex) and handed out as hex. While a session is open its row carries ``link``: an HMAC of what the
sender uses to name the session (RADIUS: NAS + Acct-Session-Id + device; syslog: AP + device), so an
Interim-Update, a Stop or a disassociation finds it; ``link`` is cleared when the session closes, so a
closed session keeps nothing that a later event could be matched against.

Choices and costs:
- A closed session is kept as at most :data:`MAX_SESSION_S` (its last 24 h): longer stays are devices
  left connected, not visits, and the bound keeps :meth:`iter_sessions` an index range scan.
- :meth:`prune` (retention, ``session_retention_days``) first rolls the days it deletes into
  ``visitors_daily`` (sessions, distinct devices, randomised devices, dwell bands per JST day and AP), so
  after retention only aggregates remain.
- Readers (:meth:`iter_sessions`) get their own connection: a month's stream never holds the writer's lock.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.store import dbfile
from core.visitors.model import VisitorSession

COMPONENT, PREFIX = "visitors", "visitors_"
MAX_SESSION_S = 24 * 3600.0
DEFAULT_IDLE_S = 6 * 3600.0  # an open session not heard of for this long is no longer counted as present
JST_OFFSET_S = 9 * 3600
# dwell bands of the daily rollup (minutes): < 3, 3-15, 15-60, > 60 (Purple's engaged/not engaged + an hour)
BANDS_MIN = (3, 15, 60)

SCHEMA = """
CREATE TABLE IF NOT EXISTS visitors_sessions (
  id INTEGER PRIMARY KEY,
  ap_id TEXT NOT NULL,
  site_id TEXT NOT NULL,
  device BLOB NOT NULL,
  device30 BLOB,
  start REAL NOT NULL,
  stop REAL,
  last_seen REAL NOT NULL,
  source TEXT NOT NULL,
  lang TEXT,
  randomized INTEGER NOT NULL DEFAULT 0,
  simulated INTEGER NOT NULL DEFAULT 0,
  link BLOB,
  ext BLOB
);
CREATE INDEX IF NOT EXISTS visitors_sessions_start ON visitors_sessions (start);
CREATE UNIQUE INDEX IF NOT EXISTS visitors_sessions_link ON visitors_sessions (link) WHERE link IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS visitors_sessions_ext ON visitors_sessions (ext) WHERE ext IS NOT NULL;
CREATE INDEX IF NOT EXISTS visitors_sessions_open ON visitors_sessions (ap_id, start) WHERE stop IS NULL;
CREATE TABLE IF NOT EXISTS visitors_daily (
  day TEXT NOT NULL,
  ap_id TEXT NOT NULL,
  site_id TEXT NOT NULL,
  simulated INTEGER NOT NULL,
  sessions INTEGER NOT NULL,
  devices INTEGER NOT NULL,
  randomized_devices INTEGER NOT NULL,
  dwell_s_sum REAL NOT NULL,
  band_lt3 INTEGER NOT NULL,
  band_3_15 INTEGER NOT NULL,
  band_15_60 INTEGER NOT NULL,
  band_gt60 INTEGER NOT NULL,
  PRIMARY KEY (day, ap_id, simulated)
) WITHOUT ROWID;
"""
dbfile.check_namespace(PREFIX, SCHEMA)


def _create(c: sqlite3.Connection) -> None:
    for stmt in dbfile.statements(SCHEMA):
        c.execute(stmt)


MIGRATIONS = (dbfile.Migration(1, "visitor sessions (issue 24)", _create),)

_COLS = "ap_id, site_id, device, device30, start, stop, source, lang, randomized, simulated"


def _blob(hexstr: str | None) -> bytes | None:
    return None if hexstr is None else bytes.fromhex(hexstr)


def _row(r: Sequence[Any]) -> VisitorSession:
    return VisitorSession(r[0], r[1], r[2].hex(), None if r[3] is None else r[3].hex(), r[4], r[5], r[6], r[7],
                          bool(r[8]), bool(r[9]))


def _clamped_start(s: VisitorSession) -> float:
    return s.start if s.end is None else max(s.start, s.end - MAX_SESSION_S)


class VisitorStore:
    """Sessions of one store file; safe to share between threads (one writer connection under a lock)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = dbfile.connect(self.path)
        self._lock = threading.RLock()
        dbfile.migrate(self._conn, COMPONENT, MIGRATIONS, lambda _c: 0, str(self.path))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> VisitorStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several writes in one transaction (one commit: what a busy sender or an import needs)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _insert(self, s: VisitorSession, last_seen: float, link: bytes | None, ext: bytes | None) -> bool:
        cur = self._conn.execute(
            f"INSERT INTO visitors_sessions ({_COLS}, last_seen, link, ext) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            (s.ap_id, s.site_id, _blob(s.device), _blob(s.device30), _clamped_start(s), s.end, s.source, s.lang,
             int(s.randomized), int(s.simulated), last_seen, link, ext))
        return cur.rowcount == 1

    def _find_open(self, links: Sequence[str]) -> int | None:
        for link in links:
            row = self._conn.execute("SELECT id FROM visitors_sessions WHERE link=?", (_blob(link),)).fetchone()
            if row is not None:
                return int(row[0])
        return None

    # -- what the sources call ---------------------------------------------------------------------
    def begin(self, session: VisitorSession, links: Sequence[str], now: float | None = None) -> bool:
        """A Start / association. ``links[0]`` names the session under the current link key, later ones
        under keys still kept (yesterday's). Returns True for a new session, False if it was already open
        (a retransmitted Start, a re-association): then only its last-seen time moves."""
        now = time.time() if now is None else now
        with self._lock:
            rid = self._find_open(links)
            if rid is not None:
                self._conn.execute("UPDATE visitors_sessions SET last_seen=?, link=? WHERE id=?",
                                   (now, _blob(links[0]), rid))
                return False
            return self._insert(session, now, _blob(links[0]), None)

    def touch(self, links: Sequence[str], now: float | None = None) -> bool:
        """An Interim-Update: the open session is still there (and its link moves to the current key)."""
        now = time.time() if now is None else now
        with self._lock:
            rid = self._find_open(links)
            if rid is None:
                return False
            self._conn.execute("UPDATE visitors_sessions SET last_seen=?, link=? WHERE id=?",
                               (now, _blob(links[0]), rid))
            return True

    def finish(self, links: Sequence[str], session: VisitorSession, exact_start: bool = False) -> bool:
        """A Stop / disassociation: close the open session named by ``links`` at ``session.end``; with
        ``exact_start`` (a Stop's Acct-Session-Time) its start becomes ``session.start`` so the dwell is
        the sender's. If none is open (the Start was lost, or came before a restart) ``session`` is stored
        closed as it is. Returns True if an open session was closed."""
        if session.end is None:
            raise ValueError("finish needs session.end")
        with self._lock:
            rid = self._find_open(links)
            if rid is None:
                self._insert(session, session.end, None, None)
                return False
            if exact_start:
                self._conn.execute(
                    "UPDATE visitors_sessions SET start=?, stop=?, last_seen=?, link=NULL WHERE id=?",
                    (_clamped_start(session), session.end, session.end, rid))
            else:
                self._conn.execute(
                    "UPDATE visitors_sessions SET start=max(start, ?), stop=max(start, ?), last_seen=?, link=NULL"
                    " WHERE id=?", (session.end - MAX_SESSION_S, session.end, session.end, rid))
            return True

    def end(self, links: Sequence[str], at: float) -> bool:
        """A disassociation: close the open session named by ``links`` at ``at``. Without an open session
        nothing is stored (a departure alone says nothing about a stay). Returns True if one was closed."""
        with self._lock:
            rid = self._find_open(links)
            if rid is None:
                return False
            self._conn.execute("UPDATE visitors_sessions SET stop=max(start, ?), last_seen=?, link=NULL WHERE id=?",
                               (at, at, rid))
            return True

    def add(self, session: VisitorSession, ext: str | None = None) -> bool:
        """Store a finished session (an import row, the simulator's history). ``ext`` (hex) names the row
        in its source so importing the same file twice stores it once; returns False if it already was."""
        with self._lock:
            return self._insert(session, session.end if session.end is not None else session.start, None,
                                _blob(ext))

    def add_many(self, rows: Iterable[tuple[VisitorSession, str | None]]) -> int:
        """:meth:`add` for many rows in one transaction; returns how many were new."""
        n = 0
        with self.batch():
            for s, ext in rows:
                n += self._insert(s, s.end if s.end is not None else s.start, None, _blob(ext))
        return n

    def expire(self, idle_before: float) -> int:
        """Close open sessions last heard of before ``idle_before`` at that last time (a Stop or a
        disassociation that never came). Returns how many."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE visitors_sessions SET stop=last_seen, link=NULL WHERE stop IS NULL AND last_seen < ?",
                (idle_before,))
            return cur.rowcount

    def close_ap(self, ap_id: str, at: float) -> int:
        """The AP (its NAS) restarted, Accounting-On/Off: every session open there ended by ``at``."""
        with self._lock:
            return self._conn.execute(
                "UPDATE visitors_sessions SET stop=max(start, ?), last_seen=?, link=NULL WHERE stop IS NULL"
                " AND ap_id=?", (at, at, ap_id)).rowcount

    # -- what the figures read ---------------------------------------------------------------------
    def iter_sessions(self, start: float, end: float,
                      site_ids: Collection[str] | None = None) -> Iterator[VisitorSession]:
        """Sessions overlapping [start, end) (open ones included, ``end`` None), streamed, ordered by start."""
        where, args = "", []
        if site_ids is not None:
            ids = list(site_ids)
            if not ids:
                return
            where = f" AND site_id IN ({','.join('?' * len(ids))})"
            args = ids
        conn = dbfile.connect(self.path)
        try:
            # Sessions opened before start - MAX_SESSION_S and still open: few, read first, merged in order.
            old_open = [_row(r) for r in conn.execute(
                f"SELECT {_COLS} FROM visitors_sessions WHERE stop IS NULL AND start < ?{where} ORDER BY start",
                (start - MAX_SESSION_S, *args))]
            recent = (_row(r) for r in conn.execute(
                f"SELECT {_COLS} FROM visitors_sessions WHERE start >= ? AND start < ?"
                f" AND (stop IS NULL OR stop > ? OR start >= ?){where} ORDER BY start",
                (start - MAX_SESSION_S, end, start, start, *args)))
            yield from heapq.merge(old_open, recent, key=lambda s: s.start)
        finally:
            conn.close()

    def open_counts(self, now: float, idle_s: float = DEFAULT_IDLE_S) -> dict[str, int]:
        """Open sessions per ap_id at ``now`` (heard of within ``idle_s``): the live client count of APs
        whose SNMP has none."""
        with self._lock:
            return {ap: n for ap, n in self._conn.execute(
                "SELECT ap_id, count(*) FROM visitors_sessions WHERE stop IS NULL AND start <= ? AND last_seen >= ?"
                " GROUP BY ap_id", (now, now - idle_s))}

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM visitors_sessions").fetchone()[0])

    # -- retention ---------------------------------------------------------------------------------
    def prune(self, before: float) -> int:
        """Delete the sessions of JST days wholly before ``before`` (open ones there are closed first),
        after adding those days to ``visitors_daily``. Returns how many sessions were deleted."""
        cutoff = (int(before) + JST_OFFSET_S) // 86400 * 86400 - JST_OFFSET_S  # JST midnight at or before
        day = f"date(start + {JST_OFFSET_S}, 'unixepoch')"
        dwell = "(stop - start) / 60.0"
        b1, b2, b3 = BANDS_MIN
        with self.batch():
            c = self._conn
            c.execute("UPDATE visitors_sessions SET stop=last_seen, link=NULL WHERE stop IS NULL AND start < ?",
                      (cutoff,))
            c.execute(
                f"""INSERT INTO visitors_daily SELECT {day}, ap_id, min(site_id), simulated, count(*),
                      count(DISTINCT device), count(DISTINCT CASE WHEN randomized THEN device END),
                      sum(stop - start), sum({dwell} < {b1}), sum({dwell} >= {b1} AND {dwell} < {b2}),
                      sum({dwell} >= {b2} AND {dwell} <= {b3}), sum({dwell} > {b3})
                    FROM visitors_sessions WHERE start < ? GROUP BY 1, 2, 4
                    ON CONFLICT (day, ap_id, simulated) DO UPDATE SET sessions = sessions + excluded.sessions,
                      devices = max(devices, excluded.devices),
                      randomized_devices = max(randomized_devices, excluded.randomized_devices),
                      dwell_s_sum = dwell_s_sum + excluded.dwell_s_sum, band_lt3 = band_lt3 + excluded.band_lt3,
                      band_3_15 = band_3_15 + excluded.band_3_15, band_15_60 = band_15_60 + excluded.band_15_60,
                      band_gt60 = band_gt60 + excluded.band_gt60""", (cutoff,))
            return c.execute("DELETE FROM visitors_sessions WHERE start < ?", (cutoff,)).rowcount

    def daily(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """The rolled-up days (YYYY-MM-DD JST, inclusive): what remains of sessions after retention."""
        with self._lock:
            cur = self._conn.execute("SELECT * FROM visitors_daily WHERE day BETWEEN ? AND ? ORDER BY day, ap_id",
                                     (first_day, last_day))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur]
