"""PointReader over InfluxQL (/query), which InfluxDB 1.x, 2.x (DBRP mapping) and 3.x all serve.

InfluxQL's JSON loses field types (1.0 comes back as 1) and returns every field of the measurement,
null where a point lacks it; we ask SHOW FIELD KEYS for the types and drop nulls, so the Points equal
what :meth:`SqliteStore.query` returns for the same data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from core.schema import FieldValue, Point
from core.store.columns import Columns, series_columns


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

    def close(self) -> None:
        self._client.close()

    def raw(self, q: str) -> list[dict[str, Any]]:
        """Run ``q`` (chunked, epoch=ns); returns the series of every statement's result, merged in order."""
        params = {"db": self.database, "q": q, "epoch": "ns", "chunked": "true", "chunk_size": str(self.chunk_size)}
        try:
            r = self._client.post(f"{self.url}/query", data=params)
        except httpx.HTTPError as e:
            raise InfluxQLError(f"InfluxDB unreachable at {self.url}: {e}") from None
        if r.status_code >= 300:
            raise InfluxQLError(f"InfluxDB at {self.url} answered {r.status_code} to a query: {r.text.strip()[:300]}")
        series: list[dict[str, Any]] = []
        for line in r.text.split("\n"):  # not splitlines: \x85 or \u2028 may sit inside a JSON string
            if not line.strip():
                continue
            doc = json.loads(line)
            if "error" in doc:
                raise InfluxQLError(f"InfluxDB at {self.url}: {doc['error']}")
            for res in doc.get("results", []):
                if "error" in res:
                    raise InfluxQLError(f"InfluxDB at {self.url}, database '{self.database}': {res['error']}")
                series.extend(res.get("series", []))
        return series

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

    def _where(self, start_ns: int, end_ns: int, tags: Mapping[str, str] | None) -> str:
        where = [f"time >= {int(start_ns)}", f"time < {int(end_ns)}"]
        where += [f"{quote_ident(k)} = {quote_str(v)}" for k, v in sorted((tags or {}).items())]
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
    def hourly_columns(
        self, measurement: str, start_ns: int, end_ns: int, tags: Mapping[str, str] | None = None,
        fields: Sequence[str] = (),
    ) -> list[Columns]:
        """Per series and hour: ``<field>:n``, ``:sum``, ``:max``, aggregated by influxd (GROUP BY time(1h), *), so
        a month of 1-minute points crosses the wire as 744 rows per series. Booleans have only a count in
        InfluxQL: their ``:sum`` counts the true ones (a second query, WHERE field = true)."""
        types = self.field_types(measurement)
        want = [f for f in fields if f in types]
        if not want:
            return []
        cols: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], dict[int, dict[str, float]]]] = {}

        def gather(q: str, names: list[str]) -> None:
            for s in self.raw(q):
                t = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
                key = tuple(sorted(t.items()))
                rows = cols.setdefault(key, (t, {}))[1]
                for row in s.get("values", []):
                    cell = rows.setdefault(int(row[0]), {})
                    for n, v in zip(names, row[1:], strict=True):
                        if v is not None:
                            cell[n] = float(v)

        where = self._where(start_ns, end_ns, tags)
        nums = [f for f in want if types[f] != "boolean"]
        bools = [f for f in want if types[f] == "boolean"]
        if nums:
            sel = ", ".join(f"count({quote_ident(f)}), sum({quote_ident(f)}), max({quote_ident(f)})" for f in nums)
            gather(f"SELECT {sel} FROM {quote_ident(measurement)} WHERE {where} GROUP BY time(1h), * fill(none)",
                   [f"{f}:{k}" for f in nums for k in ("n", "sum", "max")])
        for f in bools:
            qf = quote_ident(f)
            gather(f"SELECT count({qf}) FROM {quote_ident(measurement)} WHERE {where} GROUP BY time(1h), * "
                   "fill(none)", [f"{f}:n"])
            gather(f"SELECT count({qf}) FROM {quote_ident(measurement)} WHERE {where} AND {qf} = true "
                   "GROUP BY time(1h), * fill(none)", [f"{f}:sum"])
        out = []
        for t, rows in cols.values():
            hours = sorted(h for h, c in rows.items() if any(c.get(f"{f}:n", 0) > 0 for f in want))
            if not hours:
                continue
            vals: dict[str, npt.NDArray[np.float64]] = {}
            for f in want:
                for k, default in (("n", 0.0), ("sum", 0.0), ("max", np.nan)):
                    vals[f"{f}:{k}"] = np.array([rows[h].get(f"{f}:{k}", default) for h in hours], dtype=np.float64)
                if f in bools:
                    vals[f"{f}:max"] = np.where(vals[f"{f}:sum"] > 0, 1.0, 0.0)
            out.append(Columns(t, np.array(hours, dtype=np.int64), vals))
        return sorted(out, key=Columns.key)

    def false_times(self, measurement: str, field: str, start_ns: int, end_ns: int,
                    tags: Mapping[str, str] | None = None) -> list[Columns]:
        """Per series, the times at which boolean ``field`` was false: only those rows cross the wire."""
        if field not in self.field_types(measurement):
            return []
        qf = quote_ident(field)
        q = (f"SELECT {qf} FROM {quote_ident(measurement)} WHERE {self._where(start_ns, end_ns, tags)} "
             f"AND {qf} = false GROUP BY *")
        return self._by_series(q, [field])

    def count_over(self, measurement: str, field: str, threshold: float, start_ns: int, end_ns: int,
                   tags: Mapping[str, str] | None = None) -> list[tuple[dict[str, str], int]]:
        """Per series, the number of rows whose ``field`` exceeds ``threshold``, counted by influxd."""
        if field not in self.field_types(measurement):
            return []
        qf = quote_ident(field)
        q = (f"SELECT count({qf}) FROM {quote_ident(measurement)} WHERE {self._where(start_ns, end_ns, tags)} "
             f"AND {qf} > {float(threshold)!r} GROUP BY *")
        out = []
        for s in self.raw(q):
            t = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
            out.append((t, int(sum(int(r[1] or 0) for r in s.get("values", [])))))
        return sorted(out, key=lambda x: sorted(x[0].items()))
