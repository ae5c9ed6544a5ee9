"""Per-device alert state machine: pure functions, no clock and no I/O, so it can be property-tested.

UP -> SUSPECT -> DOWN after ``down_after`` consecutive failed heartbeats; DOWN -> RECOVERING -> UP after
``up_after`` consecutive good ones (hysteresis both ways). DEGRADED for sustained loss/RTT above the
thresholds or clients above capacity for ``saturation_minutes``. UNKNOWN until the first data, and
whenever the collector has none. More than ``flap_changes`` UP/DOWN changes within ``flap_window_s``
makes the device FLAPPING: one alert, then silence until it has been stable for the window.
Counters are capped so a steady device's state stops changing (and need not be re-saved).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class State(StrEnum):
    UP = "up"
    SUSPECT = "suspect"
    DOWN = "down"
    RECOVERING = "recovering"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    reachable: bool
    rtt_ms: float | None = None
    loss_pct: float | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    down_after: int = 3
    up_after: int = 2
    degraded_loss_pct: float = 20.0
    degraded_rtt_ms: float = 300.0
    saturation_s: float = 900.0
    flap_changes: int = 4
    flap_window_s: float = 900.0


@dataclass(frozen=True, slots=True)
class DeviceState:
    confirmed: State = State.UNKNOWN  # UP, DOWN, DEGRADED or UNKNOWN: what alerts are about
    phase: State = State.UNKNOWN  # what the last heartbeat suggests (adds SUSPECT, RECOVERING)
    fails: int = 0
    oks: int = 0
    bad_quality: int = 0
    good_quality: int = 0
    first_fail_at: float | None = None  # start of the current failure streak: the outage start
    first_ok_at: float | None = None  # start of the current success streak: when a DOWN device came back
    since: float | None = None  # when ``confirmed`` began
    saturated_since: float | None = None
    saturated: bool = False
    changes: tuple[float, ...] = ()  # times of recent UP<->DOWN changes
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """A confirmed change worth an event: kind in down, up, degraded, degraded_clear, flapping, flap_end."""

    kind: str
    at: float
    previous: State
    current: State
    started_at: float | None = None  # for "up": when the outage began
    cause: str = ""
    ended_at: float | None = None  # for "up": the first good heartbeat, when the device was back

    @property
    def end(self) -> float:
        return self.ended_at if self.ended_at is not None else self.at

    @property
    def duration_s(self) -> float | None:
        return None if self.started_at is None else max(0.0, self.end - self.started_at)


def _flap(s: DeviceState, now: float, t: Thresholds, out: list[Transition]) -> DeviceState:
    """Record an UP/DOWN change and enter FLAPPING when there were too many within the window."""
    changes = tuple(c for c in (*s.changes, now) if now - c <= t.flap_window_s)
    s = replace(s, changes=changes)
    if not s.flapping and len(changes) > t.flap_changes:
        out.append(Transition("flapping", now, s.confirmed, s.confirmed,
                              cause=f"{len(changes)} changes in {t.flap_window_s / 60:.0f} min"))
        s = replace(s, flapping=True)
    return s


def step(s: DeviceState, hb: Heartbeat | None, now: float, t: Thresholds) -> tuple[DeviceState, list[Transition]]:
    """Advance one heartbeat. ``hb`` None means the collector has no data for this device."""
    out: list[Transition] = []
    if s.flapping and s.changes and now - s.changes[-1] > t.flap_window_s:
        s = replace(s, flapping=False, changes=())
        out.append(Transition("flap_end", now, s.confirmed, s.confirmed))
    if hb is None:
        return replace(s, phase=State.UNKNOWN), out

    if not hb.reachable:
        first = s.first_fail_at if s.fails > 0 and s.first_fail_at is not None else now
        s = replace(s, fails=min(s.fails + 1, t.down_after), oks=0, first_fail_at=first, first_ok_at=None,
                    bad_quality=0, good_quality=0)
        if s.confirmed == State.DOWN:
            return replace(s, phase=State.DOWN), out
        if s.fails >= t.down_after:
            prev = s.confirmed
            s = replace(s, confirmed=State.DOWN, phase=State.DOWN, since=first)
            if prev != State.UNKNOWN:
                s = _flap(s, now, t, out)
            out.append(Transition("down", now, prev, State.DOWN, started_at=first, cause="no heartbeat reply"))
            return s, out
        return replace(s, phase=State.SUSPECT), out

    # reachable
    first_ok = s.first_ok_at if s.oks > 0 and s.first_ok_at is not None else now
    s = replace(s, oks=min(s.oks + 1, t.up_after), fails=0, first_ok_at=first_ok)
    if s.confirmed == State.DOWN:
        if s.oks >= t.up_after:
            started = s.since
            s = replace(s, confirmed=State.UP, phase=State.UP, since=first_ok, first_fail_at=None)
            s = _flap(s, now, t, out)
            out.append(Transition("up", now, State.DOWN, State.UP, started_at=started, ended_at=first_ok))
            return s, out
        return replace(s, phase=State.RECOVERING), out
    if s.confirmed == State.UNKNOWN:
        s = replace(s, confirmed=State.UP, phase=State.UP, since=now, first_fail_at=None)
        return s, out

    # UP or DEGRADED: link quality
    poor = (hb.loss_pct is not None and hb.loss_pct > t.degraded_loss_pct) or (
        hb.rtt_ms is not None and hb.rtt_ms > t.degraded_rtt_ms)
    if poor:
        s = replace(s, bad_quality=min(s.bad_quality + 1, t.down_after), good_quality=0)
    else:
        s = replace(s, good_quality=min(s.good_quality + 1, t.up_after), bad_quality=0)
    s = replace(s, first_fail_at=None, phase=s.confirmed)  # a reply ends the suspicion a miss raised
    return _quality(s, now, t, out)


def observe_clients(s: DeviceState, clients: int | None, capacity: int, now: float,
                    t: Thresholds) -> tuple[DeviceState, list[Transition]]:
    """Saturation: clients above capacity continuously for ``saturation_s`` makes the device DEGRADED."""
    out: list[Transition] = []
    if clients is None:
        return s, out
    if clients > capacity:
        since = s.saturated_since if s.saturated_since is not None else now
        s = replace(s, saturated_since=since, saturated=now - since >= t.saturation_s)
    else:
        s = replace(s, saturated_since=None, saturated=False)
    return _quality(s, now, t, out, cause=f"clients {clients} > capacity {capacity}" if s.saturated else "")


def _quality(s: DeviceState, now: float, t: Thresholds, out: list[Transition],
             cause: str = "") -> tuple[DeviceState, list[Transition]]:
    if s.confirmed not in (State.UP, State.DEGRADED):
        return s, out
    degraded = s.saturated or s.bad_quality >= t.down_after
    healthy = not s.saturated and s.good_quality >= t.up_after
    if s.confirmed == State.UP and degraded:
        why = cause or ("saturated" if s.saturated else "high loss or RTT")
        s = replace(s, confirmed=State.DEGRADED, phase=State.DEGRADED, since=now)
        out.append(Transition("degraded", now, State.UP, State.DEGRADED, cause=why))
    elif s.confirmed == State.DEGRADED and healthy:
        started = s.since
        s = replace(s, confirmed=State.UP, phase=State.UP, since=now)
        out.append(Transition("degraded_clear", now, State.DEGRADED, State.UP, started_at=started))
    return s, out


def trap_step(s: DeviceState, reachable: bool, now: float, t: Thresholds,
              cause: str) -> tuple[DeviceState, list[Transition]]:
    """A trap confirmed by a probe: the change happens now, as if the whole streak had agreed.

    Only a DOWN (for an unreachable device not yet DOWN) or an UP (for a DOWN device that answers) can
    come of it; anything else leaves the state alone, so a trap never contradicts the heartbeats' record.
    """
    if not reachable:
        if s.confirmed == State.DOWN:
            return s, []
        first = s.first_fail_at if s.fails > 0 and s.first_fail_at is not None else now
        s = replace(s, fails=max(0, t.down_after - 1), oks=0, first_fail_at=first)
        s2, out = step(s, Heartbeat(False), now, t)
        return s2, [replace(tr, cause=cause) if tr.kind == "down" else tr for tr in out]
    if s.confirmed != State.DOWN:
        return s, []
    first_ok = s.first_ok_at if s.oks > 0 and s.first_ok_at is not None else now
    s = replace(s, oks=max(0, t.up_after - 1), fails=0, first_ok_at=first_ok)
    return step(s, Heartbeat(True), now, t)
