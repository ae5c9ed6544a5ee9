"""The polling daemon: APScheduler jobs around the fleet engine, signals, reload and the HTTP endpoint.

Jobs never overlap with themselves (max_instances=1), late runs are coalesced, starts are jittered so
a fleet of collectors does not hit the network in lock-step. Half-way between two heartbeats, devices in
doubt (one miss, or one reply after an outage) are probed again, so an outage is confirmed in two heartbeat
intervals, not three; a newly queued alert is delivered at once, not at the next delivery tick.
SIGTERM/SIGINT stop within seconds, SIGHUP re-reads the inventory and keeps the old one if it is invalid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from collector import clockwatch, metrics
from collector.engine import DeviceRef, FleetEngine
from collector.health import HealthBoard
from collector.http import Slots, StatusServer
from core.config import ConfigError, load_config
from core.inventory import Inventory
from core.logs import kv
from core.paths import known_vendors
from core.secrets import SecretResolver
from core.state import stale_after
from core.store.dbfile import explain as store_problem

log = logging.getLogger("wifiwatch.daemon")


@dataclass(frozen=True)
class ExtraJob:
    """A periodic job of a layer above the collector (map regeneration, rollups, forwarding)."""

    name: str
    func: Callable[[Inventory], Any]
    interval_s: float
    first_after_s: float = 5.0
    cron: str | None = None  # crontab fields in Japan time (e.g. "30 2 * * *"); replaces interval_s when set


def cron_trigger(expr: str) -> CronTrigger:
    """A crontab expression read in Japan time: report and night jobs follow the city's calendar, not UTC."""
    return CronTrigger.from_crontab(expr, timezone="Asia/Tokyo")


class Daemon:
    def __init__(
        self,
        config_path: Path,
        inv: Inventory,
        resolver: SecretResolver,
        writer: Any,
        alerts: Any | None = None,
        extra_jobs: Sequence[ExtraJob] = (),
        http: bool = True,
        use_icmp: bool | None = None,
        run_for_s: float | None = None,
        background: Sequence[Callable[[threading.Event], None]] = (),
        clock: Callable[[], float] = time.time,
        parts: Mapping[str, Callable[[], str | None]] | None = None,
        http_app: Callable[[Daemon, str | None], Any] | None = None,
    ):
        """``parts``: further health checks by part name (the forwarder's), each None when fine or the reason."""
        self.config_path = config_path
        self.inv = inv
        self.resolver = resolver
        self.writer = writer
        self.alerts = alerts
        self.extra_jobs = list(extra_jobs)
        self.http_enabled = http
        self.http_app = http_app  # builds the ASGI app served on [http] (the console); None: the endpoints alone
        self.use_icmp = use_icmp
        self.run_for_s = run_for_s
        self.background = list(background)
        self.clock = clock  # the wall clock: a seam for tests that step it as NTP or an operator would
        self._clock_watch: asyncio.Task[None] | None = None
        self._bg_stop = threading.Event()
        self._bg_threads: list[threading.Thread] = []
        self.engine: FleetEngine | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self._stop: asyncio.Event | None = None
        self.http: StatusServer | None = None
        self.started_at = time.time()
        self._cycle_locks: dict[frozenset[str], asyncio.Lock] = {}  # a group's heartbeat and re-probe in turn
        self._deliver_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.board = HealthBoard()
        self.parts = dict(parts or {})
        self._last_cycle: float | None = None  # when a heartbeat job last ran, whatever its outcome
        self.group: Any = None  # collector.cluster.group.Group with [cluster] redis

    # -- entry point ----------------------------------------------------------------------------
    def run(self) -> int:
        return asyncio.run(self._main())

    def request_reload(self, timeout_s: float = 10.0) -> None:
        """Re-read the inventory file as SIGHUP does, asked from another thread (the console after an edit), and
        wait for it: the page that follows the edit then shows the new configuration, not the old one."""
        loop = getattr(self, "_loop", None)
        if loop is None or loop.is_closed():
            return
        done = asyncio.run_coroutine_threadsafe(self._reload(), loop)
        try:
            done.result(timeout_s)
        except TimeoutError:
            log.warning("configuration reload still running after the console's edit", extra=kv(after_s=timeout_s))

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        self.engine = FleetEngine(self.inv, self.resolver, self.writer, self.alerts, self.use_icmp, clock=self.clock)
        if self.inv.cluster.redis is not None:  # a collector group: only this member's share (collector/cluster)
            from collector.cluster.group import Group

            self.group = Group(self, loop)
            self.group.start()
        self.scheduler = AsyncIOScheduler(event_loop=loop, timezone="UTC")
        self._schedule()
        self._watch_metrics()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload()))
        if self.http_enabled:
            self._start_http()
        try:
            self.engine.start_traps(self._trap_acted)
        except OSError as e:
            log.error("trap receiver not started: cannot bind %s:%s (%s)", self.inv.traps.bind,
                      self.inv.traps.port, e.strerror)
        self.scheduler.start()
        self._clock_watch = loop.create_task(clockwatch.watch(self.scheduler, self.clock))
        for fn in self.background:  # long-running loops with their own pacing (InfluxDB forwarding)
            t = threading.Thread(target=fn, args=(self._bg_stop,), name=getattr(fn, "__name__", "bg"), daemon=True)
            t.start()
            self._bg_threads.append(t)
        log.info("daemon started", extra=kv(devices=len(self.engine.devices), icmp=self.engine.use_icmp,
                                           shard=self.inv.cluster.shard))
        try:
            if self.run_for_s is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.run_for_s)
            else:
                await self._stop.wait()
        finally:
            await self._shutdown()
        return 0

    def _request_stop(self, sig: int | None = None) -> None:
        log.info("stopping", extra=kv(signal=signal.Signals(sig).name if sig else None))
        if self._stop is not None:
            self._stop.set()

    def stop(self) -> None:
        self._request_stop()

    async def _shutdown(self) -> None:
        t0 = time.perf_counter()
        if self._clock_watch is not None:
            self._clock_watch.cancel()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        self._bg_stop.set()
        # Give running cycles a moment to finish their writes, then cancel what is left.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=3.0)
            for t in still:
                t.cancel()
        for thread in self._bg_threads:
            await asyncio.to_thread(thread.join, 3.0)
        if self.engine is not None:
            await self.engine.close()
        if self.http is not None:
            self.http.stop()
        log.info("daemon stopped", extra=kv(seconds=round(time.perf_counter() - t0, 2)))

    # -- scheduling -----------------------------------------------------------------------------
    def _schedule(self) -> None:
        """One heartbeat and one poll job per distinct interval (sites and APs may override them)."""
        assert self.scheduler is not None and self.engine is not None
        for job in self.scheduler.get_jobs():
            if job.id.startswith(("heartbeat:", "poll:", "recheck:")):
                job.remove()
        groups: dict[tuple[str, float], list[DeviceRef]] = {}
        for d in self.engine.devices:
            p = self.inv.poll_for(d.site, d.device)
            groups.setdefault(("heartbeat", p.heartbeat_s), []).append(d)
            groups.setdefault(("poll", p.interval_s), []).append(d)
        now = self.clock()
        for (kind, interval), devs in groups.items():
            ids = [d.id for d in devs]
            func = self._heartbeat_job if kind == "heartbeat" else self._poll_job
            jitter = random.uniform(0, min(interval, 10.0) * 0.2)
            first = now + (0.2 if kind == "heartbeat" else 1.0) + jitter
            self.scheduler.add_job(
                func, "interval", seconds=interval, args=[ids], id=f"{kind}:{interval}",
                next_run_time=_dt(first), max_instances=1, coalesce=True, misfire_grace_time=max(1, int(interval)),
                replace_existing=True,
            )
            if kind == "heartbeat" and self.alerts is not None:
                self.scheduler.add_job(
                    self._heartbeat_job, "interval", seconds=interval, args=[ids, True], id=f"recheck:{interval}",
                    next_run_time=_dt(first + interval / 2), max_instances=1, coalesce=True,
                    misfire_grace_time=max(1, int(interval)), replace_existing=True,
                )
        if self.alerts is not None and not self.scheduler.get_job("alerts:deliver"):
            self.scheduler.add_job(self._deliver_job, "interval", seconds=2.0, id="alerts:deliver",
                                   max_instances=1, coalesce=True, next_run_time=_dt(now + 1))
        for job in self.extra_jobs:
            if self.scheduler.get_job(f"extra:{job.name}"):
                continue
            if job.cron:
                self.scheduler.add_job(self._extra_job, cron_trigger(job.cron), args=[job], id=f"extra:{job.name}",
                                       max_instances=1, coalesce=True, misfire_grace_time=3600)
            else:
                self.scheduler.add_job(self._extra_job, "interval", seconds=job.interval_s, args=[job],
                                       id=f"extra:{job.name}", max_instances=1, coalesce=True,
                                       next_run_time=_dt(now + job.first_after_s))

    def _select(self, ids: Sequence[str]) -> list[DeviceRef]:
        assert self.engine is not None
        wanted = set(ids)
        return [d for d in self.engine.devices if d.id in wanted]

    async def _heartbeat_job(self, ids: Sequence[str], recheck: bool = False) -> None:
        """A heartbeat cycle; ``recheck``: the half-interval one, of only the devices in doubt (often none)."""
        assert self.engine is not None
        lock = self._cycle_locks.setdefault(frozenset(ids), asyncio.Lock())
        async with lock:
            if recheck:
                ids = self.alerts.in_doubt(ids) if self.alerts is not None else []
                if not ids:
                    return
            queued = getattr(self.alerts, "enqueued", 0)
            try:
                await self.engine.heartbeat_once(self._select(ids))
            except Exception as e:
                self._failed("heartbeat cycle failed", e)
            else:
                self.board.ok("store")
            finally:
                self._last_cycle = time.time()
            if self.alerts is not None and getattr(self.alerts, "enqueued", 0) != queued:
                task = asyncio.get_running_loop().create_task(self._deliver_job())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _trap_acted(self) -> None:
        """A trap opened or closed an incident: deliver now, not at the next delivery tick."""
        task = asyncio.get_running_loop().create_task(self._deliver_job())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll_job(self, ids: Sequence[str]) -> None:
        assert self.engine is not None
        try:
            await self.engine.poll_once(self._select(ids))
        except Exception as e:
            self._failed("poll cycle failed", e)

    async def _deliver_job(self) -> None:
        async with self._deliver_lock:  # the periodic run and the one right after a heartbeat never overlap
            try:
                await asyncio.to_thread(self.alerts.deliver_due, time.time())  # type: ignore[union-attr]
            except Exception as e:
                self._failed("alert delivery failed", e)

    async def _extra_job(self, job: ExtraJob) -> None:
        try:
            await asyncio.to_thread(job.func, self.inv)
        except Exception as e:
            self._failed(f"periodic job {job.name} failed", e)

    # -- reload -----------------------------------------------------------------------------------
    async def _reload(self) -> None:
        """SIGHUP: validate the new file first; a broken file never replaces a working inventory."""
        try:
            inv = load_config(self.config_path, known_vendors())
        except ConfigError as e:
            log.error("reload refused: the new configuration is invalid; keeping the running one",
                      extra=kv(problems=[str(p) for p in e.problems]))
            return
        assert self.engine is not None
        self.inv = inv
        self.engine.reload(inv)
        if self.group is not None:
            self.group.apply(self.group.membership.members)
        for fn in self.background:  # background parts that follow the inventory (visitor sources: visitor_ids)
            reload = getattr(getattr(fn, "__self__", None), "reload", None)
            if callable(reload):
                reload(inv)
        self._schedule()
        log.info("configuration reloaded", extra=kv(devices=len(self.engine.devices)))

    # -- health -----------------------------------------------------------------------------------
    def _failed(self, what: str, e: Exception) -> None:
        """A store error marks the store failing and is logged once, with what to do; anything else is a bug
        and keeps its traceback."""
        if isinstance(e, sqlite3.Error):
            reason, advice = store_problem(e, self.inv.store.path)
            self.board.fail("store", reason, advice)
        else:
            log.exception(what)

    def _watch_metrics(self) -> None:
        """Gauges read at scrape time from the store itself, so /metrics can never lag behind the truth."""
        writer, alerts = self.writer, self.alerts
        backlog = None
        if hasattr(writer, "backlog") and hasattr(writer, "forwarding"):
            def backlog() -> float:
                return float(writer.backlog()) if writer.forwarding() else 0.0
        outbox = None
        if alerts is not None and hasattr(getattr(alerts, "store", None), "pending"):
            def outbox() -> float:
                return float(alerts.store.pending())
        metrics.watch(backlog, outbox)

    def part_problems(self) -> dict[str, str]:
        """Each failing part and why: store (its last write), forwarder, scheduler (heartbeats stopped), data (the
        newest heartbeat is older than the views' staleness limit, core.state.stale_after)."""
        out = {part: f.reason for part, f in self.board.failing().items()}
        for part, check in self.parts.items():
            try:
                problem = check()
            except Exception as e:  # noqa: BLE001 - a health check must answer, whatever breaks
                problem = f"health check failed: {type(e).__name__}: {e}"
            if problem:
                out[part] = problem
        max_age = 3 * max(self.inv.defaults.heartbeat_s, 1.0)
        if self.scheduler is None or not self.scheduler.running:
            out["scheduler"] = "the scheduler is not running"
        else:
            last = self._last_cycle if self._last_cycle is not None else self.started_at
            idle = time.time() - last
            if idle > max_age + (self.engine.heartbeat_stats.duration_s if self.engine else 0.0):
                every = self.inv.defaults.heartbeat_s
                out["scheduler"] = f"no heartbeat cycle for {idle:.0f} s (expected every {every:g} s)"
            if self.engine is not None:  # the views' own rule (core.state): data older than that shows grey
                taken = self.engine.heartbeat_stats.started or self.started_at
                age, limit = time.time() - taken, stale_after(self.inv.defaults.heartbeat_s)
                if age > limit:
                    out["data"] = f"newest heartbeat data is {age:.0f} s old (stale after {limit:g} s)"
        return out

    def health(self) -> dict[str, object]:
        eng = self.engine
        if eng is None:
            return {"ok": False, "reason": "starting", "failing": {"scheduler": "starting"}}
        hb = eng.heartbeat_stats
        age = time.time() - hb.started if hb.started else None
        failing = self.part_problems()
        return {
            "ok": not failing,
            "failing": failing,
            "parts": {p: failing.get(p, "ok") for p in sorted({*self.parts, "store", "scheduler", *failing})},
            "devices": len(eng.devices),
            "icmp": eng.use_icmp,
            "last_heartbeat_age_s": None if age is None else round(age, 1),
            "devices_unreachable": hb.errors,
            "last_poll_seconds": round(eng.poll_stats.duration_s, 3),
            "last_poll_errors": eng.poll_stats.errors,
            "shard": self.inv.cluster.shard,
            **({"cluster": {"member": self.group.me, "members": self.group.membership.members,
                            "aps": self.group.aps()}} if self.group is not None else {}),
        }

    def status(self) -> dict[str, object]:
        """The current view of every device (collector.snapshot), as ``wifiwatch status`` shows it."""
        from collector.status import read_status

        states = dict(getattr(self.alerts, "states", {}) or {})
        store = getattr(self.alerts, "store", None)
        adhoc = store.maintenance() if store is not None and hasattr(store, "maintenance") else ()
        reader = self.writer if hasattr(self.writer, "latest") else _NoPoints()
        return read_status(self.inv, reader, states, time.time(), adhoc=adhoc)

    def _start_http(self) -> None:
        token = None
        if self.inv.http.token:
            token = self.resolver.resolve(self.inv.http.token).reveal()
        try:
            app = None
            if self.http_app is not None:
                try:
                    app = self.http_app(self, token)
                except Exception as e:  # noqa: BLE001 - the console must never take /healthz down with it
                    log.error("web console not started; serving /healthz, /status and /metrics alone",
                              extra=kv(error=f"{type(e).__name__}: {e}"))
            self.http = StatusServer(self.inv.http.bind, self.inv.http.port, self.health, token, self.status, app=app,
                                     slots=Slots(exempt=tuple(self.inv.console.trusted_proxies)))
        except (OSError, ValueError) as e:  # ValueError: core.netbind.BindError (a name that stopped resolving)
            log.error("HTTP endpoint not started: cannot bind %s:%s (%s)", self.inv.http.bind,
                      self.inv.http.port, getattr(e, "strerror", None) or e)
            return
        self.http.start()
        log.info("http endpoint listening", extra=kv(bind=self.inv.http.bind, port=self.http.port))


def _dt(ts: float) -> Any:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


class _NoPoints:
    """A writer that cannot be read back (tests, benchmarks): the status then has states but no measurements."""

    def latest(self, measurement: str) -> dict[object, object]:
        return {}
