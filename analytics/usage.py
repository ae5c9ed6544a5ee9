"""Usage and capacity from client-count and traffic samples: pure, time-weighted functions.

A sample holds until the next one, capped at ``max_gap_s`` (longer gaps are unknown, not zero).
Client-hours are the integral of concurrent clients; traffic volume integrates the rates
(rx_bps/tx_bps), which survive counter wraps and agent reboots where raw byte counters do not.
Hour and weekday are Japan time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

JST = ZoneInfo("Asia/Tokyo")


@dataclass(eq=False)
class Usage:
    peak_clients: int = 0
    mean_clients: float = 0.0
    client_hours: float = 0.0
    observed_h: float = 0.0
    rx_gb: float = 0.0
    tx_gb: float = 0.0
    # [weekday 0=Mon][hour] -> (client-hours, hours observed); an array (2.7 KB), not nested lists (22 KB): a
    # report holds one per AP, 10,000 of them at fleet scale
    profile: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((7, 24, 2)))

    def profile_mean(self) -> list[list[float | None]]:
        return [[None if h <= 0 else float(ch / h) for ch, h in day.tolist()] for day in self.profile]

    def busiest_hours(self, n: int = 3) -> list[tuple[int, int, float]]:
        """(weekday, hour, mean clients), busiest first."""
        cells = [(d, h, v) for d, row in enumerate(self.profile_mean()) for h, v in enumerate(row) if v is not None]
        return sorted(cells, key=lambda c: (-c[2], c[0], c[1]))[:n]


Floats = npt.NDArray[np.float64]
JST_OFFSET_S = 9 * 3600  # Japan has kept UTC+9 without summer time since 1951


def _as_arrays(samples: Sequence[tuple[float, float]]) -> tuple[Floats, Floats]:
    a = np.array(samples, dtype=np.float64).reshape(len(samples), 2)
    return a[:, 0], a[:, 1]


def held(t: Floats, v: Floats, start: float, end: float, max_gap_s: float) -> tuple[Floats, Floats, Floats]:
    """(from, to, value) arrays of the sample-and-hold pieces within [start, end), in time order.

    Samples at the same time: the highest value holds (the others hold for no time)."""
    if not len(t):
        return t, t, v
    order = np.lexsort((v, t))
    t, v = t[order], v[order]
    nxt = np.empty_like(t)
    nxt[:-1] = t[1:]
    nxt[-1] = t[-1] + max_gap_s
    a = np.maximum(t, start)
    b = np.minimum(np.minimum(nxt, t + max_gap_s), end)
    keep = b > a
    return a[keep], b[keep], v[keep]


def hour_pieces(a: Floats, b: Floats, v: Floats) -> tuple[Floats, Floats, Floats]:
    """The pieces [a, b) split at hour boundaries (in no particular order)."""
    xs, ys, vs = [], [], []
    while len(a):
        y = np.minimum(b, (a // 3600 + 1) * 3600)
        xs.append(a)
        ys.append(y)
        vs.append(v)
        more = b > y
        a, b, v = y[more], b[more], v[more]
    if not xs:
        return a, b, v
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(vs)


def jst_weekday_hour(x: Floats) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Weekday (0 = Monday) and hour in Japan time, as ``datetime.fromtimestamp(x, JST)`` gives them
    (including its rounding to the microsecond)."""
    whole = np.trunc(x)
    us = np.rint((x - whole) * 1e6)
    whole = whole + (us >= 1e6) - (us < 0)
    local = whole.astype(np.int64) + JST_OFFSET_S
    return (local // 86400 + 3) % 7, (local // 3600) % 24  # 1970-01-01 was a Thursday


def client_pieces(ct: Floats, cv: Floats, start: float, end: float,
                  max_gap_s: float = 900.0) -> tuple[Floats, Floats, Floats]:
    """The held client counts as (from, to, value) pieces that never cross an hour boundary."""
    return hour_pieces(*held(ct, cv, start, end, max_gap_s))


def usage_arrays(ct: Floats, cv: Floats, tt: Floats, rx: Floats, tx: Floats, start: float, end: float,
                 max_gap_s: float = 900.0) -> Usage:
    """:func:`usage` over arrays: client samples (ct, cv) and traffic samples (tt, rx, tx).

    Sums are taken in client-seconds and divided once, so integer counts at whole seconds add up exactly."""
    u = Usage()
    x, y, v = client_pieces(ct, cv, start, end, max_gap_s)
    if len(v):
        u.peak_clients = max(0, int(v.max()))
        d = y - x
        vd = v * d
        u.client_hours = float(vd.sum()) / 3600
        u.observed_h = float(d.sum()) / 3600
        day, hour = jst_weekday_hour(x)
        cell = day * 24 + hour
        ch = np.bincount(cell, weights=vd, minlength=168) / 3600
        oh = np.bincount(cell, weights=d, minlength=168) / 3600
        u.profile = np.stack([ch, oh], axis=-1).reshape(7, 24, 2)
    u.mean_clients = u.client_hours / u.observed_h if u.observed_h else 0.0
    for name, rate in (("rx_gb", rx), ("tx_gb", tx)):
        a, b, r = held(tt, rate, start, end, max_gap_s)
        setattr(u, name, float(((b - a) * r / 8).sum()) / 1e9)
    return u


def usage(clients: Sequence[tuple[float, float]], traffic: Sequence[tuple[float, float, float]], start: float,
          end: float, max_gap_s: float = 900.0) -> Usage:
    ct, cv = _as_arrays(clients)
    tr = np.array(traffic, dtype=np.float64).reshape(len(traffic), 3)
    return usage_arrays(ct, cv, tr[:, 0], tr[:, 1], tr[:, 2], start, end, max_gap_s)


def held_levels(t: Floats, v: Floats, start: float, end: float, max_gap_s: float = 900.0) -> tuple[Floats, Floats]:
    """(value, seconds held at it) for each distinct value: what :func:`hours_over` needs, for any capacity."""
    a, b, v = held(t, v, start, end, max_gap_s)
    levels, inv = np.unique(v, return_inverse=True)
    return levels, np.bincount(inv.reshape(-1), weights=b - a, minlength=len(levels)).astype(np.float64)


def hours_over_levels(levels: Floats, seconds: Floats, capacity: float) -> float:
    return float(seconds[levels > capacity].sum()) / 3600


def hours_over(clients: Sequence[tuple[float, float]], capacity: float, start: float, end: float,
               max_gap_s: float = 900.0) -> float:
    """Hours in [start, end) during which concurrent clients exceeded ``capacity``."""
    ct, cv = _as_arrays(clients)
    return hours_over_levels(*held_levels(ct, cv, start, end, max_gap_s), capacity)


def client_hours(ct: Floats, cv: Floats, start: float, end: float, max_gap_s: float = 900.0,
                 rolled: tuple[Floats, Floats, Floats] | None = None) -> float:
    """Client-hours in [start, end), as :func:`usage` counts them, where some hours are known only as hourly
    aggregates ``rolled`` = (hour start in s, samples, their sum): the raw rows of those hours were pruned.

    Raw samples hold as usual, except within the rolled-up hours, which count instead each sample held for the
    sampling step (an hour over the median sample count of those hours), at most the whole hour. For regular
    samples that equals the raw figure; it differs only where a sample held longer or shorter than one step
    (before a gap, irregular polling): within the resolution of an hourly rollup.
    """
    return client_hours_observed(ct, cv, start, end, max_gap_s, rolled)[0]


def client_hours_observed(ct: Floats, cv: Floats, start: float, end: float, max_gap_s: float = 900.0,
                          rolled: tuple[Floats, Floats, Floats] | None = None) -> tuple[float, float]:
    """(client-hours, observed hours) as :func:`client_hours` counts them: the observed hours are what a
    comparison needs to know whether the figure covers its period."""
    x, y, v = client_pieces(ct, cv, start, end, max_gap_s)
    if rolled is None or not len(rolled[0]):
        return float((v * (y - x)).sum()) / 3600, float((y - x).sum()) / 3600
    hours, count, total = rolled
    raw = ~np.isin(x // 3600 * 3600, hours)
    secs = float((v[raw] * (y[raw] - x[raw])).sum())
    seen = float((y[raw] - x[raw]).sum())
    has = count > 0
    if has.any():
        count, total = count[has], total[has]
        step = 3600 / float(np.median(count))
        held_s = np.minimum(count * step, 3600.0)
        secs += float((total / count * held_s).sum())
        seen += float(held_s.sum())
    return secs / 3600, seen / 3600
