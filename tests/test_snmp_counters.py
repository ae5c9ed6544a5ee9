"""Property tests for counter deltas, wraps, reboots and rates (collector/snmp/counters.py)."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from collector.snmp.counters import (
    DEFAULT_MAX_BPS,
    CounterSample,
    counter_delta,
    plausible,
    rate_bps,
    rates,
    rebooted,
)

U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)


@given(U64, st.integers(0, 2**40))
def test_64_bit_increase_is_exact(start: int, inc: int) -> None:
    assume(start + inc < 2**64)
    assert counter_delta(start, start + inc, 64) == inc


@given(U32, st.integers(0, 2**31 - 1))
def test_32_bit_wrap_recovers_the_increase(start: int, inc: int) -> None:
    cur = (start + inc) % 2**32
    assert counter_delta(start, cur, 32) == inc


@given(U64, U64)
def test_64_bit_decrease_is_a_reset_not_a_spike(a: int, b: int) -> None:
    assume(b < a)
    assert counter_delta(a, b, 64) is None


@given(U32, U32, st.sampled_from([32, 64]))
def test_delta_is_never_negative_nor_beyond_the_range(a: int, b: int, bits: int) -> None:
    d = counter_delta(a, b, bits)
    assert d is None or 0 <= d < 2**bits


def test_delta_rejects_missing_and_out_of_range_values() -> None:
    assert counter_delta(None, 5) is None
    assert counter_delta(5, None) is None
    assert counter_delta(-1, 5, 32) is None
    assert counter_delta(0, 2**32, 32) is None
    assert counter_delta(0, 1, 16) is None
    # a "wrap" of more than half the 32-bit range is far likelier a counter reset
    assert counter_delta(2**31 - 10, 5, 32) is None


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_uptime_going_back_is_a_reboot(a: int, b: int) -> None:
    assert rebooted(a, b) == (b < a)
    assert not rebooted(None, b) and not rebooted(a, None)


@given(st.integers(0, 10**12), st.floats(0.001, 1e5))
def test_rate_is_bits_per_second(delta: int, dt: float) -> None:
    r = rate_bps(delta, dt)
    assert r is not None and r >= 0
    assert abs(r - delta * 8 / dt) <= 1e-9 * max(1.0, r)


def test_rate_needs_a_positive_interval() -> None:
    assert rate_bps(100, 0) is None
    assert rate_bps(100, -1) is None
    assert rate_bps(None, 10) is None
    assert rate_bps(-5, 10) is None


@given(st.floats(0, 1e12), st.one_of(st.none(), st.floats(1e3, 1e11)))
def test_plausible_rates_never_exceed_the_interface_or_the_cap(bps: float, speed: float | None) -> None:
    if plausible(bps, speed):
        assert bps <= DEFAULT_MAX_BPS
        if speed:
            assert bps <= speed * 1.1


def _sample(t: float, up: int | None, rx: int | None, tx: int | None, bits: int = 64) -> CounterSample:
    return CounterSample(t, up, rx, tx, bits)


def test_first_sample_has_no_rate() -> None:
    assert rates(None, _sample(10.0, 100, 5, 5)) == (None, None)


@given(
    st.lists(st.tuples(st.floats(0.5, 600), st.integers(0, 10**9), st.integers(0, 10**9)), min_size=2, max_size=20),
    st.sampled_from([32, 64]),
)
def test_a_growing_counter_series_gives_its_true_rates(steps: list[tuple[float, int, int]], bits: int) -> None:
    t, up, rx, tx = 0.0, 1000, 2**32 - 3 if bits == 32 else 0, 0
    prev = _sample(t, up, rx % 2**bits, tx % 2**bits, bits)
    for dt, drx, dtx in steps:
        t += dt
        up += int(dt * 100)
        rx += drx
        tx += dtx
        cur = _sample(t, up, rx % 2**bits, tx % 2**bits, bits)
        rx_bps, tx_bps = rates(prev, cur, None, max_bps=1e15)  # steps stay below half the 32-bit range
        assert rx_bps is not None and abs(rx_bps - drx * 8 / dt) <= 1e-6 * max(1.0, rx_bps)
        assert tx_bps is not None and abs(tx_bps - dtx * 8 / dt) <= 1e-6 * max(1.0, tx_bps)
        prev = cur


@given(st.integers(1, 10**6), st.integers(0, 10**6 - 1), U64, U64, U64, U64)
def test_reboot_never_yields_a_rate(up_before: int, up_after: int, rx0: int, rx1: int, tx0: int, tx1: int) -> None:
    assume(up_after < up_before)
    prev = _sample(0.0, up_before, rx0, tx0)
    cur = _sample(60.0, up_after, rx1, tx1)
    assert rates(prev, cur) == (None, None)


@given(U64, U64, st.floats(0.1, 600), st.floats(1e6, 1e10))
def test_rates_are_never_negative_nor_faster_than_the_interface(a: int, b: int, dt: float, speed: float) -> None:
    rx, tx = rates(_sample(0.0, 10, a, a), _sample(dt, 10 + int(dt * 100), b, b), speed)
    for r in (rx, tx):
        assert r is None or 0 <= r <= speed * 1.1


def test_counter_width_change_restarts_the_series() -> None:
    prev = _sample(0.0, 100, 10, 10, 32)
    cur = _sample(60.0, 6100, 1000, 1000, 64)
    assert rates(prev, cur) == (None, None)
