"""The one state model: what every view (状況, site and AP pages, both maps, ``wifiwatch status``, ``/status``,
reports' live tables) shows for a device, and how a fleet's counts are made. Views pick words and colours from
here; they never decide a state.

Decisions, made once in :func:`decide` (after Alertmanager's silences and Home Assistant's ``unavailable``):

* ``stale`` wins over everything: the device's newest heartbeat (or the whole monitor's, when the daemon is
  stopped) is older than two heartbeat periods (plus :data:`GRACE_S`, a cycle's own run time), or there is no
  live heartbeat at all. The last confirmed state is kept as ``confirmed`` for a hint, never shown as current.
* ``maintenance`` when an active window covers the device: the alert state is kept (``confirmed`` stays
  ``down``) with the reason ``maintenance:<window id>``, as Alertmanager keeps a silenced alert active.
* otherwise the alert state machine's confirmed state: up, degraded, down, or unknown before it has one.

Further reasons: ``behind_uplink`` (an AP whose site uplink is confirmed down), ``flapping``, ``no_data``.
A site's counts are over its APs only; uplinks are counted apart. Imports only ``core``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

GRACE_S = 5.0  # a heartbeat cycle's own run time (probe timeout, writes) on top of the two periods
STALE_BEATS = 2.0


class State(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"
    STALE = "stale"


STATES: tuple[State, ...] = tuple(State)
CONFIRMED = ("up", "degraded", "down")  # what the alert state machine confirms (anything else: unknown)

# worst first for a site's badge: a site with one down AP is a down site
RANK = {State.DOWN: 5, State.DEGRADED: 4, State.STALE: 3, State.UNKNOWN: 2, State.MAINTENANCE: 1, State.UP: 0}

_CONFIRMED = {s: State(s) for s in CONFIRMED}  # State(x) costs ~15 µs (enum lookup): 10,000 APs on every page
_RANK_OF: dict[str, int] = {str(k): v for k, v in RANK.items()}

LABELS: dict[str, tuple[str, str]] = {  # state -> (ja, en)
    State.UP: ("稼働", "up"),
    State.DEGRADED: ("品質低下", "degraded"),
    State.DOWN: ("停止", "down"),
    State.MAINTENANCE: ("保守中", "maintenance"),
    State.UNKNOWN: ("不明", "unknown"),
    State.STALE: ("データが古い", "stale"),
}
# map and console colours (hex) and the CLI's (rich names); stale and unknown are grey, never green
COLORS: dict[str, str] = {State.UP: "#2e7d32", State.DEGRADED: "#b7791f", State.DOWN: "#c62828",
                          State.MAINTENANCE: "#1565c0", State.UNKNOWN: "#757575", State.STALE: "#9e9e9e"}
TERM_COLORS: dict[str, str] = {State.UP: "green", State.DEGRADED: "yellow", State.DOWN: "red",
                               State.MAINTENANCE: "blue", State.UNKNOWN: "dim", State.STALE: "dim"}

REASON_LABELS: dict[str, tuple[str, str]] = {
    "maintenance": ("保守期間", "maintenance window"),
    "behind_uplink": ("上位回線の停止", "behind a down uplink"),
    "flapping": ("不安定", "flapping"),
    "stale": ("データが古い", "data too old"),
    "monitor_stopped": ("監視停止中", "monitoring stopped"),
    "no_data": ("データなし", "no data"),
}

# the monitor as a whole (the banner on every live view)
MONITOR_LABELS: dict[str, tuple[str, str]] = {
    "live": ("監視中", "monitoring"),
    "stale": ("監視停止中: データが古い", "monitoring stopped: data too old"),
    "no_data": ("監視停止中: ライブデータがありません", "monitoring stopped: no live data"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def label(state: str, lang: str = "ja") -> str:
    return _pick(LABELS.get(state, LABELS[State.UNKNOWN]), lang)


def reason_label(reason: str, lang: str = "ja") -> str:
    """``maintenance:w1`` -> 保守期間 w1; unknown reasons as written."""
    key, _, arg = reason.partition(":")
    pair = REASON_LABELS.get(key)
    if pair is None:
        return reason
    return _pick(pair, lang) + (f" {arg}" if arg else "")


def monitor_label(monitor: str, lang: str = "ja") -> str:
    return _pick(MONITOR_LABELS.get(monitor, MONITOR_LABELS["no_data"]), lang)


def stale_after(heartbeat_s: float) -> float:
    """Seconds after which a heartbeat no longer speaks for now."""
    return STALE_BEATS * max(heartbeat_s, 0.1) + GRACE_S


def monitor_state(newest_live_beat: float | None, heartbeat_s: float, now: float) -> str:
    """``live``, ``stale`` (the newest live heartbeat is too old: the daemon stopped or stopped writing) or
    ``no_data`` (no live heartbeat at all: only the demo's simulated history, or nothing)."""
    if newest_live_beat is None:
        return "no_data"
    return "live" if now - newest_live_beat <= stale_after(heartbeat_s) else "stale"


def decide(confirmed: str | None, *, last_beat: float | None, heartbeat_s: float, now: float,
           monitor: str = "live", window: str | None = None, behind_uplink: bool = False,
           flapping: bool = False) -> tuple[State, tuple[str, ...]]:
    """The state a device shows and why. ``confirmed``: the alert state machine's confirmed state (None: none
    yet); ``last_beat``: its newest live heartbeat; ``window``: the id of the active maintenance window covering
    it; ``monitor``: :func:`monitor_state` of the whole fleet."""
    reasons: list[str] = []
    if window is not None:
        reasons.append(f"maintenance:{window}")
    if behind_uplink:
        reasons.append("behind_uplink")
    if flapping:
        reasons.append("flapping")
    if monitor != "live":
        return State.STALE, ("monitor_stopped", *reasons)
    if last_beat is None:
        return State.STALE, ("no_data", *reasons)
    if now - last_beat > stale_after(heartbeat_s):
        return State.STALE, ("stale", *reasons)
    if window is not None:
        return State.MAINTENANCE, tuple(reasons)
    return _CONFIRMED.get(confirmed or "", State.UNKNOWN), tuple(reasons)


def rollup(states: Iterable[str]) -> str:
    """A site's badge: its worst device state (unknown for a site with none)."""
    return str(max(states, key=_RANK_OF.__getitem__, default=State.UNKNOWN))


def count(states: Iterable[str]) -> dict[str, int]:
    """Devices per state, every state present (0 included) in :data:`STATES` order."""
    out = dict.fromkeys((str(s) for s in STATES), 0)
    for s in states:
        out[str(s)] += 1
    return out


def legend(lang: str = "ja") -> list[tuple[str, str, str]]:
    """(state, label, colour) for every state: both maps' legends."""
    return [(str(s), label(s, lang), COLORS[s]) for s in STATES]


def age_text(age_s: float | None, lang: str = "ja") -> str:
    """How old data is, in words a person reads at a glance: 12 秒前, 5 分前, 3 時間前, 2 日前."""
    if age_s is None:
        return "-"
    a = max(0, int(age_s))
    for unit_s, ja, en in ((86400, "日", "d"), (3600, "時間", "h"), (60, "分", "min"), (1, "秒", "s")):
        if a >= unit_s or unit_s == 1:
            n = a // unit_s
            return f"{n} {ja}前" if lang != "en" else f"{n} {en} ago"
    return "-"  # pragma: no cover

