"""Hourly reads of the embedded store for reports at fleet scale (see core.store.columns for the contract).

A month of 1-minute samples is 44,640 rows per AP and measurement; a report over 1,000 APs cannot parse them all
in Python within a minute. The hourly rollup the daemon keeps (``store_rollup_hourly``: count, mean, min, max per
series, hour and numeric field) already holds what reports need, so these reads answer from it, and aggregate in
SQL only the rows written since the rollup job last ran (``rollup_row``). Raw rows are read only where a report
needs single samples: the times a boolean was false (outages) and the count of samples above a threshold
(capacity), both only within the hours whose rollup says there is something to find.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from core.store.columns import Columns

HOUR_NS = 3_600_000_000_000
FETCH_ROWS = 65_536


def _path(field: str) -> str:
    if '"' in field:
        raise ValueError(f"field name {field!r}: a double quote cannot be read by column")
    return '$."' + field + '"'


def _chunks(ids: list[int], n: int = 900) -> list[list[int]]:
    """Series ids in groups that stay under SQLite's limit on bound parameters."""
    return [ids[i:i + n] for i in range(0, len(ids), n)]


class HourlyReads:
    """Mixed into SqliteStore: needs ``_conn``, ``_lock``, ``_matching_series`` and the ``store_meta`` table."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

    def _matching_series(self, measurement: str, tags: Mapping[str, str] | None,
                         aps: Collection[str] | None = None) -> dict[int, dict[str, str]]:
        raise NotImplementedError

    def _series_for(self, measurement: str, tags: Mapping[str, str] | None,
                    aps: Collection[str] | None) -> dict[int, dict[str, str]]:
        """The series matching ``tags``, and of the APs ``aps`` only when given (a report reads the fleet in
        batches of APs, so its memory does not grow with the fleet)."""
        return self._matching_series(measurement, tags, aps)

    def _rolled_upto(self) -> tuple[int, int | None]:
        """(last row id folded into the rollup, the earliest time of a row written after it or None)."""
        row = self._conn.execute("SELECT value FROM store_meta WHERE key='rollup_row'").fetchone()
        done = int(row[0]) if row else 0
        # time_ns + 0: without it SQLite answers MIN() from the time index, walking every raw row's entry for one
        # with id > done (0.9 s per call on 5 M rows, and none found); this reads the id range, usually empty
        first = self._conn.execute("SELECT MIN(time_ns + 0) FROM store_points WHERE id > ?", (done,)).fetchone()[0]
        return done, first

    def hourly_columns(self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
                       fields: Sequence[str] = (), aps: Collection[str] | None = None) -> list[Columns]:
        """Per series and hour in [start, end) (whole hours): ``<field>:n`` samples holding the field, ``:sum`` and
        ``:max`` (booleans as 0/1). From the rollup (one query per field for every matching series, straight into
        arrays), plus the rows written since the rollup job last ran."""
        with self._lock:
            series = self._series_for(measurement, tags, aps)
            if not series or not fields:
                return []
            done, tail_from = self._rolled_upto()
            ids = sorted(series)
            per: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {sid: {} for sid in ids}
            for f in fields:
                # fetched in blocks straight into arrays: a row tuple costs ~200 bytes, an array row 40
                blocks: list[np.ndarray] = []
                for chunk in _chunks(ids):
                    cur = self._conn.execute(
                        f"SELECT series_id, hour_ns, count, mean * count, max FROM store_rollup_hourly WHERE series_id "
                        f"IN ({','.join('?' * len(chunk))}) AND field=? AND hour_ns>=? AND hour_ns<? "
                        "ORDER BY series_id, hour_ns", (*chunk, f, start_ns, end_ns))
                    while fetched := cur.fetchmany(FETCH_ROWS):
                        blocks.append(np.array(fetched, dtype=np.float64).reshape(len(fetched), 5))
                if not blocks:
                    continue
                arr = np.concatenate(blocks)
                del blocks
                sids, first = np.unique(arr[:, 0], return_index=True)
                for sid, part in zip(sids.astype(np.int64).tolist(), np.split(arr, first[1:]), strict=True):
                    per[sid][f] = (part[:, 1].astype(np.int64), part[:, 2:5])
            if tail_from is not None and tail_from < end_ns:
                self._add_tail(per, ids, fields, max(start_ns, tail_from), end_ns, done)
            out: list[Columns] = []
            for sid in ids:
                got = per[sid]
                if not got:
                    continue
                hours = np.unique(np.concatenate([h for h, _ in got.values()]))
                vals: dict[str, np.ndarray] = {}
                for f in fields:
                    block = np.zeros((len(hours), 3))
                    block[:, 2] = np.nan
                    if f in got:
                        h, v = got[f]
                        block[np.searchsorted(hours, h)] = v
                    vals[f"{f}:n"], vals[f"{f}:sum"], vals[f"{f}:max"] = block[:, 0], block[:, 1], block[:, 2]
                out.append(Columns(series[sid], hours, vals))
        return sorted(out, key=Columns.key)

    def _add_tail(self, per: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]], ids: list[int],
                  fields: Sequence[str], a: int, b: int, done: int) -> None:
        """Fold the rows written since the last rollup (id > ``done``) into the hourly arrays."""
        sel = ", ".join("COUNT(json_extract(fields, ?)), SUM(json_extract(fields, ?)), MAX(json_extract(fields, ?))"
                        for _ in fields)
        args: list[Any] = [x for f in fields for x in (_path(f),) * 3]
        for sid in ids:
            rows = self._conn.execute(
                f"SELECT time_ns / {HOUR_NS} * {HOUR_NS} AS h, {sel} FROM store_points WHERE series_id=? "
                "AND time_ns>=? AND time_ns<? AND id>? GROUP BY h", (*args, sid, a, b, done)).fetchall()
            for i, f in enumerate(fields):
                new = [(int(r[0]), float(r[1 + 3 * i]), float(r[2 + 3 * i] or 0.0), float(r[3 + 3 * i]))
                       for r in rows if r[1 + 3 * i]]
                if not new:
                    continue
                acc: dict[int, list[float]] = {}
                if f in per[sid]:
                    h0, v0 = per[sid][f]
                    acc = {int(h): [float(x) for x in v] for h, v in zip(h0.tolist(), v0, strict=True)}
                for h, n, sm, mx in new:
                    cur = acc.get(h)
                    acc[h] = [n, sm, mx] if cur is None else [cur[0] + n, cur[1] + sm, max(cur[2], mx)]
                hs = sorted(acc)
                per[sid][f] = (np.array(hs, dtype=np.int64),
                               np.array([acc[h] for h in hs], dtype=np.float64).reshape(len(hs), 3))

    def _spans_where(self, ids: list[int], field: str, start_ns: int, end_ns: int,
                     cond: str) -> dict[int, list[tuple[int, int]]]:
        """Per series: time ranges to read raw rows in: the rolled-up hours matching ``cond``, and the tail."""
        done, tail_from = self._rolled_upto()
        hours: dict[int, list[int]] = {sid: [] for sid in ids}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for sid, h in self._conn.execute(
                    f"SELECT series_id, hour_ns FROM store_rollup_hourly WHERE series_id IN ({marks})"
                    f" AND field=? AND hour_ns>=? AND hour_ns<? AND {cond} ORDER BY series_id, hour_ns",
                    (*chunk, field, start_ns - HOUR_NS, end_ns)):
                hours[sid].append(h)
        out: dict[int, list[tuple[int, int]]] = {}
        for sid in ids:
            spans = [(max(h, start_ns), min(h + HOUR_NS, end_ns)) for h in hours[sid]]
            if tail_from is not None and tail_from < end_ns:
                spans.append((max(start_ns, tail_from), end_ns))
            merged: list[tuple[int, int]] = []
            for a, b in sorted(x for x in spans if x[1] > x[0]):
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            out[sid] = merged
        return out

    def false_times(self, measurement: str, field: str, start_ns: int, end_ns: int,
                    tags: Mapping[str, str] | None = None, aps: Collection[str] | None = None) -> list[Columns]:
        """Per series, the times in [start, end) at which boolean ``field`` was false (values: ``field`` = 0)."""
        out: list[Columns] = []
        with self._lock:
            series = self._series_for(measurement, tags, aps)
            spans = self._spans_where(sorted(series), field, start_ns, end_ns, "min = 0") if series else {}
            for sid, t in series.items():
                times: list[int] = []
                for a, b in spans[sid]:
                    times += [r[0] for r in self._conn.execute(
                        "SELECT DISTINCT time_ns FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                        "AND json_extract(fields, ?) = 0 ORDER BY time_ns", (sid, a, b, _path(field)))]
                if times:
                    arr = np.array(sorted(set(times)), dtype=np.int64)
                    out.append(Columns(t, arr, {field: np.zeros(len(arr))}))
        return sorted(out, key=Columns.key)

    def count_over(self, measurement: str, field: str, threshold: float, start_ns: int, end_ns: int,
                   tags: Mapping[str, str] | None = None,
                   aps: Collection[str] | None = None) -> list[tuple[dict[str, str], int]]:
        """Per series, the number of rows in [start, end) whose ``field`` exceeds ``threshold``: read raw only in
        the hours whose rollup maximum exceeds it. Hours whose raw rows were pruned count what is left."""
        out: list[tuple[dict[str, str], int]] = []
        with self._lock:
            series = self._series_for(measurement, tags, aps)
            spans = self._spans_where(sorted(series), field, start_ns, end_ns,
                                      f"max > {float(threshold)!r}") if series else {}
            for sid, t in series.items():
                n = 0
                for a, b in spans[sid]:
                    n += self._conn.execute(
                        "SELECT COUNT(*) FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                        "AND json_extract(fields, ?) > ?", (sid, a, b, _path(field), threshold)).fetchone()[0]
                out.append((t, n))
        return sorted(out, key=lambda x: sorted(x[0].items()))
