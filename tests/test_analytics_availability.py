"""Availability: pure functions, property-tested (bounds, conservation of time, splitting invariance)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.availability import Sample, availability, combine

samples = st.lists(st.tuples(st.integers(0, 2000), st.booleans()), max_size=60).map(
    lambda xs: [Sample(float(t), up) for t, up in sorted(dict(xs).items())])
windows = st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 300)), max_size=3).map(
    lambda xs: [(float(a), float(a + d)) for a, d in xs])


@given(samples, windows, st.integers(0, 1000), st.integers(1, 1500))
def test_time_is_conserved_and_pct_bounded(ss: list[Sample], maint, start: int, length: int) -> None:  # type: ignore[no-untyped-def]
    a = availability(ss, start, start + length, 10.0, maint)
    assert a.up_s + a.down_s + a.unknown_s + a.maintenance_s == pytest.approx(length)
    assert min(a.up_s, a.down_s, a.unknown_s, a.maintenance_s) >= -1e-9
    assert a.pct is None or 0.0 <= a.pct <= 100.0
    assert sum(b - x for x, b in a.outages) == pytest.approx(a.down_s)


@given(samples, windows, st.integers(0, 1000), st.integers(2, 1500), st.floats(0.01, 0.99))
def test_splitting_a_period_never_changes_total_downtime(ss: list[Sample], maint, start: int, length: int,  # type: ignore[no-untyped-def]
                                                         frac: float) -> None:
    mid = start + length * frac
    whole = availability(ss, start, start + length, 10.0, maint)
    left = availability(ss, start, mid, 10.0, maint)
    right = availability(ss, mid, start + length, 10.0, maint)
    assert left.down_s + right.down_s == pytest.approx(whole.down_s)
    assert left.up_s + right.up_s == pytest.approx(whole.up_s)
    assert combine([left, right]).down_s == pytest.approx(whole.down_s)


def test_gap_in_data_is_unknown_not_down() -> None:
    ss = [Sample(t, True) for t in range(0, 100, 10)] + [Sample(t, True) for t in range(500, 600, 10)]
    a = availability(ss, 0, 600, 10.0)
    assert a.down_s == 0 and a.pct == 100.0
    # the last sample before the gap speaks for 3 heartbeat intervals (90..120 s), no longer
    assert a.up_s == pytest.approx(120 + 100) and a.unknown_s == pytest.approx(380)


def test_outage_mttr_longest_and_maintenance() -> None:
    ss = [Sample(float(t), not (100 <= t < 160 or 300 <= t < 320)) for t in range(0, 600, 10)]
    a = availability(ss, 0, 600, 10.0, maintenance=[(400.0, 460.0)])
    assert a.outages == [(100.0, 160.0), (300.0, 320.0)]
    assert a.down_s == 80 and a.mttr_s == 40 and a.longest_s == 60 and a.maintenance_s == 60
    assert a.pct == pytest.approx(100 * 460 / 540)
