"""Incident state shared by the members of a group, so one outage gives one DOWN and one UP message.

The alert engine (collector/alerts/engine.py) asks this object before it queues a message:
- ``open``: the first member to record a device's outage (SET NX of the open-incident record) tells people;
  another member that sees the same outage (an overlap while the group rebalances) records it quietly;
- ``close``: whoever removes the record (GETDEL, atomic) sends the recovery, even when another member, now
  dead, opened the outage;
- ``claim``: a reminder or escalation is queued by one member only;
- device states (the alert state machine of each device) are written through, so a member that takes over
  an AP continues its state (an AP already confirmed down is not announced again).

Redis unreachable: the engine falls back to its own store (fail open: a duplicate message is better than
none). Keys live under ``wifiwatch:cluster:``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

log = logging.getLogger("wifiwatch.cluster")

OPEN = "wifiwatch:cluster:incident:"  # + device + ":" + kind -> {"start", "severity", "member"}
CLAIM = "wifiwatch:cluster:claim:"
CLOSED = "wifiwatch:cluster:closed:"  # + device + ":" + kind -> when the group last closed it (a tombstone, 1 day)
CLOSE = """
local rec = redis.call('GET', KEYS[1])
if rec then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)
  return {rec, false}
end
return {false, redis.call('GET', KEYS[2])}
"""
WINDOWS = "wifiwatch:cluster:maintenance"  # HASH window id -> {"w": [target, start, end, reason] or null}
ROTA = "wifiwatch:cluster:rota"  # HASH shift (its content as JSON) -> "1" on the rota, "0" removed
ACKS = "wifiwatch:cluster:acks"  # HASH "device|kind" -> the acknowledgement of its current outage
SAME_OUTAGE_S = 120.0  # members' starts of one outage differ by a few heartbeats at most
STATES = "wifiwatch:cluster:states"  # HASH device -> the alert store's state encoding
UNKNOWN = object()  # ``close`` when Redis did not answer


class RedisDown(Exception):
    """Redis failed a moment ago: answer as if it failed again, without waiting on a socket in a heartbeat."""


class SharedIncidents:
    def __init__(self, client: redis.Redis, member: str, pause_s: float = 5.0):
        self.client = client
        self.member = member
        self.ops = 0
        self.pause_s = pause_s  # after a failure, Redis is not asked again for this long (a heartbeat never stalls)
        self._down_until = 0.0

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        if time.monotonic() < self._down_until:
            raise RedisDown()
        try:
            self.ops += 1
            return fn(*args, **kw)
        except (redis.RedisError, OSError):
            self._down_until = time.monotonic() + self.pause_s
            raise

    def open(self, device: str, kind: str, start: float, severity: str) -> bool:
        """True when this member opened the group's incident (and so tells people); True too without Redis."""
        rec = json.dumps({"start": start, "severity": severity, "member": self.member})
        try:
            return bool(self._call(self.client.set, f"{OPEN}{device}:{kind}", rec, nx=True))
        except (redis.RedisError, OSError, RedisDown) as e:
            log.warning("cluster: shared incident not recorded (Redis); alerting from this member alone",
                        extra={"device": device, "error": type(e).__name__})
            return True

    def close(self, device: str, kind: str, since: float, now: float) -> dict[str, Any] | None | object:
        """The open record this member removed (it sends the recovery, and leaves a tombstone); None: another
        member closed this outage (a tombstone newer than ``since``, the local start); UNKNOWN: Redis did not
        answer, or lost the record (a restart without persistence): this member's own record decides."""
        try:
            raw, closed_at = self._call(self.client.eval, CLOSE, 2, f"{OPEN}{device}:{kind}",
                                        f"{CLOSED}{device}:{kind}", now)
        except (redis.RedisError, OSError, RedisDown):
            return UNKNOWN
        if not raw:
            try:
                return None if closed_at and float(closed_at) >= since else UNKNOWN
            except ValueError:
                return UNKNOWN
        try:
            rec = json.loads(str(raw))
        except ValueError:
            return None
        return rec if isinstance(rec, dict) else None

    def open_records(self, devices: Iterable[str], kinds: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """The group's open incidents of ``devices`` (a member taking them over continues them)."""
        pairs = [(d, k) for d in devices for k in sorted(set(kinds))]
        if not pairs:
            return {}
        try:
            got = self._call(self.client.mget, [f"{OPEN}{d}:{k}" for d, k in pairs])
        except (redis.RedisError, OSError, RedisDown):
            return {}
        out = {}
        for pair, raw in zip(pairs, got, strict=True):
            try:
                rec = json.loads(str(raw)) if raw else None
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                out[pair] = rec
        return out

    def claim(self, key: str, ttl_s: float) -> bool:
        """True for exactly one member per ``key`` within ``ttl_s`` (and without Redis: fail open)."""
        try:
            return bool(self._call(self.client.set, CLAIM + key, self.member, nx=True,
                                   px=max(1000, int(ttl_s * 1000))))
        except (redis.RedisError, OSError, RedisDown):
            return True

    def save_states(self, encoded: Mapping[str, str]) -> None:
        if not encoded:
            return
        with contextlib.suppress(redis.RedisError, OSError, RedisDown):  # the local store keeps them
            self._call(self.client.hset, STATES, mapping=dict(encoded))

    def load_states(self, devices: Iterable[str]) -> dict[str, str]:
        ids = list(devices)
        if not ids:
            return {}
        try:
            got = self._call(self.client.hmget, STATES, ids)
        except (redis.RedisError, OSError, RedisDown):
            return {}
        return {d: str(v) for d, v in zip(ids, got, strict=True) if v}

    def sync_acks(self, store: Any) -> int:
        """Acknowledgements seen by every member: this member's acks of open outages go to Redis, and the
        others' are recorded here for the same outage (its start within ``SAME_OUTAGE_S``), so whichever member
        holds the outage stops its reminders and escalation. Returns how many were recorded here."""
        from collector.alerts import ack

        with store.tx() as c:
            rows = c.execute("SELECT i.id, i.device, i.kind, i.start, a.user, a.at, a.note FROM alert_incidents i "
                             "LEFT JOIN alert_ack a ON a.incident_id = i.id WHERE i.end IS NULL").fetchall()
        mine = {f"{dev}|{kind}": json.dumps({"start": start, "user": user, "at": at, "note": note})
                for _iid, dev, kind, start, user, at, note in rows if user is not None}
        need = [(iid, dev, kind, start) for iid, dev, kind, start, user, *_ in rows if user is None]
        try:
            if mine:
                self._call(self.client.hset, ACKS, mapping=mine)
            got = self._call(self.client.hmget, ACKS, [f"{d}|{k}" for _i, d, k, _s in need]) if need else []
        except (redis.RedisError, OSError, RedisDown):
            return 0
        added = 0
        with store.tx() as c:
            for (iid, _dev, _kind, start), raw in zip(need, got, strict=True):
                try:
                    rec = json.loads(str(raw)) if raw else None
                    same = isinstance(rec, dict) and abs(float(rec["start"]) - float(start)) <= SAME_OUTAGE_S
                except (ValueError, KeyError, TypeError):
                    same = False
                if same and ack.acknowledge(c, iid, str(rec["user"]), str(rec.get("note", "")),  # type: ignore[index,union-attr]
                                            float(rec["at"])):  # type: ignore[index]
                    added += 1
        return added

    def sync_windows(self, store: Any, last: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        """Maintenance windows added, changed or removed in any member's console, seen by every member.

        A three-way merge against ``last`` (the windows as this member last synchronised them): what changed
        here since then is published (a removal as a tombstone), then the group's versions are applied here.
        ``last`` None (a member starting): the group's versions win, and only windows it has never heard of
        are published. Returns the new ``last``; unchanged when Redis does not answer."""
        local = {w[0]: list(w[1:]) for w in store.maintenance()}
        try:
            if last is None:
                known = self._call(self.client.hkeys, WINDOWS)
                push = {wid: json.dumps({"w": w}) for wid, w in local.items() if wid not in set(known)}
            else:
                push = {wid: json.dumps({"w": w}) for wid, w in local.items() if last.get(wid) != w}
                push.update({wid: json.dumps({"w": None}) for wid in last if wid not in local})
            if push:
                self._call(self.client.hset, WINDOWS, mapping=push)
            remote = self._call(self.client.hgetall, WINDOWS)
        except (redis.RedisError, OSError, RedisDown):
            return last
        for wid, raw in dict(remote).items():
            wid = str(wid)
            if wid in push:
                continue
            try:
                w = json.loads(str(raw)).get("w")
            except (ValueError, AttributeError):
                continue
            if w is None and wid in local:
                store.remove_maintenance(wid)
                local.pop(wid)
            elif isinstance(w, list) and len(w) == 4 and local.get(wid) != w:
                if wid in local:
                    store.remove_maintenance(wid)
                store.add_maintenance(wid, *(str(x) for x in w))
                local[wid] = [str(x) for x in w]
        return local

    def sync_rota(self, store: Any, last: set[str] | None) -> set[str] | None:
        """The on-duty rota edited in any member's console, seen by every member: a set of shifts (a shift is
        its content; ids are each store's own), merged three-way like the maintenance windows."""
        from collector.alerts import rota

        with store.tx() as c:
            mine = {self._shift_key(s): s.id for s in rota.shifts(c)}
        try:
            if last is None:
                known = set(self._call(self.client.hkeys, ROTA))
                push = {k: "1" for k in mine if k not in known}
            else:
                push = {k: "1" for k in mine if k not in last}
                push.update({k: "0" for k in last if k not in mine})
            if push:
                self._call(self.client.hset, ROTA, mapping=push)
            remote = dict(self._call(self.client.hgetall, ROTA))
        except (redis.RedisError, OSError, RedisDown):
            return last
        with store.tx() as c:
            for key, live in remote.items():
                key = str(key)
                if key in push:
                    continue
                if str(live) == "0" and key in mine:
                    rota.remove_shift(c, mine.pop(key))
                elif str(live) == "1" and key not in mine:
                    try:
                        ch, target, days, start, end, person = json.loads(key)
                        mine[key] = rota.add_shift(c, ch, target, tuple(days), dt.time.fromisoformat(start),
                                                   dt.time.fromisoformat(end), person)
                    except (ValueError, TypeError):
                        continue
        return set(mine)

    @staticmethod
    def _shift_key(s: Any) -> str:
        return json.dumps([s.channel, s.target, list(s.weekdays), s.start.isoformat("minutes"),
                           s.end.isoformat("minutes"), s.person], ensure_ascii=False)
