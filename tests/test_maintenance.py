"""Maintenance windows: one-off and weekly (JST, across midnight), and their expansion over a period."""

from __future__ import annotations

import datetime as dt

from core.inventory import Maintenance
from core.maintenance import JST, active, expand

WEEKLY = Maintenance(id="w", target="*", weekday="sun", start_time=dt.time(23, 0), end_time=dt.time(1, 0))
ONE = Maintenance(id="o", target="ap1", start=dt.datetime(2026, 12, 1, 2), end=dt.datetime(2026, 12, 1, 4))


def ts(*a: int) -> float:
    return dt.datetime(*a, tzinfo=JST).timestamp()


def test_weekly_window_crosses_midnight_in_jst() -> None:
    assert active(WEEKLY, ts(2026, 11, 29, 23, 30))  # Sunday
    assert active(WEEKLY, ts(2026, 11, 30, 0, 30))  # early Monday
    assert not active(WEEKLY, ts(2026, 11, 30, 1, 0))
    assert not active(WEEKLY, ts(2026, 11, 28, 23, 30))  # Saturday


def test_expand_lists_each_occurrence_for_matching_targets() -> None:
    got = expand([WEEKLY, ONE], "ap1", "s1", ts(2026, 11, 23), ts(2026, 12, 7))
    # the Sunday 22nd 23:00-01:00 window reaches into the period, which starts on Monday the 23rd
    assert [(w, dt.datetime.fromtimestamp(a, JST).day) for a, _, w in got] == [("w", 22), ("w", 29), ("o", 1), ("w", 6)]
    assert all(b - a == 7200 for a, b, _ in got)
    assert [w for _, _, w in expand([ONE], "ap2", "s1", ts(2026, 11, 23), ts(2026, 12, 7))] == []
