"""The embedded store every point is written to first: the buffer in front of InfluxDB and the local history.

Layout (every table in the ``store_`` namespace: the alert tables share the file, see core.store.dbfile):
``store_series`` (measurement + tag set, one row each) and ``store_points`` (series, ns time, fields as JSON);
``store_points.id`` is AUTOINCREMENT so it only ever grows (never reused after deletes) and serves as the
forwarding cursor. ``store_rollup_hourly`` keeps count/mean/min/max per series, hour and numeric field after
raw rows age out. ``store_meta`` holds the cursor and forwarding state, ``store_dead_letter`` the lines
InfluxDB refused.

Durability choice: WAL + ``synchronous=NORMAL``. A committed write survives a process crash (SIGKILL);
only an OS crash or power loss can lose the last transactions since the previous WAL checkpoint sync.
For one-minute monitoring samples that trade is right: FULL would fsync on every commit, which on the
small SD/eMMC boxes this runs on costs far more than the few seconds of samples at risk.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.inventory import StoreSettings
from core.logs import kv
from core.schema import FieldValue, Point
from core.store import dbfile
from core.store.columns import Columns, from_rows
from core.store.dbfile import check_namespace
from core.store.sqlite_hourly import HourlyReads

log = logging.getLogger("wifiwatch.store")

COMPONENT = "store"
PREFIX = "store_"
SCHEMA_VERSION = 2  # 1: the first release's unprefixed tables; 2: the store_ namespace
HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS
DISK_LOG_INTERVAL_S = 60.0

_DDL = """
CREATE TABLE IF NOT EXISTS store_series (
    id INTEGER PRIMARY KEY,
    measurement TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (measurement, tags)
);
CREATE TABLE IF NOT EXISTS store_points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id INTEGER NOT NULL REFERENCES store_series(id),
    time_ns INTEGER NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS store_points_series_time ON store_points (series_id, time_ns);
CREATE INDEX IF NOT EXISTS store_points_time ON store_points (time_ns);
CREATE TABLE IF NOT EXISTS store_rollup_hourly (
    series_id INTEGER NOT NULL REFERENCES store_series(id),
    hour_ns INTEGER NOT NULL,
    field TEXT NOT NULL,
    count INTEGER NOT NULL,
    mean REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    PRIMARY KEY (series_id, hour_ns, field)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS store_rollup_hour ON store_rollup_hourly (hour_ns);
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS store_dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ns INTEGER NOT NULL,
    first_row INTEGER NOT NULL,
    last_row INTEGER NOT NULL,
    status INTEGER,
    error TEXT NOT NULL,
    lines TEXT NOT NULL
);
"""


check_namespace(PREFIX, _DDL)

# The first release's tables, renamed into the namespace; its dead_letter is recognised by its columns
# (the alert store's table of the same name has others).
_LEGACY = (("series", {"measurement", "tags"}), ("points", {"series_id", "time_ns", "fields"}),
           ("rollup_hourly", {"hour_ns", "field", "count"}), ("meta", {"key", "value"}),
           ("dead_letter", {"first_row", "last_row", "lines"}))
_LEGACY_INDEXES = ("points_series_time", "points_time", "rollup_hour")


def _legacy_version(c: sqlite3.Connection) -> int:
    """1 for a file the first release wrote (its ``points`` table), 0 for one without store tables."""
    return 1 if "points" in dbfile.tables(c) else 0


def _namespace(c: sqlite3.Connection) -> None:
    """v2: adopt the first release's tables under ``store_`` names (rows, ids and the AUTOINCREMENT
    sequence move with them), then create whatever is missing."""
    for old, needs in _LEGACY:
        dbfile.adopt(c, old, PREFIX + old, needs)
    for index in _LEGACY_INDEXES:  # the same indexes are created below under store_ names
        c.execute(f"DROP INDEX IF EXISTS {index}")
    for stmt in dbfile.statements(_DDL):
        c.execute(stmt)


MIGRATIONS = (dbfile.Migration(2, "tables moved into the store_ namespace (the alert store had its own "
                                  "dead_letter table in the same file)", _namespace),)


@dataclass(frozen=True)
class HourlyRow:
    """One series' numeric field over one hour (bools counted as 0/1)."""

    measurement: str
    tags: Mapping[str, str]
    hour_ns: int
    field: str
    count: int
    mean: float
    min: float
    max: float


@dataclass(frozen=True)
class DeadLetter:
    id: int
    created_ns: int
    first_row: int
    last_row: int
    status: int | None
    error: str
    lines: list[str]


def _clean_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Empty tag values are dropped, as line protocol does, so both stores hold the same series."""
    return {k: v for k, v in sorted(tags.items()) if v != ""}


def _clean_fields(fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
    """NaN/inf are dropped, as Point.to_line does: InfluxDB rejects them and SQLite's JSON cannot hold them."""
    return {k: v for k, v in fields.items() if not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))}


def _json_path(field: str) -> str:
    """A JSON path naming one top-level key, quoted so dots and brackets in a field name are taken literally."""
    if '"' in field:
        raise ValueError(f"field name {field!r}: a double quote cannot be read by column")
    return '$."' + field + '"'


def _tags_json(tags: Mapping[str, str]) -> str:
    return json.dumps(tags, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


SeriesKey = tuple[tuple[str, str], ...]


def series_id_key(tags: Mapping[str, str]) -> SeriesKey:
    """The key :meth:`SqliteStore.latest` uses for a series: its sorted tag pairs."""
    return tuple(sorted(tags.items()))


def _is_disk_full(e: sqlite3.OperationalError) -> bool:
    return "full" in str(e).lower()


class SqliteStore(HourlyReads):
    """Thread-safe: one connection guarded by a lock (writes come from the asyncio loop and scheduler threads)."""

    def __init__(
        self, path: str | os.PathLike[str], settings: StoreSettings, forwarding: bool | None = None,
        reserve_bytes: int = 2 * 1_048_576,
    ):
        """``forwarding``: whether raw rows must be forwarded before :meth:`prune` may delete them.

        None means "if a forwarder has ever run against this store" (a cursor exists), so a store used
        without InfluxDB prunes by age alone and one feeding InfluxDB never prunes unsent rows.
        """
        self.path = Path(path)
        self.settings = settings
        self._forwarding = forwarding
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = dbfile.connect(self.path)
        self._series: dict[tuple[str, str], int] = {}
        self._prefixes: dict[int, tuple[str, str, str]] = {}
        self._series_top = 0  # the highest store_series id parsed into _series_cache
        self._series_cache: dict[str, tuple[dict[int, dict[str, str]], dict[str, list[int]]]] = {}
        self._last_disk_log = 0.0
        self._tags_cache: dict[str, dict[str, str]] = {}  # latest_fields: tags JSON text -> parsed
        self.reserve_bytes = reserve_bytes
        try:
            self._init_schema()
        except BaseException:
            self._conn.close()
            raise
        self._make_reserve()

    # -- set-up ------------------------------------------------------------------------------
    def _init_schema(self) -> None:
        with self._lock:
            dbfile.migrate(self._conn, COMPONENT, MIGRATIONS, _legacy_version, str(self.path))
            c = self._conn
            # A 1 MB WAL bound: the reserve file (2 MB) must cover a checkpoint's needs when the disk fills.
            c.execute("PRAGMA wal_autocheckpoint=256")
            c.execute("PRAGMA foreign_keys=OFF")
            for sid, m, tags in c.execute("SELECT id, measurement, tags FROM store_series"):
                self._series[(m, tags)] = sid

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            in_tx = self._conn.in_transaction
            if not in_tx:
                self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if not in_tx and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            else:
                if not in_tx and self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def write(self, points: Sequence[Point]) -> None:
        """All points in one transaction; makes room first when the filesystem is nearly full."""
        if not points:
            return
        with self._lock:
            self._ensure_free_space(len(points))
            try:
                self._insert(points)
            except sqlite3.OperationalError as e:
                if not _is_disk_full(e):
                    raise
                self._log_disk_full(None, str(e))
                self._make_room(max(len(points) * 2, self._row_count() // 10, 1000))
                self._insert(points)  # a second failure propagates: never silently dropped
                self._make_reserve()

    def _insert(self, points: Sequence[Point]) -> None:
        with self._tx() as c:
            rows = []
            for p in points:
                sid = self._series_id(c, p.measurement, _clean_tags(p.tags))
                fields = json.dumps(_clean_fields(p.fields), ensure_ascii=False, separators=(",", ":"))
                rows.append((sid, int(p.time_ns), fields))
            c.executemany("INSERT INTO store_points (series_id, time_ns, fields) VALUES (?, ?, ?)", rows)

    def _series_id(self, c: sqlite3.Connection, measurement: str, tags: dict[str, str]) -> int:
        key = (measurement, _tags_json(tags))
        sid = self._series.get(key)
        if sid is None:
            c.execute("INSERT OR IGNORE INTO store_series (measurement, tags) VALUES (?, ?)", key)
            sid = c.execute("SELECT id FROM store_series WHERE measurement=? AND tags=?", key).fetchone()[0]
            self._series[key] = sid
        return sid

    # -- disk space --------------------------------------------------------------------------
    def free_mb(self) -> float:
        return shutil.disk_usage(self.path.parent).free / 1_048_576

    @property
    def _reserve_path(self) -> Path:
        return Path(f"{self.path}-reserve")

    def _make_reserve(self) -> None:
        """Keep a small file we can delete when the disk is full: SQLite needs a little room even to delete."""
        if self.reserve_bytes <= 0 or self._reserve_path.exists():
            return
        try:
            with self._reserve_path.open("wb") as f:
                f.write(b"\0" * self.reserve_bytes)
        except OSError:
            self._reserve_path.unlink(missing_ok=True)

    def _release_reserve(self) -> None:
        self._reserve_path.unlink(missing_ok=True)

    def _ensure_free_space(self, incoming: int) -> None:
        free = self.free_mb()
        if free >= self.settings.min_free_mb:
            return
        self._log_disk_full(free, None)
        # Delete at least as many rows as arrive so the store stops growing; the newest data is kept.
        self._make_room(max(incoming, 1000))

    def _make_room(self, n: int) -> None:
        try:
            self._free_rows(n)
        except sqlite3.OperationalError as e:
            if not _is_disk_full(e):
                raise
            # Deleting rows itself needs room in the WAL: release the reserve file, checkpoint, try again.
            self._release_reserve()
            self._checkpoint()
            self._free_rows(n)
        self._make_reserve()

    def _log_disk_full(self, free_mb: float | None, error: str | None) -> None:
        now = time.monotonic()
        if now - self._last_disk_log < DISK_LOG_INTERVAL_S:
            return
        self._last_disk_log = now
        log.error(
            "store filesystem nearly full: deleting the oldest raw rows (already forwarded first) to keep new data",
            extra=kv(path=str(self.path), free_mb=None if free_mb is None else round(free_mb, 1),
                     min_free_mb=self.settings.min_free_mb, sqlite_error=error),
        )

    def _free_rows(self, n: int) -> int:
        """Delete the ``n`` oldest raw rows, forwarded ones first, and give the pages back to the filesystem."""
        cursor = self.cursor()
        with self._tx() as c:
            deleted = c.execute(
                "DELETE FROM store_points WHERE id IN (SELECT id FROM store_points WHERE id <= ? ORDER BY id LIMIT ?)",
                (cursor, n),
            ).rowcount
            if deleted < n:
                deleted += c.execute(
                    "DELETE FROM store_points WHERE id IN (SELECT id FROM store_points ORDER BY time_ns LIMIT ?)",
                    (n - deleted,),
                ).rowcount
        self._reclaim()
        log.warning("deleted oldest raw rows to free disk space", extra=kv(rows=deleted, path=str(self.path)))
        return deleted

    def _checkpoint(self) -> None:
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError as e:
            log.warning("WAL checkpoint failed", extra=kv(error=str(e)))

    def _reclaim(self) -> None:
        try:
            self._conn.execute("PRAGMA incremental_vacuum")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError as e:  # reclaiming is best effort; the delete already happened
            log.warning("could not give freed pages back to the filesystem", extra=kv(error=str(e)))

    # -- reading -----------------------------------------------------------------------------
    def _series_index(self, measurement: str) -> tuple[dict[int, dict[str, str]], dict[str, list[int]]]:
        """Every series of ``measurement`` (id -> tags) and their ids by ``ap`` tag, parsed once and extended
        with the series added since (series rows are only ever inserted, so the highest id tells what is new).
        A report over 10,000 APs reads in batches and would otherwise parse 10,000 tag sets per query."""
        top = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM store_series").fetchone()[0]
        if top != self._series_top:
            for sid, m, tj in self._conn.execute("SELECT id, measurement, tags FROM store_series WHERE id > ?",
                                                 (self._series_top,)):
                t = json.loads(tj)
                by_id, by_ap = self._series_cache.setdefault(m, ({}, {}))
                by_id[sid] = t
                by_ap.setdefault(t.get("ap", ""), []).append(sid)
            self._series_top = top
        return self._series_cache.get(measurement, ({}, {}))

    def _matching_series(self, measurement: str, tags: Mapping[str, str] | None,
                         aps: Collection[str] | None = None) -> dict[int, dict[str, str]]:
        """The series of ``measurement`` whose tags include ``tags`` (and whose ``ap`` is in ``aps`` when given),
        in id order; each with its own copy of its tags."""
        want = dict(tags or {})
        by_id, by_ap = self._series_index(measurement)
        if aps is None and "ap" in want:
            aps = (want["ap"],)  # one AP's series from the index, not a pass over the fleet's
        ids = by_id if aps is None else sorted(sid for a in aps for sid in by_ap.get(a, ()))
        out: dict[int, dict[str, str]] = {}
        for sid in ids:
            t = by_id[sid]
            if all(t.get(k, "") == v for k, v in want.items()):
                out[sid] = dict(t)
        return out

    def query(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None
    ) -> list[Point]:
        """PointReader: rows in [start, end), ordered by time then series; same-time rows of one series merge
        (later wins), as InfluxDB overwrites a point written twice."""
        with self._lock:
            series = self._matching_series(measurement, tags)
            if not series:
                return []
            merged: dict[tuple[int, int], dict[str, FieldValue]] = {}
            for sid in series:
                for t, fj in self._conn.execute(
                    "SELECT time_ns, fields FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                    "ORDER BY id",
                    (sid, start_ns, end_ns),
                ):
                    merged.setdefault((t, sid), {}).update(json.loads(fj))
        pts = [Point(measurement, series[sid], f, t) for (t, sid), f in merged.items() if f]
        pts.sort(key=lambda p: (p.time_ns, p.series_key()))
        return pts

    def query_columns(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
        fields: Sequence[str] = (),
    ) -> list[Columns]:
        """What :meth:`query` returns, restricted to ``fields``, as arrays per series (see core.store.columns).

        SQLite extracts the fields from the JSON, so no dict is built per row."""
        if not fields:
            return []
        sel = ", ".join("json_extract(fields, ?)" for _ in fields)
        paths = tuple(_json_path(f) for f in fields)
        out: list[Columns] = []
        with self._lock:
            for sid, t in self._matching_series(measurement, tags).items():
                rows = self._conn.execute(
                    f"SELECT time_ns, {sel} FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                    "ORDER BY time_ns, id",
                    (*paths, sid, start_ns, end_ns),
                ).fetchall()
                c = from_rows(t, rows, fields)
                if c is not None:
                    out.append(c)
        return sorted(out, key=Columns.key)

    def pruned_hours(
        self, measurement: str, field: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
    ) -> list[Columns]:
        """Hours wholly inside [start, end) whose raw rows were pruned, wholly or in part, per series: the hourly
        rollup counts more rows than are left, and some of them held ``field``. Values: the rollup's "count" and
        "sum" of ``field``, which analytics use in place of the raw rows of those hours. (The rollup counts every
        row stored; rows written twice for one time, which ``query`` merges, count twice.)

        Counting raw rows per hour reads only the (series_id, time_ns) index, so this is cheap; it returns
        nothing for a store whose raw rows are all still there."""
        out: list[Columns] = []
        with self._lock:
            for sid, t in self._matching_series(measurement, tags).items():
                roll = self._conn.execute(
                    "SELECT hour_ns, MAX(count), SUM(CASE WHEN field=? THEN count ELSE 0 END), "
                    "SUM(CASE WHEN field=? THEN mean * count ELSE 0 END) FROM store_rollup_hourly "
                    "WHERE series_id=? AND hour_ns>=? AND hour_ns<=? GROUP BY hour_ns ORDER BY hour_ns",
                    (field, field, sid, start_ns, end_ns - HOUR_NS),
                ).fetchall()
                if not roll:
                    continue
                raw = dict(self._conn.execute(
                    "SELECT time_ns / ?, COUNT(*) FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                    "GROUP BY 1", (HOUR_NS, sid, roll[0][0], roll[-1][0] + HOUR_NS),
                ).fetchall())
                gone = [(h, n, x) for h, rows, n, x in roll if n > 0 and rows > raw.get(h // HOUR_NS, 0)]
                if gone:
                    out.append(Columns(t, np.array([h for h, _, _ in gone], dtype=np.int64),
                                       {"count": np.array([n for _, n, _ in gone], dtype=np.float64),
                                        "sum": np.array([x for _, _, x in gone], dtype=np.float64)}))
        return sorted(out, key=Columns.key)

    def latest(self, measurement: str, tags: Mapping[str, str] | None = None) -> dict[SeriesKey, Point]:
        """The newest point of each matching series, keyed by :func:`series_id_key`, for "current state" views."""
        out: dict[SeriesKey, Point] = {}
        with self._lock:
            for sid, t in self._matching_series(measurement, tags).items():
                row = self._conn.execute(
                    "SELECT time_ns, fields FROM store_points WHERE series_id=? ORDER BY time_ns DESC, id DESC LIMIT 1",
                    (sid,),
                ).fetchone()
                if row:
                    out[series_id_key(t)] = Point(measurement, t, json.loads(row[1]), row[0])
        return out

    def latest_fields(self, measurement: str, fields: Sequence[str]) -> list[tuple[dict[str, str], int, list[Any]]]:
        """The newest row of every series of ``measurement`` as (tags, time_ns, values of ``fields``; None where
        absent), in one query: the console's 状況 page reads 1,000 APs this way instead of a query per series.
        The tags dicts are shared between calls: callers must not change them."""
        sel = "".join(", json_extract(p.fields, ?)" for _ in fields)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT s.tags, p.time_ns{sel} FROM store_series s JOIN store_points p ON p.id = "
                "(SELECT id FROM store_points WHERE series_id = s.id ORDER BY time_ns DESC, id DESC LIMIT 1) "
                "WHERE s.measurement = ?", (*(_json_path(f) for f in fields), measurement)).fetchall()
        cache = self._tags_cache  # a series' tags never change: parse each JSON text once (10,000 APs: ~40 ms)
        if len(cache) > 200_000:
            cache.clear()
        out = []
        for r in rows:
            tags = cache.get(r[0])
            if tags is None:
                tags = cache[r[0]] = json.loads(r[0])
            out.append((tags, int(r[1]), list(r[2:])))
        return out

    # -- hourly rollups ----------------------------------------------------------------------
    def rollup(self, now_ns: int) -> int:
        """Job: (re)compute every hour touched by rows written since the last run; returns hours updated.

        Tracking by row id rather than by time means late rows (a buffered collector, an imported file)
        still land in their hour; the current partial hour is recomputed again as rows arrive.
        """
        cutoff = now_ns - self.settings.raw_retention_days * DAY_NS
        with self._tx() as c:
            done = int(self._meta_get("rollup_row", "0"))
            top = c.execute("SELECT COALESCE(MAX(id), 0) FROM store_points").fetchone()[0]
            if top <= done:
                return 0
            touched = c.execute(
                "SELECT DISTINCT series_id, time_ns / ? FROM store_points WHERE id > ? AND id <= ?",
                (HOUR_NS, done, top),
            ).fetchall()
            for sid, hour in touched:
                h0 = hour * HOUR_NS
                if h0 + HOUR_NS > cutoff:
                    # Raw rows of this hour are all still here: recompute it whole.
                    c.execute("DELETE FROM store_rollup_hourly WHERE series_id=? AND hour_ns=?", (sid, h0))
                    self._aggregate_into(c, sid, h0, 0, top)
                else:
                    # The hour may be partly pruned already: fold only the new rows into its aggregate.
                    self._aggregate_into(c, sid, h0, done, top)
            self._meta_set("rollup_row", str(top))
        return len(touched)

    @staticmethod
    def _aggregate_into(c: sqlite3.Connection, sid: int, h0: int, after_id: int, upto_id: int) -> None:
        c.execute(
            """INSERT INTO store_rollup_hourly (series_id, hour_ns, field, count, mean, min, max)
               SELECT p.series_id, ?, j.key, COUNT(*), AVG(j.value), MIN(j.value), MAX(j.value)
               FROM store_points p, json_each(p.fields) j
               WHERE p.series_id=? AND p.time_ns>=? AND p.time_ns<? AND p.id>? AND p.id<=?
                 AND j.type IN ('integer', 'real', 'true', 'false')
               GROUP BY j.key
               ON CONFLICT (series_id, hour_ns, field) DO UPDATE SET
                 mean = (mean * count + excluded.mean * excluded.count) / (count + excluded.count),
                 count = count + excluded.count,
                 min = MIN(min, excluded.min),
                 max = MAX(max, excluded.max)""",
            (h0, sid, h0, h0 + HOUR_NS, after_id, upto_id),
        )

    def query_hourly(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[HourlyRow]:
        """Hourly aggregates with start_ns <= hour < end_ns, ordered by hour, series, field."""
        with self._lock:
            series = self._matching_series(measurement, tags)
            out: list[HourlyRow] = []
            for sid, t in series.items():
                for h, f, n, mean, lo, hi in self._conn.execute(
                    "SELECT hour_ns, field, count, mean, min, max FROM store_rollup_hourly "
                    "WHERE series_id=? AND hour_ns>=? AND hour_ns<?",
                    (sid, start_ns, end_ns),
                ):
                    if fields is None or f in fields:
                        out.append(HourlyRow(measurement, t, h, f, n, mean, lo, hi))
        out.sort(key=lambda r: (r.hour_ns, tuple(sorted(r.tags.items())), r.field))
        return out

    def rollup_totals(self, measurement: str, field: str, start_ns: int, end_ns: int
                      ) -> list[tuple[dict[str, str], float, int]]:
        """(tags, sum, count) of ``field`` per series over the rolled-up hours in [start, end): one grouped
        query, so a fleet's month costs one pass over the rollup index, not a row per hour in Python."""
        with self._lock:
            series = self._matching_series(measurement, None)
            rows = self._conn.execute(
                "SELECT series_id, sum(mean * count), sum(count) FROM store_rollup_hourly "
                "WHERE field=? AND hour_ns>=? AND hour_ns<? GROUP BY series_id", (field, start_ns, end_ns)).fetchall()
        return [(series[sid], float(total), int(n)) for sid, total, n in rows if sid in series and n]

    def hourly_sums_by_ap(self, measurement: str, field: str, start_ns: int, end_ns: int) -> dict[str, float]:
        """Per AP, the sum over rolled-up hours of its hourly mean of ``field`` (clients -> client-hours), the
        AP's series pooled within each hour first (a tag change inside an hour counts the AP once)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT ap, sum(m) FROM (SELECT json_extract(s.tags, '$.ap') AS ap, r.hour_ns, "
                "sum(r.mean * r.count) / sum(r.count) AS m FROM store_rollup_hourly r "
                "JOIN store_series s ON s.id = r.series_id WHERE s.measurement=? AND r.field=? AND r.hour_ns>=? "
                "AND r.hour_ns<? AND r.count > 0 GROUP BY ap, r.hour_ns) WHERE ap IS NOT NULL GROUP BY ap",
                (measurement, field, start_ns, end_ns)).fetchall()
        return {str(ap): float(total) for ap, total in rows if total is not None}

    # -- retention ---------------------------------------------------------------------------
    def forwarding(self) -> bool:
        if self._forwarding is not None:
            return self._forwarding
        return self._meta_get("cursor", None) is not None

    def prune(self, now_ns: int) -> tuple[int, int]:
        """Job: delete raw rows past raw_retention_days (only forwarded ones when forwarding) and rollups past
        retention_days. Rolls up first so no hour loses its aggregate. Returns (raw rows, rollup rows) deleted."""
        self.rollup(now_ns)
        raw_cut = now_ns - self.settings.raw_retention_days * DAY_NS
        roll_cut = now_ns - self.settings.retention_days * DAY_NS
        with self._tx() as c:
            if self.forwarding():
                raw = c.execute("DELETE FROM store_points WHERE time_ns < ? AND id <= ?",
                                (raw_cut, self.cursor())).rowcount
            else:
                raw = c.execute("DELETE FROM store_points WHERE time_ns < ?", (raw_cut,)).rowcount
            rolled = c.execute("DELETE FROM store_rollup_hourly WHERE hour_ns < ?", (roll_cut,)).rowcount
        if raw or rolled:
            self._reclaim()
            log.info("pruned store", extra=kv(raw_rows=raw, rollup_rows=rolled))
        return raw, rolled

    # -- forwarding support ------------------------------------------------------------------
    def _meta_get(self, key: str, default: Any) -> Any:
        row = self._conn.execute("SELECT value FROM store_meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def _meta_set(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)", (key, value))

    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            return self._meta_get(key, default)

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self._meta_set(key, value)

    def cursor(self) -> int:
        """Highest row id InfluxDB has acknowledged (or dead-lettered)."""
        with self._lock:
            return int(self._meta_get("cursor", "0"))

    def set_cursor(self, row_id: int) -> None:
        """Never moves back: a second forwarder (``store forward --once`` beside the daemon) can only re-send."""
        with self._tx():
            self._meta_set("cursor", str(max(row_id, int(self._meta_get("cursor", "0")))))

    def rows_after(self, cursor: int, limit: int) -> list[tuple[int, Point]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.id, s.measurement, s.tags, p.time_ns, p.fields FROM store_points p JOIN store_series s "
                "ON s.id = p.series_id WHERE p.id > ? ORDER BY p.id LIMIT ?",
                (cursor, limit),
            ).fetchall()
        return [(rid, Point(m, json.loads(tj), json.loads(fj), t)) for rid, m, tj, t, fj in rows]

    def lines_after(self, cursor: int, limit: int) -> list[tuple[int, str]]:
        """Rows after ``cursor`` as (row id, line protocol), oldest first; rows without fields are skipped.

        Point.to_line stays the one place that escapes; the measurement+tags prefix is cached per series
        because escaping tags is most of the cost of forwarding.
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, series_id, time_ns, fields FROM store_points WHERE id > ? ORDER BY id LIMIT ?",
                (cursor, limit),
            ).fetchall()
            out: list[tuple[int, str]] = []
            for rid, sid, t, fj in rows:
                pre = self._prefixes.get(sid)
                if pre is None:
                    m, tj = self._conn.execute("SELECT measurement, tags FROM store_series WHERE id=?",
                                               (sid,)).fetchone()
                    bare = Point(m, {}, {}, 0).to_line()[:-3]
                    pre = self._prefixes[sid] = (m, bare, Point(m, json.loads(tj), {}, 0).to_line()[:-3])
                m, bare, prefix = pre
                fields = json.loads(fj)
                if fields:
                    out.append((rid, prefix + Point(m, {}, fields, t).to_line()[len(bare):]))
            if not out and rows:
                out.append((rows[-1][0], ""))  # only field-less rows: still let the cursor move past them
        return out

    def backlog(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM store_points WHERE id > ?", (self.cursor(),)).fetchone()[0]

    def dead_letter(
        self, first_row: int, last_row: int, status: int | None, error: str, lines: Sequence[str],
        advance_cursor: bool = False,
    ) -> None:
        """Park refused lines; with ``advance_cursor`` the cursor moves past them in the same transaction."""
        with self._tx() as c:
            if advance_cursor:
                self._meta_set("cursor", str(max(last_row, self.cursor())))
            c.execute(
                "INSERT INTO store_dead_letter (created_ns, first_row, last_row, status, error, lines) "
                "VALUES (?,?,?,?,?,?)",
                (time.time_ns(), first_row, last_row, status, error, "\n".join(lines)),
            )

    def dead_letters(self, limit: int = 100, ids: Sequence[int] | None = None) -> list[DeadLetter]:
        """Newest first; ``ids`` selects particular batches."""
        with self._lock:
            if ids is not None:
                marks = ",".join("?" * len(ids))
                rows = self._conn.execute(
                    "SELECT id, created_ns, first_row, last_row, status, error, lines FROM store_dead_letter "
                    f"WHERE id IN ({marks}) ORDER BY id DESC", tuple(ids),
                ).fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT id, created_ns, first_row, last_row, status, error, lines FROM store_dead_letter "
                    "ORDER BY id DESC LIMIT ?",
                    (limit,),
                ).fetchall()
        return [DeadLetter(i, c, f, la, s, e, ln.split("\n")) for i, c, f, la, s, e, ln in rows]

    def delete_dead_letter(self, dl_id: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM store_dead_letter WHERE id=?", (dl_id,))

    def dead_letter_count(self) -> tuple[int, int]:
        """(batches, lines) held in the dead-letter table."""
        with self._lock:
            b, n = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(lines) - LENGTH(REPLACE(lines, char(10), '')) + 1), 0) "
                "FROM store_dead_letter"
            ).fetchone()
        return int(b), int(n)

    # -- status ------------------------------------------------------------------------------
    def _row_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM store_points").fetchone()[0]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            c = self._conn
            rows = self._row_count()
            oldest, newest = c.execute("SELECT MIN(time_ns), MAX(time_ns) FROM store_points").fetchone()
            page = c.execute("PRAGMA page_size").fetchone()[0] * c.execute("PRAGMA page_count").fetchone()[0]
            wal = Path(f"{self.path}-wal")
            dl_batches, dl_lines = self.dead_letter_count()
            return {
                "path": str(self.path),
                "rows": rows,
                "series": c.execute("SELECT COUNT(*) FROM store_series").fetchone()[0],
                "rollup_rows": c.execute("SELECT COUNT(*) FROM store_rollup_hourly").fetchone()[0],
                "bytes": page + (wal.stat().st_size if wal.exists() else 0),
                "oldest_ns": oldest,
                "newest_ns": newest,
                "cursor": self.cursor(),
                "forwarding": self.forwarding(),  # False: no forwarder ever ran, so "backlog" is everything
                "backlog": self.backlog(),
                "dead_letter_batches": dl_batches,
                "dead_letter_lines": dl_lines,
                "last_error": self._meta_get("last_error", None),
                "last_forward_ok_ns": self._meta_get("last_ok_ns", None),
                "free_mb": round(self.free_mb(), 1),
            }
