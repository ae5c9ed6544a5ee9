"""Availability from heartbeat samples: pure functions over (time, up) samples and maintenance windows.

A sample speaks for the time until the next one, but for at most ``gap_factor`` heartbeat intervals:
beyond that the collector was not watching, and the time is UNKNOWN, counted neither up nor down.
Maintenance time is set aside and listed. Segments are built from the samples alone and only then
clipped to the period, so splitting a period never changes the total downtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

UP, DOWN, UNKNOWN, MAINT = "up", "down", "unknown", "maintenance"
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # epoch seconds
    up: bool


@dataclass
class Availability:
    start: float
    end: float
    up_s: float = 0.0
    down_s: float = 0.0
    unknown_s: float = 0.0
    maintenance_s: float = 0.0
    outages: list[tuple[float, float]] = field(default_factory=list)
    outages_known: bool = True  # False where raw samples of down hours were pruned: only the down time is known

    @property
    def watched_s(self) -> float:
        return self.up_s + self.down_s

    @property
    def pct(self) -> float | None:
        """% up over the time the collector was watching (outside maintenance); None if never watched."""
        return None if self.watched_s <= 0 else 100.0 * self.up_s / self.watched_s

    @property
    def n_outages(self) -> int:
        return len(self.outages)

    @property
    def mttr_s(self) -> float | None:
        return None if not self.outages else self.down_s / len(self.outages)

    @property
    def longest_s(self) -> float | None:
        return None if not self.outages else max(b - a for a, b in self.outages)


def segments(samples: Sequence[Sample], interval_s: float, gap_factor: float = 3.0) -> list[tuple[float, float, str]]:
    """(start, end, up|down|unknown) covering [first sample, last sample + interval)."""
    pts = sorted(samples, key=lambda s: s.t)
    out: list[tuple[float, float, str]] = []
    reach = gap_factor * interval_s
    for i, s in enumerate(pts):
        nxt = pts[i + 1].t if i + 1 < len(pts) else s.t + interval_s
        stop = min(nxt, s.t + reach)
        if stop > s.t:
            out.append((s.t, stop, UP if s.up else DOWN))
        if nxt > stop:
            out.append((stop, nxt, UNKNOWN))
    return out


def _subtract(seg: tuple[float, float], holes: Sequence[tuple[float, float]]) -> tuple[list[tuple[float, float]],
                                                                                      float]:
    """Parts of ``seg`` outside the holes, and the time inside them."""
    parts = [seg]
    inside = 0.0
    for h0, h1 in holes:
        nxt = []
        for a, b in parts:
            lo, hi = max(a, h0), min(b, h1)
            if lo >= hi:
                nxt.append((a, b))
                continue
            inside += hi - lo
            if a < lo:
                nxt.append((a, lo))
            if hi < b:
                nxt.append((hi, b))
        parts = nxt
    return parts, inside


def merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def runs(t: Floats, up: npt.NDArray[np.bool_], interval_s: float, gap_factor: float = 3.0) -> list[tuple[float, float,
                                                                                                  str]]:
    """:func:`segments` over arrays (``t`` ascending; at equal times the last sample counts), with neighbouring
    segments of the same state joined: a handful of runs instead of a segment per sample."""
    n = len(t)
    if not n:
        return []
    nxt = np.empty_like(t)
    nxt[:-1] = t[1:]
    nxt[-1] = t[-1] + interval_s
    stop = np.minimum(nxt, t + gap_factor * interval_s)
    # segment 2i: the sample's state [t, stop); segment 2i+1: unknown [stop, nxt); empty ones dropped
    a = np.empty(2 * n)
    b = np.empty(2 * n)
    code = np.empty(2 * n, dtype=np.int8)
    a[0::2], b[0::2], code[0::2] = t, stop, np.where(up, 0, 1)
    a[1::2], b[1::2], code[1::2] = stop, nxt, 2
    keep = b > a
    a, b, code = a[keep], b[keep], code[keep]
    if not len(a):
        return []
    # the segments tile [t0, t_last + interval) without gaps: a run ends where the state changes
    first = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
    last = np.concatenate((first[1:], [len(a)])) - 1
    names = (UP, DOWN, UNKNOWN)
    return [(float(a[i]), float(b[j]), names[code[i]]) for i, j in zip(first, last, strict=True)]


def availability(samples: Sequence[Sample], start: float, end: float, interval_s: float,
                 maintenance: Sequence[tuple[float, float]] = (), gap_factor: float = 3.0) -> Availability:
    """Up, down, unknown and maintenance time within [start, end), and the outages (down runs)."""
    pts = sorted(samples, key=lambda s: s.t)
    t = np.array([s.t for s in pts], dtype=np.float64)
    up = np.array([s.up for s in pts], dtype=np.bool_)
    return availability_arrays(t, up, start, end, interval_s, maintenance, gap_factor)


def availability_arrays(t: Floats, up: npt.NDArray[np.bool_], start: float, end: float, interval_s: float,
                        maintenance: Sequence[tuple[float, float]] = (), gap_factor: float = 3.0) -> Availability:
    """:func:`availability` over arrays of sample times (ascending) and states."""
    res = Availability(start, end)
    if end <= start:
        return res
    holes = merge((max(a, start), min(b, end)) for a, b in maintenance if min(b, end) > max(a, start))
    covered = 0.0
    downs: list[tuple[float, float]] = []
    for a, b, state in runs(t, up, interval_s, gap_factor):
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        covered += b - a
        parts, inside = _subtract((a, b), holes)
        res.maintenance_s += inside
        dur = sum(y - x for x, y in parts)
        if state == UP:
            res.up_s += dur
        elif state == DOWN:
            res.down_s += dur
            downs += parts
        else:
            res.unknown_s += dur
    # time with no segment at all (before the first sample, after the last) is unknown too, less maintenance
    gaps = (end - start) - covered
    if gaps > 0:
        in_maint = sum(b - a for a, b in holes)
        seg_maint = res.maintenance_s
        res.maintenance_s = in_maint
        res.unknown_s += gaps - (in_maint - seg_maint)
    res.outages = merge(downs)
    return res


def combine(parts: Sequence[Availability]) -> Availability:
    """A site's (or the fleet's) availability: the sum of its devices' up/down/unknown time."""
    if not parts:
        return Availability(0.0, 0.0)
    out = Availability(min(p.start for p in parts), max(p.end for p in parts))
    for p in parts:
        out.up_s += p.up_s
        out.down_s += p.down_s
        out.unknown_s += p.unknown_s
        out.maintenance_s += p.maintenance_s
        out.outages += p.outages
        out.outages_known &= p.outages_known
    out.outages.sort()
    return out
