"""Storage: the embedded SQLite store (always written first), InfluxDB sinks, the forwarder, InfluxQL reads.

The daemon writes every point to :class:`SqliteStore`; a :class:`Forwarder` ships rows after a persisted
cursor to InfluxDB, so an InfluxDB outage or a crash never loses data accepted by the store.
"""

from core.store.errors import SinkError
from core.store.forwarder import Forwarder, ForwardResult
from core.store.influx import make_reader, make_sink
from core.store.sqlite_store import SqliteStore

__all__ = ["ForwardResult", "Forwarder", "SinkError", "SqliteStore", "make_reader", "make_sink"]
