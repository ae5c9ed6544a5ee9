"""Everything the console's pages read from and write to, opened once per server."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.alerts import ack, rota, timeline
from collector.alerts.store import AlertStore
from console.users import UserStore
from core.inventory import Inventory

# The fleet snapshot is shared by the requests of one second (状況's refreshes, several people, the map): the
# data changes once per heartbeat (>= 1 s), and at 10,000 APs building it costs ~0.1-0.3 s of CPU.
FLEET_TTL_S = 1.0


@dataclass
class ConsoleContext:
    inventory: Callable[[], Inventory]  # the daemon's current one (SIGHUP may replace it)
    store: Any  # the embedded store (SqliteStore): latest points, the status page
    history: Any  # where charts read from: the embedded store or InfluxDB (PointReader)
    alerts: AlertStore
    users: UserStore
    health: Callable[[], dict[str, object]] | None = None
    status: Callable[[], dict[str, Any]] | None = None
    token: str | None = None
    map_file: Path | None = None  # the daemon's regenerated coverage map, when it writes one
    states: Callable[[], Any] | None = None  # the alert engine's states in memory (daemon); None: read the store
    config_path: Path | None = None  # the inventory file the console's 通知設定 edits (None: read only)
    reload: Callable[[], None] | None = None  # asks the daemon to re-read that file (SIGHUP's work)
    resolver: Any = None  # secrets by reference, for a test message from 通知設定
    started: float = field(default_factory=time.time)
    closers: list[Callable[[], None]] = field(default_factory=list)
    _monitor: tuple[float, dict[str, Any]] | None = None
    _recent: tuple[float, dict[int, dict[str, Any]]] | None = None
    _fleet: dict[str, tuple[float, Any]] = field(default_factory=dict)  # lang -> (built at, snapshot)

    def fleet(self, lang: str) -> Any:
        """The fleet snapshot now (collector.snapshot, with open incidents), from the engine's states when the daemon
        serves the console; one built within the last FLEET_TTL_S is reused (it says how old its data is)."""
        from console.fleet import fleet_status

        now = time.time()
        hit = self._fleet.get(lang)
        if hit is not None and 0 <= now - hit[0] < FLEET_TTL_S:
            return hit[1]
        snap = fleet_status(self.inventory(), self.store, self.alerts, now, lang,
                            self.states() if self.states is not None else None)
        self._fleet[lang] = (now, snap)
        return snap

    def monitor(self) -> dict[str, Any]:
        """Whether the data is live and how old it is (core.state.monitor_state), for the banner every page shows
        when it is not; read at most once a second."""
        now = time.time()
        if self._monitor is None or now - self._monitor[0] > 1.0:
            from collector.snapshot import newest_live_beat
            from core.state import monitor_state

            at = newest_live_beat(self.store)
            self._monitor = (now, {"state": monitor_state(at, self.inventory().defaults.heartbeat_s, now),
                                   "data_at": at, "age_s": None if at is None else max(0.0, now - at)})
        return self._monitor[1]

    def recent(self) -> dict[int, dict[str, Any]]:
        """7- and 30-day availability per AP and site (analytics.recent), computed at most every 5 minutes: the
        hourly rollups it reads change once an hour."""
        now = time.time()
        cached = self._recent
        if cached is None or now - cached[0] > 300:
            from analytics.recent import read_recent

            inv = self.inventory()
            cached = (now, {days: read_recent(inv, self.store, now, days) for days in (7, 30)})
            self._recent = cached
        return cached[1]

    def close(self) -> None:
        for c in reversed(self.closers):
            c()


def open_context(inv: Inventory | Callable[[], Inventory], resolver: Any, store: Any = None,
                 health: Callable[[], dict[str, object]] | None = None,
                 status: Callable[[], dict[str, Any]] | None = None, token: str | None = None,
                 map_file: Path | None = None, states: Callable[[], Any] | None = None,
                 config_path: Path | None = None, reload: Callable[[], None] | None = None) -> ConsoleContext:
    """Open the alert tables, users and (unless given) the embedded store; the chart reader per [console] history."""
    from core.store.sqlite_store import SqliteStore

    get = inv if callable(inv) else (lambda: inv)
    current = get()
    path = Path(current.store.path)
    closers: list[Callable[[], None]] = []
    if store is None:  # its own connection: a slow page never holds the lock the daemon's writes take (WAL)
        store = SqliteStore(path, current.store, reserve_bytes=0)
        closers.append(store.close)
    alerts = AlertStore(path)
    with alerts.tx() as c:
        ack.ensure_schema(c)
        rota.ensure_schema(c)
        timeline.ensure_schema(c)
    closers.append(alerts.close)
    users = UserStore(path)
    closers.append(users.close)
    history: Any = store
    if current.console.history == "influxdb" and current.influxdb is not None:
        from core.store.influx import make_reader

        history = make_reader(current.influxdb, resolver)
        closers.append(history.close)
    return ConsoleContext(get, store, history, alerts, users, health, status, token, map_file, states=states,
                          closers=closers, config_path=config_path, reload=reload, resolver=resolver)
