"""Everything the console's pages read from and write to, opened once per server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.alerts import ack, rota, timeline
from collector.alerts.store import AlertStore
from console.users import UserStore
from core.inventory import Inventory

log = logging.getLogger("wifiwatch.console")

# The fleet snapshot is built by a refresher thread every half heartbeat (0.5-5 s) for the languages in use, as
# Home Assistant's coordinator fetches once for every entity: a page reads the newest one (at 10,000 APs building
# it costs ~0.2-0.3 s of CPU, reading it nothing). 状況 refreshes every half heartbeat too, so a change the daemon
# confirms still shows within one heartbeat. A snapshot older than two refresh periods (the refresher late on a
# busy machine, or not started) is rebuilt by the request itself.
def fleet_ttl(heartbeat_s: float) -> float:
    return max(0.5, min(5.0, heartbeat_s / 2))


LANG_IDLE_S = 120.0  # a language nobody asked for this long is no longer refreshed
GC_GEN0 = 50_000


def tune_gc() -> None:
    """Collect young objects every 50,000 allocations instead of 700. A console over 10,000 APs keeps about a
    million long-lived objects (inventory, states, snapshots); with CPython's default a full collection over all of
    them (~0.3 s) ran every few page requests, which was the whole p95 of 状況 (316 ms -> 39 ms, measured).
    Reference counting still frees everything at once; only cycles wait a little longer."""
    import gc

    t0, t1, t2 = gc.get_threshold()
    if t0 < GC_GEN0:
        gc.set_threshold(GC_GEN0, t1, t2)


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
    _map_figures: tuple[float, dict[str, Any]] | None = None
    _fleet: dict[str, tuple[float, Any]] = field(default_factory=dict)  # lang -> (built at, snapshot)
    _wanted: dict[str, float] = field(default_factory=dict)  # lang -> when a page last asked for it
    _refresher: threading.Thread | None = None
    _refresher_lock: threading.Lock = field(default_factory=threading.Lock)

    def fleet(self, lang: str) -> Any:
        """The fleet snapshot (collector.snapshot, with open incidents), from the engine's states when the daemon
        serves the console: the refresher's newest, or one built now when that is older than two periods."""
        now = time.time()
        self._wanted[lang] = now
        self._start_refresher()
        hit = self._fleet.get(lang)
        if hit is not None and 0 <= now - hit[0] < 2 * fleet_ttl(self.inventory().defaults.heartbeat_s):
            return hit[1]
        return self._build(lang)

    def _build(self, lang: str) -> Any:
        from console.fleet import fleet_status

        now = time.time()
        snap = fleet_status(self.inventory(), self.store, self.alerts, now, lang,
                            self.states() if self.states is not None else None)
        self._fleet[lang] = (now, snap)
        return snap

    def _start_refresher(self) -> None:
        if self._refresher is not None:
            return
        with self._refresher_lock:
            if self._refresher is not None:
                return
            stop = threading.Event()

            def run() -> None:
                while not stop.wait(fleet_ttl(self.inventory().defaults.heartbeat_s)):
                    now = time.time()
                    for lang, asked in list(self._wanted.items()):
                        if now - asked > LANG_IDLE_S:
                            self._wanted.pop(lang, None)
                            continue
                        try:
                            self._build(lang)
                        except Exception:  # noqa: BLE001 - a page then builds its own and shows the error
                            log.exception("fleet snapshot refresh failed")
                            break

            thread = threading.Thread(target=run, name="console-fleet", daemon=True)

            def halt() -> None:  # before the stores close (closers run last first)
                stop.set()
                thread.join(10.0)

            self.closers.append(halt)
            self._refresher = thread
            thread.start()

    def monitor(self) -> dict[str, Any]:
        """Whether the data is live and how old it is (core.state.monitor_state), for the banner every page shows
        when it is not; read at most once a second."""
        from core.state import monitor_state

        now = time.time()
        hb = self.inventory().defaults.heartbeat_s
        built = max(self._fleet.values(), key=lambda x: x[0], default=None)
        if built is not None and now - built[0] < 2 * fleet_ttl(hb):  # the refresher's newest says it already
            at = built[1].data_at
        elif self._monitor is None or now - self._monitor[0] > 1.0:
            from collector.snapshot import newest_live_beat

            at = newest_live_beat(self.store)
            self._monitor = (now, {"data_at": at})
        else:
            at = self._monitor[1]["data_at"]
        return {"state": monitor_state(at, hb, now), "data_at": at, "age_s": None if at is None else max(0.0, now - at)}

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

    def map_figures(self) -> dict[str, Any]:
        """The maps' 30-day availability per AP and usage heat (maps.figures), recomputed every 5 minutes."""
        now = time.time()
        cached = self._map_figures
        if cached is None or now - cached[0] > 300:
            from maps.figures import availability_30d, usage_heat

            inv = self.inventory()
            cached = (now, {"availability": availability_30d(inv, self.store, now),
                            "heat": usage_heat(inv, self.store, now)})
            self._map_figures = cached
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

    tune_gc()
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
