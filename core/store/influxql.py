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
