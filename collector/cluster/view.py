"""What ``wifiwatch status`` shows on a member of a group: every AP of the group, not only its own.

Measurements come from the shared store (InfluxDB, where every member forwards) when ``[influxdb]`` is set;
without it this member's own store holds only the APs it polled, which the document says (``cluster.source``).
The alert states (up/down and why) are the group's: every member writes them through to Redis.
"""

from __future__ import annotations

from typing import Any

from core.inventory import Inventory
from core.secrets import SecretResolver
from core.store.influxql import InfluxQLReader, quote_ident

WINDOW = "24h"  # older data is stale in every view anyway (core.state.stale_after)


class InfluxLatest:
    """``latest_fields`` (collector.snapshot's reader interface) over InfluxQL: each series' newest row."""

    def __init__(self, reader: InfluxQLReader):
        self.reader = reader

    def latest_fields(self, measurement: str, fields: tuple[str, ...]) -> list[tuple[dict[str, str], int, list[Any]]]:
        sel = ", ".join(quote_ident(f) for f in fields)
        q = (f"SELECT {sel} FROM {quote_ident(measurement)} WHERE time > now() - {WINDOW} "
             "GROUP BY * ORDER BY time DESC LIMIT 1")
        rows = []
        for s in self.reader.raw(q):
            tags = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
            for row in s.get("values", [])[:1]:
                rows.append((tags, int(row[0]), list(row[1:])))
        return rows


def group_states(inv: Inventory, resolver: SecretResolver, local: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The group's alert states (Redis) over this member's own; the problem when Redis did not answer."""
    import redis

    from collector.alerts.store import _decode
    from collector.cluster.incidents import STATES
    from collector.cluster.membership import connect

    c = inv.cluster
    password = resolver.resolve(c.password).reveal() if c.password else None
    client = connect(c, password)
    try:
        raw = client.hgetall(STATES)
    except (redis.RedisError, OSError) as e:
        return local, f"Redis unreachable ({type(e).__name__}): states are this member's own"
    finally:
        client.close()
    merged = dict(local)
    for dev, text in raw.items():  # type: ignore[union-attr]
        try:
            merged[str(dev)] = _decode(str(text))
        except (ValueError, KeyError, TypeError):
            continue
    return merged, None


def shared_reader(inv: Inventory, resolver: SecretResolver) -> Any | None:
    """The shared store's reader, or None when there is none ([influxdb] not set)."""
    if inv.influxdb is None:
        return None
    from core.store.influx import make_reader

    return InfluxLatest(make_reader(inv.influxdb, resolver))
