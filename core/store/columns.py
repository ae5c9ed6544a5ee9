"""Column reads for analytics: a few numeric fields of a measurement as arrays, one entry per series.

``PointReader.query`` builds a :class:`~core.schema.Point` (a dict of fields) per row, which for a month of
1-minute samples costs far more than the arithmetic done on it. Both stores also answer these narrower reads,
with the same semantics as ``query`` (rows in [start, end), same-time rows of one series merged with the
later value winning, booleans as 0/1), so analytics give the same numbers from either store:

``query_columns``: the raw rows of a few fields, as int64 ns times and float64 values (NaN = absent).

The embedded store also answers ``pruned_hours``: the hours whose raw rows it has pruned, with the hourly
rollup's count and sum of a field, so figures over older periods can use the rollups where raw rows are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.schema import Point


@dataclass(frozen=True)
class Columns:
    """One series: ``time_ns`` ascending and unique; ``values[field]`` float64 aligned with it, NaN if absent."""

    tags: dict[str, str]
    time_ns: npt.NDArray[np.int64]
    values: dict[str, npt.NDArray[np.float64]]

    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.tags.items()))


def from_rows(tags: dict[str, str], rows: Sequence[Sequence[object]], fields: Sequence[str]) -> Columns | None:
    """Columns from (time_ns, value...) rows ordered by time (and write order within a time); None if empty.

    Same-time rows merge field by field, the later present value winning; rows with no field present are left out.
    """
    if not rows:
        return None
    t = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))  # type: ignore[call-overload]
    v = np.array(rows, dtype=np.float64).reshape(len(rows), len(fields) + 1)[:, 1:]  # no slice per row
    if len(t) > 1 and bool(np.any(t[1:] == t[:-1])):
        t, v = _merge_same_time(t, v)
    keep = ~np.all(np.isnan(v), axis=1)
    if not keep.all():
        t, v = t[keep], v[keep]
    if not len(t):
        return None
    return Columns(tags, t, {f: np.ascontiguousarray(v[:, i]) for i, f in enumerate(fields)})


def _merge_same_time(t: npt.NDArray[np.int64], v: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64],
                                                                                    npt.NDArray[np.float64]]:
    out_t: list[int] = []
    out_v: list[npt.NDArray[np.float64]] = []
    for i in range(len(t)):
        if out_t and out_t[-1] == t[i]:
            row = v[i]
            prev = out_v[-1]
            out_v[-1] = np.where(np.isnan(row), prev, row)
        else:
            out_t.append(int(t[i]))
            out_v.append(v[i])
    return np.array(out_t, dtype=np.int64), np.array(out_v, dtype=np.float64).reshape(len(out_t), v.shape[1])


def series_columns(chunks: Iterable[tuple[Mapping[str, str], Sequence[Sequence[object]]]],
                   fields: Sequence[str]) -> list[Columns]:
    """Columns per series from (tags, rows) chunks in time order; chunks of one series (a reader may split a
    series across answers) are joined first. Sorted by tags, so every reader returns series in one order."""
    by_series: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[Sequence[object]]]] = {}
    for tags, rows in chunks:
        by_series.setdefault(tuple(sorted(tags.items())), (dict(tags), []))[1].extend(rows)
    out = [c for tags, rows in by_series.values() if (c := from_rows(tags, rows, fields)) is not None]
    return sorted(out, key=Columns.key)


def columns_from_points(points: Sequence[Point], fields: Sequence[str]) -> list[Columns]:
    """The same columns from ``PointReader.query`` output (for readers without ``query_columns``)."""
    def row(p: Point) -> list[object]:
        return [p.time_ns, *(None if (x := p.fields.get(f)) is None or isinstance(x, str) else float(x)
                             for f in fields)]

    return series_columns(((p.tags, [row(p)]) for p in points), fields)
