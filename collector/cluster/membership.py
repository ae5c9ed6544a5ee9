"""Membership of a collector group: a lease per member in Redis, renewed every lease_s / 3.

Redis's own clock (TIME inside a Lua script) stamps every renewal, so members with skewed clocks still agree on
who is live. A member that missed two renewals (``live_for``) is not live; the first member that notices
claims its loss once (SET NX), so the group raises one incident per lost member.

Fail static: when Redis cannot be reached the member keeps its last assignment and says so (``problem``).
Once the others would count it lost (``live_for``), it asks them over HTTP (their ``/healthz``, at the address
each publishes with its lease): if one of them still reaches Redis, this member alone is cut off and the others
have taken its APs, so it stops polling them (``on_partitioned``) until Redis answers it again; if none does (or
none answers), Redis is down for the group and everyone keeps polling its last assignment (duplicate polling at
worst, never unwatched APs). When Redis answers again it renews, reads the live members and the assignment
follows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from core.inventory import ClusterSettings
from core.logs import kv

log = logging.getLogger("wifiwatch.cluster")

PREFIX = "wifiwatch:cluster:"
MEMBERS = PREFIX + "members"  # ZSET member -> last renewal (ms, Redis clock)
INFO = PREFIX + "info"  # HASH member -> {"aps": N, "started": ts}
GONE = PREFIX + "gone:"  # + member + ":" + last renewal: the claim of its loss (SET NX)
KEEP_DEAD_MS = 24 * 3600 * 1000  # expired members stay listed (as expired) this long

RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
return {now, all}
"""


@dataclass(frozen=True)
class Member:
    name: str
    renewed_ms: int
    age_s: float
    live: bool
    info: dict[str, Any]


def live_for(lease_s: float) -> float:
    """How old a member's last renewal may be while it counts as live: two renewals missed (2/3 of the lease).

    Renewals come every lease_s / 3 and the others look as often, so a member that dies is noticed at most
    lease_s after its death (it renewed at most lease_s / 3 before dying): its APs move within one lease."""
    return lease_s * 2 / 3


def connect(settings: ClusterSettings, password: str | None) -> redis.Redis:
    """A client whose commands give up within about a second: a lost Redis must not stall the daemon."""
    assert settings.redis is not None
    timeout = min(2.0, settings.lease_s / 3)
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(settings.redis, password=password, socket_timeout=timeout,
                                socket_connect_timeout=timeout, decode_responses=True, health_check_interval=0,
                                retry=Retry(NoBackoff(), 0))  # the lease loop retries; a call never backs off


def read_members(client: redis.Redis, lease_s: float, name: str = "", info: str = "") -> tuple[int, list[Member]]:
    """Renew ``name`` (if given) and list every member, live or expired, by Redis's clock."""
    now, flat = client.eval(RENEW, 2, MEMBERS, INFO, name, info, int(lease_s * 1000),  # type: ignore[misc]
                            KEEP_DEAD_MS)
    now = int(now)
    scores = {flat[i]: int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
    infos = client.hmget(INFO, list(scores)) if scores else []
    out = []
    for (m, ms), raw in zip(scores.items(), infos, strict=True):
        try:
            extra = json.loads(raw) if raw else {}
        except ValueError:
            extra = {}
        age = max(0.0, (now - ms) / 1000)
        out.append(Member(m, ms, age, age <= live_for(lease_s), extra if isinstance(extra, dict) else {}))
    return now, sorted(out, key=lambda x: x.name)


class Membership:
    """Holds this member's lease and the group's live members; calls ``on_change`` when they change and
    ``on_lost`` once per member whose lease expired (for the one member that claimed it)."""

    def __init__(self, settings: ClusterSettings, password: str | None,
                 on_change: Callable[[list[str]], None],
                 on_lost: Callable[[Member, list[str]], None] | None = None,
                 aps: Callable[[], int] = lambda: 0, http_url: str = "", http_token: str | None = None,
                 on_partitioned: Callable[[], None] | None = None):
        self.settings = settings
        self.name = settings.member
        self.lease_s = settings.lease_s
        self.client = connect(settings, password)
        self.on_change = on_change
        self.on_lost = on_lost
        self.aps = aps
        self.on_tick: Callable[[], object] | None = None  # after each renewal Redis accepted (shared acks)
        self.members: list[str] = []
        self.started = time.time()
        self.last_ok: float | None = None  # monotonic time of the last renewal Redis accepted
        self.ops = 0  # Redis commands sent (bench)
        self.http_url = http_url  # where the others reach this member's /healthz
        self.http_token = http_token
        self.on_partitioned = on_partitioned
        self.peers: dict[str, str] = {}  # live member -> its /healthz base URL, as last read from Redis
        self.partitioned = False  # cut off from Redis while a peer still reaches it: polling nothing
        self._problem: str | None = None
        self._loud_at = 0.0
        self._lock = threading.Lock()

    @property
    def interval_s(self) -> float:
        return self.lease_s / 3

    def problem(self) -> str | None:
        """The /healthz reason of part ``cluster``: None while the lease is being renewed."""
        with self._lock:
            return self._problem

    def _info(self) -> str:
        return json.dumps({"aps": self.aps(), "started": round(self.started, 3), "http": self.http_url})

    def publish(self) -> None:
        """Say at once how many APs this member now polls (``cluster status``), not at the next renewal."""
        try:
            self.ops += 1
            self.client.hset(INFO, self.name, self._info())
        except (redis.RedisError, OSError):
            pass

    def tick(self) -> bool:
        """Renew, read the members, act on changes; False (and fail static) when Redis did not answer."""
        info = self._info()
        try:
            _now, members = read_members(self.client, self.lease_s, self.name, info)
            self.ops += 3
        except (redis.RedisError, OSError) as e:
            self._unreachable(e)
            return False
        with self._lock:
            was, self._problem = self._problem, None
        self.last_ok = time.monotonic()
        if was is not None:
            log.warning("cluster: Redis answers again; resynchronising the assignment", extra=kv(member=self.name))
        live = sorted(m.name for m in members if m.live)
        self.peers = {m.name: str(m.info.get("http") or "") for m in members
                      if m.live and m.name != self.name and m.info.get("http")}
        if self.partitioned:  # back: take the share the group now gives this member
            self.partitioned = False
            log.warning("cluster: Redis reachable again after a partition; taking this member's share back",
                        extra=kv(member=self.name))
            self.members = []
        if live != self.members:
            log.info("cluster membership changed", extra=kv(member=self.name, live=",".join(live),
                                                            before=",".join(self.members)))
            self.members = live
            self.on_change(live)
        if self.on_tick is not None:
            self.on_tick()
        for m in members:
            if not m.live and m.age_s <= self.lease_s * 20 and self._claim_loss(m):
                log.error("cluster member lost: its lease expired; its APs go to the live members",
                          extra=kv(member=self.name, lost=m.name, lease_age_s=round(m.age_s, 1)))
                if self.on_lost is not None:
                    self.on_lost(m, live)
        return True

    def _claim_loss(self, m: Member) -> bool:
        try:
            self.ops += 1
            return bool(self.client.set(f"{GONE}{m.name}:{m.renewed_ms}", self.name, nx=True, ex=7 * 86400))
        except (redis.RedisError, OSError):
            return False

    def _unreachable(self, e: BaseException) -> None:
        if self.partitioned:  # standing down already: /healthz keeps saying why until Redis answers again
            return
        since = self.last_ok
        alone = since is None or time.monotonic() - since > self.lease_s
        reason = (f"Redis unreachable ({type(e).__name__}); polling the last assignment "
                  f"({self.aps()} APs, fail static)")
        with self._lock:
            first, self._problem = self._problem is None, reason
        if first:
            log.error("cluster: " + reason, extra=kv(member=self.name))
        lost_by_others = since is None or time.monotonic() - since > live_for(self.lease_s)
        if lost_by_others and not self.partitioned and self.peers and self._peer_reaches_redis():
            self.partitioned = True
            with self._lock:
                self._problem = (f"cut off from Redis while other members reach it: they took this member's APs; "
                                 f"polling none until Redis answers ({type(e).__name__})")
            log.error("cluster: partitioned from Redis (a peer still reaches it): stopped polling this member's "
                      "APs, which the others took over", extra=kv(member=self.name, peers=",".join(self.peers)))
            if self.on_partitioned is not None:
                self.on_partitioned()
            return
        if alone and not self.partitioned and time.monotonic() - self._loud_at > self.lease_s:
            self._loud_at = time.monotonic()
            log.error("cluster: no lease for over one lease period: other members may poll these APs too "
                      "(duplicate polling until Redis is back, never unwatched APs)",
                      extra=kv(member=self.name, lease_s=self.lease_s))

    def _peer_reaches_redis(self) -> bool:
        """True when a peer's /healthz answers and does not list a failing ``cluster`` part (it renews its lease);
        False when every peer is unreachable or also cut off (Redis down for everyone: fail static)."""
        import httpx

        headers = {"Authorization": f"Bearer {self.http_token}"} if self.http_token else {}
        for name, url in sorted(self.peers.items()):
            try:
                doc = httpx.get(url.rstrip("/") + "/healthz", headers=headers, timeout=min(1.0, self.interval_s))
                body = doc.json()
            except (httpx.HTTPError, ValueError):
                continue
            if isinstance(body, dict) and "cluster" not in (body.get("failing") or {}) and body.get("cluster"):
                log.info("cluster: a peer still reaches Redis", extra=kv(member=self.name, peer=name))
                return True
        return False

    def run(self, stop: threading.Event) -> None:
        """The background loop (the daemon's thread): tick every lease_s / 3 until ``stop``; then leave."""
        while not stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the lease loop must outlive a bug in a callback
                log.exception("cluster tick failed")
        self.leave()

    def leave(self) -> None:
        """A clean stop hands the APs over at once instead of after a lease period."""
        try:
            self.client.zrem(MEMBERS, self.name)
            self.client.hdel(INFO, self.name)
        except (redis.RedisError, OSError):
            pass
        self.client.close()


def group_document(settings: ClusterSettings, password: str | None) -> dict[str, Any]:
    """``{"members": [{"name", "aps", "lease_age_s"}], "expired": [...], "lease_s"}`` read from Redis without
    renewing anything (``wifiwatch cluster status``, the console's 収集グループ page). Raises RedisError/OSError."""
    client = connect(settings, password)
    try:
        _now, members = read_members(client, settings.lease_s)
    finally:
        client.close()

    def row(m: Member) -> dict[str, Any]:
        try:
            aps = int(m.info.get("aps", 0))
        except (TypeError, ValueError):
            aps = 0
        return {"name": m.name, "aps": aps, "lease_age_s": round(m.age_s, 2)}

    return {"members": [row(m) for m in members if m.live], "expired": [row(m) for m in members if not m.live],
            "lease_s": settings.lease_s}
