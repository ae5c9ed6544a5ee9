"""Usage and capacity from client-count and traffic samples: pure, time-weighted functions.

A sample holds until the next one, capped at ``max_gap_s`` (longer gaps are unknown, not zero).
Client-hours are the integral of concurrent clients; traffic volume integrates the rates
(rx_bps/tx_bps), which survive counter wraps and agent reboots where raw byte counters do not.
Hour and weekday are Japan time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


@dataclass
class Usage:
    peak_clients: int = 0
    mean_clients: float = 0.0
    client_hours: float = 0.0
    observed_h: float = 0.0
    rx_gb: float = 0.0
    tx_gb: float = 0.0
    # [weekday 0=Mon][hour] -> (client-hours, hours observed)
    profile: list[list[list[float]]] = field(default_factory=lambda: [[[0.0, 0.0] for _ in range(24)]
                                                                      for _ in range(7)])

    def profile_mean(self) -> list[list[float | None]]:
        return [[None if h <= 0 else ch / h for ch, h in day] for day in self.profile]

    def busiest_hours(self, n: int = 3) -> list[tuple[int, int, float]]:
        """(weekday, hour, mean clients), busiest first."""
        cells = [(d, h, v) for d, row in enumerate(self.profile_mean()) for h, v in enumerate(row) if v is not None]
        return sorted(cells, key=lambda c: (-c[2], c[0], c[1]))[:n]


def _held(samples: Sequence[tuple[float, float]], start: float, end: float,
          max_gap_s: float) -> Iterator[tuple[float, float, float]]:
    """(from, to, value) pieces of the sample-and-hold series within [start, end)."""
    pts = sorted(samples)
    for i, (t, v) in enumerate(pts):
        nxt = pts[i + 1][0] if i + 1 < len(pts) else t + max_gap_s
        a, b = max(t, start), min(nxt, t + max_gap_s, end)
        if b > a:
            yield a, b, v


def _hour_pieces(a: float, b: float) -> Iterator[tuple[float, float]]:
    """Split [a, b) at hour boundaries."""
    while a < b:
        nxt = min(b, (a // 3600 + 1) * 3600)
        yield a, nxt
        a = nxt


def usage(clients: Sequence[tuple[float, float]], traffic: Sequence[tuple[float, float, float]], start: float,
          end: float, max_gap_s: float = 900.0) -> Usage:
    u = Usage()
    for a, b, v in _held(clients, start, end, max_gap_s):
        u.peak_clients = max(u.peak_clients, int(v))
        for x, y in _hour_pieces(a, b):
            h = (y - x) / 3600
            u.client_hours += v * h
            u.observed_h += h
            local = dt.datetime.fromtimestamp(x, JST)
            cell = u.profile[local.weekday()][local.hour]
            cell[0] += v * h
            cell[1] += h
    u.mean_clients = u.client_hours / u.observed_h if u.observed_h else 0.0
    rx = [(t, r) for t, r, _ in traffic]
    tx = [(t, x) for t, _, x in traffic]
    u.rx_gb = sum((b - a) * v / 8 for a, b, v in _held(rx, start, end, max_gap_s)) / 1e9
    u.tx_gb = sum((b - a) * v / 8 for a, b, v in _held(tx, start, end, max_gap_s)) / 1e9
    return u


def hours_over(clients: Sequence[tuple[float, float]], capacity: float, start: float, end: float,
               max_gap_s: float = 900.0) -> float:
    """Hours in [start, end) during which concurrent clients exceeded ``capacity``."""
    return sum(b - a for a, b, v in _held(clients, start, end, max_gap_s) if v > capacity) / 3600
