"""The planner's observed demand takes the length of a visit from measured visitors where a site has them
(issue 24 point 4): overflow client-hours become people by what people there really do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from analytics.coverage import Coverage
from analytics.planner.demand import SESSION_H, ApDemand
from analytics.planner.observed import (
    MAX_SESSION_H,
    MIN_SESSION_H,
    ObservedDemand,
    coverage_note,
    with_measured_visitors,
)
from core.config import load_config

INV = load_config(Path(__file__).resolve().parents[1] / "config" / "sites.toml")


@dataclass(frozen=True)
class Measured:  # the fields of analytics.visitors.demand.MeasuredVisitors the planner reads
    devices_per_year: float
    simulated: bool = False


def _observed(hours: float) -> ObservedDemand:
    cov = Coverage(720.0, 720.0, 720.0)
    per_ap = {a.id: ApDemand(a.id, hours, 40, 10.0, 30.0, 30.0, cov) for _, a in INV.aps()}
    return ObservedDemand(per_ap, cov, 30.0)


def test_measured_site_sets_the_visit_length_and_the_note_says_so() -> None:
    observed = _observed(300.0)  # per AP, 30 days: omachi's 3 APs make 900 client-hours a month
    per_year = 900.0 * 365 / 30
    got = with_measured_visitors(INV, observed, {"omachi": Measured(devices_per_year=per_year / 0.25)})
    assert got.measured_sites == ("omachi",)
    for ap in ("omachi-1", "omachi-2", "omachi-3"):
        assert got[ap].session_measured and abs(got[ap].session_h - 0.25) < 1e-9
        assert abs(got[ap].overflow_visitors_per_year - 2 * observed[ap].overflow_visitors_per_year) < 1e-6
    assert got["kominkan-1"].session_h == SESSION_H and not got["kominkan-1"].session_measured
    note = coverage_note(got, 0.9, "ja")
    assert "1 施設では1回の利用時間を来訪者の実測" in note
    sim = with_measured_visitors(INV, observed, {"omachi": Measured(per_year, simulated=True)})
    assert "模擬データ" in coverage_note(sim, 0.9, "ja") and "simulated visitor data" in coverage_note(sim, 0.9, "en")


def test_without_measured_visitors_nothing_changes() -> None:
    observed = _observed(120.0)
    assert with_measured_visitors(INV, observed, {}) is observed
    assert with_measured_visitors(INV, observed, {"nowhere": Measured(1000.0)}) == observed


@given(st.floats(1.0, 1e7), st.floats(0.0, 2000.0))
def test_visit_length_stays_within_what_people_do(devices: float, hours: float) -> None:
    got = with_measured_visitors(INV, _observed(hours), {"omachi": Measured(devices)})
    h = got["omachi-1"].session_h
    assert MIN_SESSION_H <= h <= MAX_SESSION_H


def test_observed_from_a_store_with_sessions_uses_them(tmp_path: Path) -> None:
    """End to end on a real store: simulated history and the demo's simulated sessions (模擬データ)."""
    import datetime as dt
    import time

    from analytics.planner.observed import observed_from_store
    from analytics.synthetic import synthetic_history
    from core.store.sqlite_store import SqliteStore
    from wifiwatch.sim.visitors import seed_sessions

    inv = INV.model_copy(update={"store": INV.store.model_copy(update={"path": str(tmp_path / "s.sqlite3"),
                                                                       "min_free_mb": 0})})
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    store = SqliteStore(tmp_path / "s.sqlite3", inv.store)
    store.write(list(synthetic_history(inv, end - dt.timedelta(days=10), end, seed=5, step_s=600)))
    store.close()
    assert seed_sessions(inv, 10) > 0
    got = observed_from_store(inv, days=10, now_ns=time.time_ns())
    assert got is not None and got.measured_sites and got.measured_simulated
    ap = next(a for s in inv.sites if s.id == got.measured_sites[0] for a in s.aps)
    assert got[ap.id].session_measured and MIN_SESSION_H <= got[ap.id].session_h <= MAX_SESSION_H
