"""The daemon's side of a collector group: the lease loop, the assignment it follows, the lost-member alert.

Kept out of collector/daemon.py (which only calls ``Group(...).start()``) so one machine imports no Redis.
The assignment is recomputed on every membership change and applied on the daemon's event loop: the engine
keeps only this member's devices and the heartbeat/poll jobs are rescheduled, with no restart.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from typing import Any

from collector.cluster.assignment import devices_by_member
from collector.cluster.incidents import SharedIncidents
from collector.cluster.membership import Member, Membership
from collector.engine import devices_of
from core.logs import kv
from core.schema import ROLE_AP

log = logging.getLogger("wifiwatch.cluster")


class Group:
    def __init__(self, daemon: Any, loop: asyncio.AbstractEventLoop):
        self.daemon = daemon
        self.loop = loop
        c = daemon.inv.cluster
        password = daemon.resolver.resolve(c.password).reveal() if c.password else None
        self.me = c.member
        http = daemon.inv.http
        host = socket.gethostname() if http.bind in ("0.0.0.0", "::", "") else http.bind
        url = f"http://[{host}]:{http.port}" if ":" in host else f"http://{host}:{http.port}"
        token = daemon.resolver.resolve(http.token).reveal() if http.token else None
        self.membership = Membership(c, password, self._changed, self._lost, self.aps, http_url=url,
                                     http_token=token, on_partitioned=self._partitioned)
        self.owned: set[str] = set()
        self.assignment: dict[str, list[str]] = {}
        self._started = False
        self._windows: dict[str, list[str]] | None = None  # maintenance windows as last synchronised
        self._rota: set[str] | None = None  # the rota's shifts as last synchronised

    def start(self) -> None:
        """Join (one synchronous renewal), take this member's share, then renew in the daemon's background."""
        if self.membership.tick():
            self.apply(self.membership.members)
            self.membership.publish()
        else:  # Redis unreachable at start and nothing learnt yet: poll everything (duplicates, never unwatched)
            self.apply([self.me])
        self._started = True
        self.daemon.parts["cluster"] = self.membership.problem
        self.daemon.background.append(self.membership.run)
        if self.daemon.alerts is not None:
            shared = SharedIncidents(self.membership.client, self.me)
            self.daemon.alerts.shared = shared
            self.membership.on_tick = lambda: self._sync(shared)

    def _sync(self, shared: SharedIncidents) -> None:
        """After each renewal: acknowledgements and console-added maintenance windows, group-wide."""
        alerts = self.daemon.alerts
        if getattr(alerts, "duty", False):  # the ack and rota tables exist
            shared.sync_acks(alerts.store)
            self._rota = shared.sync_rota(alerts.store, self._rota)
        self._windows = shared.sync_windows(alerts.store, self._windows)

    def aps(self) -> int:
        eng = self.daemon.engine
        return sum(1 for d in eng.devices if d.role == ROLE_AP) if eng is not None else 0

    def _changed(self, live: list[str]) -> None:
        if self._started:  # from the lease thread: apply on the event loop, between cycles
            self.loop.call_soon_threadsafe(self.apply, live)

    def apply(self, live: list[str]) -> None:
        d = self.daemon
        members = live if self.me in live else [*live, self.me]
        self.assignment = devices_by_member(d.inv, members)
        owned = set(self.assignment.get(self.me, []))
        gained = owned - self.owned
        lost = self.owned - owned
        self.owned = owned
        d.engine.owns = owned.__contains__
        if d.alerts is not None:  # "monitoring lost" means this member lost every device it polls
            d.alerts.owned = {x.id for x in devices_of(d.inv, owned.__contains__)}
        d.engine.reload(d.inv)
        if d.alerts is not None and gained and getattr(d.alerts, "shared", None) is not None:
            d.alerts.adopt_states(sorted(gained))
        if d.scheduler is not None:
            d._schedule()
        if self._started:
            self.membership.publish()
        log.info("cluster assignment", extra=kv(member=self.me, members=",".join(members), devices=len(owned),
                                                aps=self.aps(), gained=len(gained), given_up=len(lost)))

    def _partitioned(self) -> None:
        """Cut off from Redis while a peer reaches it: the others took this member's APs, so it polls none."""
        if self._started:
            self.loop.call_soon_threadsafe(self.stand_down)

    def stand_down(self) -> None:
        d = self.daemon
        given_up = len(self.owned)
        self.owned = set()
        d.engine.owns = self.owned.__contains__
        if d.alerts is not None:
            d.alerts.owned = set()
        d.engine.reload(d.inv)
        if d.scheduler is not None:
            d._schedule()
        log.error("cluster: standing down (partitioned from Redis)", extra=kv(member=self.me, given_up=given_up))

    def _lost(self, member: Member, live: list[str]) -> None:
        """This member claimed the loss of ``member``: one incident and one message naming where its APs went."""
        d = self.daemon
        if d.alerts is None:
            return
        before = devices_by_member(d.inv, [*live, member.name]).get(member.name, [])
        now_owner = {dev: m for m, devs in devices_by_member(d.inv, live or [self.me]).items() for dev in devs}
        where = Counter(now_owner.get(dev, "-") for dev in before)
        moved = ", ".join(f"{m} ({n})" for m, n in sorted(where.items())) or "-"
        values = {"member": member.name, "moved": moved, "members": ", ".join(live) or "-",
                  "device_count": len(before)}
        if d.alerts.group_event("member_lost", f"member:{member.name}:{member.renewed_ms}", values, time.time()):
            self.loop.call_soon_threadsafe(d._trap_acted)
