"""PointReader over InfluxQL (/query), which InfluxDB 1.x, 2.x (DBRP mapping) and 3.x all serve.

InfluxQL's JSON loses field types (1.0 comes back as 1) and returns every field of the measurement,
null where a point lacks it; we ask SHOW FIELD KEYS for the types and drop nulls, so the Points equal
what :meth:`SqliteStore.query` returns for the same data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from core.schema import FieldValue, Point
from core.store.columns import Columns, series_columns

ROLLUP_SUFFIX = "_1h"  # "<measurement>_1h": the hourly rollup the continuous queries keep (create_rollups)
ROLLUP_MEASUREMENTS = ("ap_ping", "ap_status", "ap_traffic")


class InfluxQLError(Exception):
    """The query failed; the message names the server and the reason (never credentials)."""


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cast(kind: str, v: Any) -> FieldValue:
    if kind == "integer" or kind == "unsigned":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "boolean":
        return bool(v)
    return str(v)


class InfluxQLReader:
    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 30.0,
        verify_tls: bool = True,
        chunk_size: int = 10000,
    ):
        self.url = url.rstrip("/")
        self.database = database
        self.chunk_size = chunk_size
        headers: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username is not None:
            auth = httpx.BasicAuth(username, password or "")
        self._client = httpx.Client(timeout=timeout_s, verify=verify_tls, headers=headers, auth=auth)
        self._hourly_memo: dict[tuple[Any, ...], list[Columns]] = {}

    def close(self) -> None:
        self._client.close()

    def raw(self, q: str) -> list[dict[str, Any]]:
        """Run ``q`` (chunked, epoch=ns); returns the series of every statement's result, merged in order."""
        return list(self.iter_raw(q))

    def iter_raw(self, q: str) -> Iterator[dict[str, Any]]:
        """The series of ``q``'s results as influxd streams its chunks, so a large answer (a month's rollup of a
        fleet: hundreds of thousands of rows) is never held as one text."""
        params = {"db": self.database, "q": q, "epoch": "ns", "chunked": "true", "chunk_size": str(self.chunk_size)}
        try:
            with self._client.stream("POST", f"{self.url}/query", data=params) as r:
                if r.status_code >= 300:
                    text = r.read().decode("utf-8", "replace")
                    raise InfluxQLError(f"InfluxDB at {self.url} answered {r.status_code} to a query: "
                                        f"{text.strip()[:300]}")
                buf = ""
                for piece in r.iter_text():
                    buf += piece
                    *lines, buf = buf.split("\n")  # not splitlines: \x85 or \u2028 may sit inside a JSON string
                    for line in lines:
                        yield from self._series_of(line)
                yield from self._series_of(buf)
        except httpx.HTTPError as e:
            raise InfluxQLError(f"InfluxDB unreachable at {self.url}: {e}") from None

    def _series_of(self, line: str) -> Iterator[dict[str, Any]]:
        if not line.strip():
            return
        doc = json.loads(line)
        if "error" in doc:
            raise InfluxQLError(f"InfluxDB at {self.url}: {doc['error']}")
        for res in doc.get("results", []):
            if "error" in res:
                raise InfluxQLError(f"InfluxDB at {self.url}, database '{self.database}': {res['error']}")
            yield from res.get("series", [])

    def field_types(self, measurement: str) -> dict[str, str]:
        types: dict[str, str] = {}
        for s in self.raw(f"SHOW FIELD KEYS FROM {quote_ident(measurement)}"):
            for key, kind in s.get("values", []):
                types[key] = kind
        return types

    def query(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None
    ) -> list[Point]:
        types = self.field_types(measurement)
        if not types:
            return []
        where = [f"time >= {int(start_ns)}", f"time < {int(end_ns)}"]
        where += [f"{quote_ident(k)} = {quote_str(v)}" for k, v in sorted((tags or {}).items())]
        fields = ", ".join(quote_ident(f) for f in sorted(types))
        q = f"SELECT {fields} FROM {quote_ident(measurement)} WHERE {' AND '.join(where)} GROUP BY *"
        out: list[Point] = []
        for s in self.raw(q):
            stags = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
            cols = s["columns"]
            for row in s.get("values", []):
                t = int(row[0])
                f = {c: _cast(types.get(c, "string"), v) for c, v in zip(cols[1:], row[1:], strict=True)
                     if v is not None}
                if f:
                    out.append(Point(measurement, stags, f, t))
        out.sort(key=lambda p: (p.time_ns, p.series_key()))
        return out

    def _where(self, start_ns: int, end_ns: int, tags: Mapping[str, str] | None,
               aps: Collection[str] | None = None) -> str:
        where = [f"time >= {int(start_ns)}", f"time < {int(end_ns)}"]
        where += [f"{quote_ident(k)} = {quote_str(v)}" for k, v in sorted((tags or {}).items())]
        if aps is not None:  # a batch of APs (analytics reads a large fleet batch by batch)
            alts = "|".join(re.escape(a).replace("/", "\\/") for a in sorted(aps)) or "(?!)"
            where.append(f'"ap" =~ /^(?:{alts})$/')
        return " AND ".join(where)

    def _by_series(self, q: str, names: list[str]) -> list[Columns]:
        """Run ``q`` (GROUP BY ... *) and gather each series' rows, which chunking may split, into Columns."""
        return series_columns((({k: v for k, v in (s.get("tags") or {}).items() if v != ""}, s.get("values", []))
                               for s in self.raw(q)), names)

    def query_columns(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
        fields: Sequence[str] = (),
    ) -> list[Columns]:
        """What :meth:`query` returns, restricted to ``fields``, as arrays per series (see core.store.columns).

        Only the fields asked for cross the wire; influxd leaves out rows where all of them are null."""
        if not fields:
            return []
        sel = ", ".join(quote_ident(f) for f in fields)
        q = f"SELECT {sel} FROM {quote_ident(measurement)} WHERE {self._where(start_ns, end_ns, tags)} GROUP BY *"
        return self._by_series(q, list(fields))

    # -- hourly reads for reports at fleet scale (see core.store.sqlite_hourly for the contract) -----------
    # influxd scans about half a million points a second per query here, so GROUP BY time(1h) over a month of
    # 1,000 APs (44.6 M points a measurement) takes minutes. As with the embedded store's hourly rollup, the
    # aggregation is done once, as the data arrives: continuous queries (:meth:`create_rollups`) write per series
    # and hour the count, sum and max of each field into "<measurement>_1h"; reports read those (744 rows per
    # series and month), aggregate only the hours not yet rolled up from raw points, and read raw points only
    # within the hours a rollup says hold a failed ping or a count above capacity.
    def _rollup_fields(self, measurement: str) -> dict[str, str]:
        return self.field_types(measurement + ROLLUP_SUFFIX)

    def rollup_statements(self, measurement: str, start_ns: int | None = None,
                          end_ns: int | None = None) -> list[str]:
        """SELECT ... INTO statements computing ``measurement``'s hourly rollup (for a time range: a back-fill)."""
        types = self.field_types(measurement)
        nums = [f for f, k in sorted(types.items()) if k in ("float", "integer", "unsigned")]
        bools = [f for f, k in sorted(types.items()) if k == "boolean"]
        src, dst = quote_ident(measurement), quote_ident(measurement + ROLLUP_SUFFIX)
        where = "" if start_ns is None or end_ns is None else f" WHERE time >= {int(start_ns)} AND time < {int(end_ns)}"
        out = []
        if nums:
            sel = ", ".join(f"count({quote_ident(f)}) AS {quote_ident(f + '__n')}, sum({quote_ident(f)}) AS "
                            f"{quote_ident(f + '__sum')}, max({quote_ident(f)}) AS {quote_ident(f + '__max')}"
                            for f in nums)
            out.append(f"SELECT {sel} INTO {dst} FROM {src}{where} GROUP BY time(1h), *")
        for f in bools:
            qf = quote_ident(f)
            out.append(f"SELECT count({qf}) AS {quote_ident(f + '__n')} INTO {dst} FROM {src}{where} "
                       "GROUP BY time(1h), *")
            cond = f"{qf} = true" if not where else f"{where.removeprefix(' WHERE ')} AND {qf} = true"
            out.append(f"SELECT count({qf}) AS {quote_ident(f + '__sum')} INTO {dst} FROM {src} WHERE {cond} "
                       "GROUP BY time(1h), *")
        return out

    def create_rollups(self, measurements: Sequence[str] = ROLLUP_MEASUREMENTS) -> list[str]:
        """One continuous query per rollup statement (recomputing the last 6 hours every hour, so points that
        arrive late, from the forwarder's backlog after an outage of up to 6 hours, are counted); returns their
        names. Existing ones are replaced."""
        names = []
        for m in measurements:
            for k, stmt in enumerate(self.rollup_statements(m)):
                name = f"wifiwatch_{m}_1h_{k}"
                self.raw(f"DROP CONTINUOUS QUERY {quote_ident(name)} ON {quote_ident(self.database)}")
                self.raw(f"CREATE CONTINUOUS QUERY {quote_ident(name)} ON {quote_ident(self.database)} "
                         f"RESAMPLE EVERY 1h FOR 6h BEGIN {stmt} END")
                names.append(name)
        return names

    def backfill_rollups(self, start_ns: int, end_ns: int,
                         measurements: Sequence[str] = ROLLUP_MEASUREMENTS) -> None:
        """What the continuous queries would have written for [start, end): for data loaded before they existed,
        or after an outage longer than their 6-hour window."""
        for m in measurements:
            for stmt in self.rollup_statements(m, start_ns, end_ns):
                self.raw(stmt)

    def _rolled_until(self, measurement: str, fields: Sequence[str]) -> int | None:
        """End of the last hour the rollup holds (None: no rollup)."""
        have = self._rollup_fields(measurement)
        f = next((x + "__n" for x in fields if x + "__n" in have), None)
        if f is None:
            return None
        s = self.raw(f"SELECT last({quote_ident(f)}) FROM {quote_ident(measurement + ROLLUP_SUFFIX)}")
        if not s or not s[0].get("values"):
            return None
        return int(s[0]["values"][0][0]) + 3_600_000_000_000

    def hourly_columns(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
        fields: Sequence[str] = (), aps: Collection[str] | None = None,
    ) -> list[Columns]:
        """Per series and hour: ``<field>:n``, ``:sum``, ``:max``: from the rollup measurement for the hours it
        holds, aggregated by influxd (GROUP BY time(1h), *) for the rest. Booleans have only a count in InfluxQL:
        their ``:sum`` counts the true ones (a second query, WHERE field = true)."""
        types = self.field_types(measurement)
        want = [f for f in fields if f in types]
        if not want:
            return []
        key_ = (measurement, start_ns, end_ns, tuple(sorted((tags or {}).items())), tuple(want),
                None if aps is None else tuple(sorted(aps)))
        if key_ in self._hourly_memo:
            return self._hourly_memo[key_]
        parts: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[list[str], list[Any]]]]] = {}

        def gather(q: str, names: list[str]) -> None:
            """Each series' rows of ``q`` (time, then ``names``), kept as lists until the arrays are built."""
            for s in self.iter_raw(q):
                t = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
                parts.setdefault(tuple(sorted(t.items())), (t, []))[1].append((names, s.get("values", [])))

        rolled = self._rolled_until(measurement, want)
        raw_from = start_ns
        if rolled is not None and rolled > start_ns:
            have = self._rollup_fields(measurement)
            names = [f"{f}:{k}" for f in want for k in ("n", "sum", "max") if f"{f}__{k}" in have]
            sel = ", ".join(quote_ident(n.replace(":", "__")) for n in names)
            gather(f"SELECT {sel} FROM {quote_ident(measurement + ROLLUP_SUFFIX)} WHERE "
                   f"{self._where(start_ns, min(end_ns, rolled), tags, aps)} GROUP BY *", names)
            raw_from = min(end_ns, rolled)
        if raw_from < end_ns:
            where = self._where(raw_from, end_ns, tags, aps)
            nums = [f for f in want if types[f] != "boolean"]
            bools = [f for f in want if types[f] == "boolean"]
            if nums:
                sel = ", ".join(f"count({quote_ident(f)}), sum({quote_ident(f)}), max({quote_ident(f)})"
                                for f in nums)
                gather(f"SELECT {sel} FROM {quote_ident(measurement)} WHERE {where} GROUP BY time(1h), * fill(none)",
                       [f"{f}:{k}" for f in nums for k in ("n", "sum", "max")])
            for f in bools:
                qf = quote_ident(f)
                gather(f"SELECT count({qf}) FROM {quote_ident(measurement)} WHERE {where} GROUP BY time(1h), * "
                       "fill(none)", [f"{f}:n"])
                gather(f"SELECT count({qf}) FROM {quote_ident(measurement)} WHERE {where} AND {qf} = true "
                       "GROUP BY time(1h), * fill(none)", [f"{f}:sum"])
        out = []
        nan = float("nan")
        for t, blocks in parts.values():
            arrays = []
            for names, rows in blocks:
                if not rows:
                    continue
                try:
                    a = np.array(rows, dtype=np.float64)
                except TypeError:  # a null (e.g. no true count in an hour with none)
                    a = np.array([[nan if v is None else v for v in r] for r in rows], dtype=np.float64)
                arrays.append((names, a.reshape(len(rows), len(names) + 1)))
            if not arrays:
                continue
            hours = np.unique(np.concatenate([a[:, 0] for _, a in arrays]).astype(np.int64))
            vals: dict[str, npt.NDArray[np.float64]] = {}
            for f in want:
                vals[f"{f}:n"] = np.zeros(len(hours))
                vals[f"{f}:sum"] = np.zeros(len(hours))
                vals[f"{f}:max"] = np.full(len(hours), np.nan)
            for names, a in arrays:
                idx = np.searchsorted(hours, a[:, 0].astype(np.int64))
                for i, n in enumerate(names):
                    col = a[:, i + 1]
                    present = ~np.isnan(col)
                    vals[n][idx[present]] = col[present]
            for f in want:
                if types[f] == "boolean":
                    vals[f"{f}:max"] = np.where(vals[f"{f}:sum"] > 0, 1.0, 0.0)
            keep = np.zeros(len(hours), dtype=np.bool_)
            for f in want:
                keep |= vals[f"{f}:n"] > 0
            if keep.any():
                out.append(Columns(t, hours[keep], {k: v[keep] for k, v in vals.items()}))
        res = sorted(out, key=Columns.key)
        self._hourly_memo = {key_: res}  # the last read only: false_times/count_over of the same range reuse it
        return res

    def _spans(self, measurement: str, field: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None,
               keep: Any, aps: Collection[str] | None = None) -> list[tuple[dict[str, str], int, int]]:
        """(series tags, from, to): the rolled-up hours per series where ``keep(n, sum, max)`` holds, merged."""
        hour = 3_600_000_000_000
        out = []
        for c in self.hourly_columns(measurement, start_ns, end_ns, tags, [field], aps):
            n, sm, mx = c.values[f"{field}:n"], c.values[f"{field}:sum"], c.values[f"{field}:max"]
            hs = c.time_ns[keep(n, sm, mx)].tolist()
            spans: list[list[int]] = []
            for h in hs:
                if spans and h <= spans[-1][1]:
                    spans[-1][1] = h + hour
                else:
                    spans.append([h, h + hour])
            out += [(c.tags, max(a, start_ns), min(b, end_ns)) for a, b in spans]
        return out

    def _series_where(self, t: Mapping[str, str], a: int, b: int) -> str:
        return self._where(a, b, t)

    def false_times(self, measurement: str, field: str, start_ns: int, end_ns: int,
                    tags: Mapping[str, str] | None = None, aps: Collection[str] | None = None) -> list[Columns]:
        """Per series, the times at which boolean ``field`` was false: only those rows cross the wire, and with a
        rollup, only the hours it shows a false one in are searched (one request of many statements)."""
        if field not in self.field_types(measurement):
            return []
        qf, qm = quote_ident(field), quote_ident(measurement)
        rolled = self._rolled_until(measurement, [field])
        if rolled is None or rolled <= start_ns:
            return self._by_series(f"SELECT {qf} FROM {qm} WHERE {self._where(start_ns, end_ns, tags, aps)} "
                                   f"AND {qf} = false GROUP BY *", [field])
        stmts = [f"SELECT {qf} FROM {qm} WHERE {self._series_where(t, a, b)} AND {qf} = false GROUP BY *"
                 for t, a, b in self._spans(measurement, field, start_ns, min(end_ns, rolled), tags,
                                            lambda n, sm, mx: sm < n, aps)]
        if rolled < end_ns:
            stmts.append(f"SELECT {qf} FROM {qm} WHERE {self._where(rolled, end_ns, tags, aps)} AND {qf} = false "
                         "GROUP BY *")
        return self._batched(stmts, [field])

    def _batched(self, stmts: list[str], names: list[str]) -> list[Columns]:
        chunks = []
        for i in range(0, len(stmts), 200):
            chunks += [(({k: v for k, v in (s.get("tags") or {}).items() if v != ""}), s.get("values", []))
                       for s in self.raw("; ".join(stmts[i:i + 200]))]
        return series_columns(chunks, names)

    def count_over(self, measurement: str, field: str, threshold: float, start_ns: int, end_ns: int,
                   tags: Mapping[str, str] | None = None,
                   aps: Collection[str] | None = None) -> list[tuple[dict[str, str], int]]:
        """Per series, the number of rows whose ``field`` exceeds ``threshold``, counted by influxd; with a
        rollup, only in the hours whose maximum exceeds it."""
        if field not in self.field_types(measurement):
            return []
        qf, qm = quote_ident(field), quote_ident(measurement)
        cond = f"{qf} > {float(threshold)!r}"
        rolled = self._rolled_until(measurement, [field])
        if rolled is None or rolled <= start_ns:
            stmts = [f"SELECT count({qf}) FROM {qm} WHERE {self._where(start_ns, end_ns, tags, aps)} AND {cond} "
                     "GROUP BY *"]
        else:
            stmts = [f"SELECT count({qf}) FROM {qm} WHERE {self._series_where(t, a, b)} AND {cond} GROUP BY *"
                     for t, a, b in self._spans(measurement, field, start_ns, min(end_ns, rolled), tags,
                                                lambda n, sm, mx: mx > threshold, aps)]
            if rolled < end_ns:
                stmts.append(f"SELECT count({qf}) FROM {qm} WHERE {self._where(rolled, end_ns, tags, aps)} AND {cond} "
                             "GROUP BY *")
        counts: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], int]] = {}
        for i in range(0, len(stmts), 200):
            for s in self.raw("; ".join(stmts[i:i + 200])):
                t = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
                key = tuple(sorted(t.items()))
                prev = counts.get(key, (t, 0))[1]
                counts[key] = (t, prev + int(sum(int(r[1] or 0) for r in s.get("values", []))))
        return sorted(counts.values(), key=lambda x: sorted(x[0].items()))

