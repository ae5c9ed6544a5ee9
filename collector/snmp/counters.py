"""Counter arithmetic for traffic rates: wraps, agent reboots, first samples and implausible spikes.

Pure functions, so the rules are property-tested on their own (tests/test_snmp_counters.py). A rate is only
ever produced from two samples of the same counter width taken within one agent uptime; anything doubtful
gives ``None`` (no point) rather than a spike that would wreck a graph's scale or an average.
"""

from __future__ import annotations

from dataclasses import dataclass

# Above this a public-Wi-Fi AP's interface cannot be: a rate this high is a counter glitch, not traffic.
DEFAULT_MAX_BPS = 40e9
# A 32-bit decrease is read as a wrap only if the wrapped delta is below half the range; larger "wraps"
# are far likelier a counter reset (interface re-created, agent restarted without sysUpTime going back).
_WRAP_FRACTION = 0.5


def counter_delta(prev: int | None, cur: int | None, bits: int = 64) -> int | None:
    """Increase of a ``bits``-wide counter from ``prev`` to ``cur``, allowing one wrap; None if doubtful."""
    if prev is None or cur is None or bits not in (32, 64):
        return None
    modulus = 1 << bits
    if not (0 <= prev < modulus and 0 <= cur < modulus):
        return None
    if cur >= prev:
        return cur - prev
    if bits == 64:
        return None  # a Counter64 does not wrap in an AP's lifetime: a decrease is a reset
    wrapped = cur + modulus - prev
    return wrapped if wrapped < modulus * _WRAP_FRACTION else None


def rebooted(prev_uptime_ticks: int | None, cur_uptime_ticks: int | None) -> bool:
    """sysUpTime going back means the agent restarted (its counters restarted with it)."""
    return prev_uptime_ticks is not None and cur_uptime_ticks is not None and cur_uptime_ticks < prev_uptime_ticks


def rate_bps(delta_bytes: int | None, dt_s: float) -> float | None:
    """Bytes over seconds to bits per second; None without a usable interval."""
    if delta_bytes is None or delta_bytes < 0 or not dt_s or dt_s <= 0:
        return None
    return delta_bytes * 8.0 / dt_s


def plausible(bps: float | None, speed_bps: float | None = None, max_bps: float = DEFAULT_MAX_BPS) -> bool:
    """A rate no faster than the interface (with 10 % slack for timing jitter) nor the global cap."""
    if bps is None or bps < 0:
        return False
    limit = max_bps
    if speed_bps and speed_bps > 0:
        limit = min(limit, speed_bps * 1.1)
    return bps <= limit


@dataclass(frozen=True, slots=True)
class CounterSample:
    """One reading of an interface's octet counters, with when it was taken."""

    at_s: float  # local monotonic time of the poll
    uptime_ticks: int | None
    rx: int | None
    tx: int | None
    bits: int = 64


def rates(
    prev: CounterSample | None,
    cur: CounterSample,
    speed_bps: float | None = None,
    max_bps: float = DEFAULT_MAX_BPS,
) -> tuple[float | None, float | None]:
    """(rx_bps, tx_bps) between two samples; (None, None) for a first sample or after a reboot."""
    if prev is None or prev.bits != cur.bits or rebooted(prev.uptime_ticks, cur.uptime_ticks):
        return None, None
    dt = cur.at_s - prev.at_s
    out: list[float | None] = []
    for a, b in ((prev.rx, cur.rx), (prev.tx, cur.tx)):
        bps = rate_bps(counter_delta(a, b, cur.bits), dt)
        out.append(bps if plausible(bps, speed_bps, max_bps) else None)
    return out[0], out[1]
