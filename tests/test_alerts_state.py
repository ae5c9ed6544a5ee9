"""Property tests of the alert state machine: hysteresis, no false DOWN under sparse loss, flapping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts.state import DeviceState, Heartbeat, State, Thresholds, observe_clients, step

T = Thresholds(down_after=3, up_after=2, flap_changes=4, flap_window_s=900)
beats = st.lists(st.one_of(st.none(), st.booleans()), max_size=200)


def run(seq: list[bool | None], t: Thresholds = T, dt: float = 10.0):  # type: ignore[no-untyped-def]
    s = DeviceState()
    out = []
    for i, b in enumerate(seq):
        s, tr = step(s, None if b is None else Heartbeat(b), i * dt, t)
        out.append((i, s, tr))
    return out


def longest_streak(seq: list[bool | None], value: bool, upto: int) -> int:
    best = cur = 0
    for b in seq[: upto + 1]:
        if b is None:
            continue
        cur = cur + 1 if b is value else 0
        best = max(best, cur)
    return best


@given(beats)
def test_never_down_without_n_consecutive_failures(seq: list[bool | None]) -> None:
    for i, _, tr in run(seq):
        if any(x.kind == "down" for x in tr):
            # the heartbeats that counted: None (no data) neither counts nor breaks a streak
            tail = [b for b in seq[: i + 1] if b is not None][-T.down_after:]
            assert tail == [False] * T.down_after


@given(beats)
def test_never_up_from_down_without_m_consecutive_successes(seq: list[bool | None]) -> None:
    for i, _, tr in run(seq):
        if any(x.kind == "up" for x in tr):
            tail = [b for b in seq[: i + 1] if b is not None][-T.up_after:]
            assert tail == [True] * T.up_after


@given(beats)
def test_down_and_up_alternate_and_durations_are_positive(seq: list[bool | None]) -> None:
    kinds = [x for _, _, tr in run(seq) for x in tr if x.kind in ("down", "up")]
    for a, b in zip(kinds, kinds[1:], strict=False):
        assert a.kind != b.kind
    for x in kinds:
        if x.kind == "up":
            assert x.duration_s is not None and x.duration_s >= 0


@given(beats)
def test_confirmed_state_matches_the_last_transition(seq: list[bool | None]) -> None:
    last = None
    for _, s, tr in run(seq):
        for x in tr:
            if x.kind in ("down", "up"):
                last = x.kind
        if last == "down":
            assert s.confirmed == State.DOWN
        elif last == "up":
            assert s.confirmed in (State.UP, State.DEGRADED)


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_ten_percent_loss_for_ten_minutes_raises_no_down(rnd) -> None:  # type: ignore[no-untyped-def]
    # 60 heartbeats (10 min at 10 s) with each lost independently with p = 0.1. A DOWN needs 3 in a row:
    # p(any run of 3 in 60) < 58 * 0.001 ~ 6 %, so we draw until the sample has no 3-run and check the
    # state machine agrees; samples with a 3-run must (correctly) go DOWN.
    seq = [rnd.random() >= 0.1 for _ in range(60)]
    seq = [True, True, *seq]
    downs = [x for _, _, tr in run(seq) for x in tr if x.kind == "down"]
    has_run = any(seq[i:i + 3] == [False] * 3 for i in range(len(seq) - 2))
    assert bool(downs) == has_run


def test_flapping_is_one_alert_then_quiet_then_stable() -> None:
    seq: list[bool | None] = [True] * 2 + ([False] * 3 + [True] * 2) * 4 + [True] * 100
    kinds = [(i, x.kind) for i, _, tr in run(seq) for x in tr]
    assert [k for _, k in kinds].count("flapping") == 1
    assert kinds[-1][1] == "flap_end"
    assert kinds[-1][0] * 10 - [i for i, k in kinds if k in ("down", "up")][-1] * 10 > T.flap_window_s


def test_saturation_degrades_after_the_window_and_clears() -> None:
    s, _ = step(DeviceState(), Heartbeat(True), 0, T)
    t = Thresholds(saturation_s=600)
    s, tr = observe_clients(s, 120, 100, 0, t)
    assert not tr and s.confirmed == State.UP
    s, tr = observe_clients(s, 130, 100, 601, t)
    assert [x.kind for x in tr] == ["degraded"] and "capacity 100" in tr[0].cause
    s, tr = observe_clients(s, 20, 100, 700, t)
    assert not tr  # needs good heartbeats too (hysteresis)
    s, tr = step(s, Heartbeat(True), 710, t)
    s, tr2 = step(s, Heartbeat(True), 720, t)
    assert [x.kind for x in tr + tr2] == ["degraded_clear"]


def test_no_data_is_unknown_and_never_alerts() -> None:
    out = run([None] * 20)
    assert all(not tr for _, _, tr in out) and out[-1][1].phase == State.UNKNOWN


@given(beats)
def test_phase_is_in_doubt_exactly_while_a_change_is_unconfirmed(seq: list[bool | None]) -> None:
    # The daemon re-probes SUSPECT/RECOVERING devices at twice the heartbeat rate: a reply after a miss on a
    # device that is up must end the doubt, or it would be probed twice as often for ever.
    for i, s, _ in run(seq):
        if seq[i] is True and s.confirmed in (State.UP, State.DEGRADED):
            assert s.phase == s.confirmed
        if seq[i] is False and s.confirmed in (State.UP, State.DEGRADED, State.UNKNOWN):
            assert s.phase == State.SUSPECT
        if seq[i] is True and s.confirmed == State.DOWN:
            assert s.phase == State.RECOVERING
