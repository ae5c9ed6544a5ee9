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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.store.columns import Columns

HOUR_NS = 3_600_000_000_000


def _path(field: str) -> str:
    if '"' in field:
        raise ValueError(f"field name {field!r}: a double quote cannot be read by column")
    return '$."' + field + '"'


class HourlyReads:
    """Mixed into SqliteStore: needs ``_conn``, ``_lock``, ``_matching_series`` and the ``store_meta`` table."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

    def _matching_series(self, measurement: str, tags: Mapping[str, str] | None) -> dict[int, dict[str, str]]:
        raise NotImplementedError

    def _rolled_upto(self) -> tuple[int, int | None]:
        """(last row id folded into the rollup, the earliest time of a row written after it or None)."""
        row = self._conn.execute("SELECT value FROM store_meta WHERE key='rollup_row'").fetchone()
        done = int(row[0]) if row else 0
        first = self._conn.execute("SELECT MIN(time_ns) FROM store_points WHERE id > ?", (done,)).fetchone()[0]
        return done, first

    def hourly_columns(self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
                       fields: Sequence[str] = ()) -> list[Columns]:
        """Per series and hour in [start, end) (whole hours): ``<field>:n`` samples holding the field, ``:sum`` and
        ``:max`` (booleans as 0/1). From the rollup, plus the rows written since the rollup job last ran."""
        out: list[Columns] = []
        with self._lock:
            done, tail_from = self._rolled_upto()
            for sid, t in self._matching_series(measurement, tags).items():
                acc: dict[int, dict[str, list[float]]] = {}
                for h, f, n, mean, hi in self._conn.execute(
                    "SELECT hour_ns, field, count, mean, max FROM store_rollup_hourly WHERE series_id=? AND "
                    f"hour_ns>=? AND hour_ns<? AND field IN ({','.join('?' * len(fields))})",
                    (sid, start_ns, end_ns, *fields),
                ):
                    acc.setdefault(h, {})[f] = [float(n), float(mean) * n, float(hi)]
                if tail_from is not None and tail_from < end_ns:
                    sel = ", ".join("COUNT(json_extract(fields, ?)), SUM(json_extract(fields, ?)), "
                                    "MAX(json_extract(fields, ?))" for _ in fields)
                    args: list[Any] = [x for f in fields for x in (_path(f),) * 3]
                    for row in self._conn.execute(
                        f"SELECT time_ns / {HOUR_NS} * {HOUR_NS} AS h, {sel} FROM store_points WHERE series_id=? "
                        "AND time_ns>=? AND time_ns<? AND id>? GROUP BY h",
                        (*args, sid, max(start_ns, tail_from), end_ns, done),
                    ):
                        h = int(row[0])
                        for i, f in enumerate(fields):
                            n, s, hi = row[1 + 3 * i: 4 + 3 * i]
                            if not n:
                                continue
                            cur = acc.setdefault(h, {}).get(f)
                            if cur is None:
                                acc[h][f] = [float(n), float(s), float(hi)]
                            else:
                                acc[h][f] = [cur[0] + n, cur[1] + s, max(cur[2], float(hi))]
                if not acc:
                    continue
                hours = sorted(acc)
                vals: dict[str, np.ndarray] = {}
                for f in fields:
                    cells = [acc[h].get(f, [0.0, 0.0, np.nan]) for h in hours]
                    arr = np.array(cells, dtype=np.float64).reshape(len(hours), 3)
                    vals[f"{f}:n"], vals[f"{f}:sum"], vals[f"{f}:max"] = arr[:, 0], arr[:, 1], arr[:, 2]
                out.append(Columns(t, np.array(hours, dtype=np.int64), vals))
        return sorted(out, key=Columns.key)

    def _hours_where(self, sid: int, field: str, start_ns: int, end_ns: int, cond: str) -> list[int]:
        return [h for (h,) in self._conn.execute(
            f"SELECT hour_ns FROM store_rollup_hourly WHERE series_id=? AND field=? AND hour_ns>=? AND hour_ns<? "
            f"AND {cond} ORDER BY hour_ns", (sid, field, start_ns, end_ns))]

    def _ranges(self, sid: int, field: str, start_ns: int, end_ns: int, cond: str) -> list[tuple[int, int]]:
        """Time ranges to read raw rows in: the rolled-up hours matching ``cond`` and the not yet rolled tail."""
        done, tail_from = self._rolled_upto()
        spans = [(max(h, start_ns), min(h + HOUR_NS, end_ns)) for h in self._hours_where(sid, field, start_ns - HOUR_NS,
                                                                                         end_ns, cond)]
        if tail_from is not None and tail_from < end_ns:
            spans.append((max(start_ns, tail_from), end_ns))
        merged: list[tuple[int, int]] = []
        for a, b in sorted(s for s in spans if s[1] > s[0]):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def false_times(self, measurement: str, field: str, start_ns: int, end_ns: int,
                    tags: Mapping[str, str] | None = None) -> list[Columns]:
        """Per series, the times in [start, end) at which boolean ``field`` was false (values: ``field`` = 0)."""
        out: list[Columns] = []
        with self._lock:
            for sid, t in self._matching_series(measurement, tags).items():
                times: list[int] = []
                for a, b in self._ranges(sid, field, start_ns, end_ns, "min = 0"):
                    times += [r[0] for r in self._conn.execute(
                        "SELECT DISTINCT time_ns FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                        "AND json_extract(fields, ?) = 0 ORDER BY time_ns", (sid, a, b, _path(field)))]
                if times:
                    arr = np.array(sorted(set(times)), dtype=np.int64)
                    out.append(Columns(t, arr, {field: np.zeros(len(arr))}))
        return sorted(out, key=Columns.key)

    def count_over(self, measurement: str, field: str, threshold: float, start_ns: int, end_ns: int,
                   tags: Mapping[str, str] | None = None) -> list[tuple[dict[str, str], int]]:
        """Per series, the number of rows in [start, end) whose ``field`` exceeds ``threshold``: read raw only in
        the hours whose rollup maximum exceeds it. Hours whose raw rows were pruned count what is left."""
        out: list[tuple[dict[str, str], int]] = []
        with self._lock:
            for sid, t in self._matching_series(measurement, tags).items():
                n = 0
                for a, b in self._ranges(sid, field, start_ns, end_ns, f"max > {float(threshold)!r}"):
                    n += self._conn.execute(
                        "SELECT COUNT(*) FROM store_points WHERE series_id=? AND time_ns>=? AND time_ns<? "
                        "AND json_extract(fields, ?) > ?", (sid, a, b, _path(field), threshold)).fetchone()[0]
                out.append((t, n))
        return sorted(out, key=lambda x: sorted(x[0].items()))
