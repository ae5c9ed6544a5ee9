"""Outputs on partial data, the planner's part: the observed demand of existing APs (which feeds the overflow
demand of `wifiwatch rank`) says what it rests on: observed hours and share of the period read, 参考値 below
``[reports] min_coverage_pct``, 模擬データ for simulated history, データがありません for an empty store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from analytics.coverage import SIMULATED_TAG
from analytics.planner.observed import coverage_note, observed_demand
from analytics.planner.plan import Scenario
from analytics.synthetic import synthetic_history
from core.config import load_config
from core.inventory import Inventory, StoreSettings
from core.schema import Point
from core.store.sqlite_store import SqliteStore
from wifiwatch.commands.plan import plan_scenario, summary_lines

ROOT = Path(__file__).resolve().parent.parent
INV = load_config(ROOT / "config" / "sites.toml")
JST = dt.timezone(dt.timedelta(hours=9))
STEP = 900
MIN = INV.reports.min_share


def at(y: int, m: int, d: int, h: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=JST)


def ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * 10**9


def real(points: Any) -> list[Point]:
    """The synthetic curve without its simulated tag: stands for data a real daemon polled."""
    return [Point(p.measurement, {k: v for k, v in p.tags.items() if k != SIMULATED_TAG}, p.fields, p.time_ns)
            for p in points]


def _store(path: Path, points: list[Point]) -> SqliteStore:
    s = SqliteStore(path, StoreSettings(min_free_mb=0))
    if points:
        s.write(points)
    return s


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    """Sep 2026 full; Oct 2026 only its last 28 hours (716 of 744 h without data)."""
    p = tmp_path_factory.mktemp("obs") / "s.sqlite3"
    return _store(p, real(synthetic_history(INV, at(2026, 9, 1), at(2026, 10, 1), seed=11, step_s=STEP))
                  + real(synthetic_history(INV, at(2026, 10, 30, 20), at(2026, 11, 1), seed=12, step_s=STEP)))


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    p = tmp_path_factory.mktemp("obssim") / "s.sqlite3"
    return _store(p, list(synthetic_history(INV, at(2026, 10, 1), at(2026, 11, 1), seed=14, step_s=STEP)))


def _inv(tmp_path: Path, store_path: Path) -> Inventory:
    cfg = tmp_path / "sites.toml"
    cfg.write_text((ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace(
        'path = "var/wifiwatch.sqlite3"', f'path = "{store_path}"'), encoding="utf-8")
    return load_config(cfg)


def _rank_summary(inv: Inventory, now: dt.datetime, lang: str = "ja") -> list[str]:
    res = plan_scenario(inv, Scenario(budget_yen=5_000_000, sensitivity=False, lang=lang), now_ns=ns(now))
    return summary_lines(res, lang)


def test_full_month_of_observed_demand_is_a_firm_figure(real_store: SqliteStore) -> None:
    obs = observed_demand(INV, real_store, ns(at(2026, 9, 1)), ns(at(2026, 10, 1)))
    n_aps = len(list(INV.aps()))
    assert obs.coverage.period_h == pytest.approx(720 * n_aps)
    assert obs.coverage.share > 0.95 and not obs.coverage.provisional(MIN) and not obs.coverage.simulated
    a = obs["omachi-1"].coverage
    assert a is not None and 690 < a.observed_h <= 720  # the synthetic month has its outages
    note = coverage_note(obs, MIN, "ja")
    assert "参考値" not in note and f"観測率 {100 * obs.coverage.share:.1f}%" in note
    assert f"{obs.coverage.observed_h:,.0f} 時間" in note


def test_month_with_a_long_gap_makes_observed_demand_a_reference_value(real_store: SqliteStore,
                                                                        tmp_path: Path) -> None:
    obs = observed_demand(INV, real_store, ns(at(2026, 10, 1)), ns(at(2026, 11, 1)))
    a = obs["omachi-1"].coverage
    assert a is not None and 20 < a.observed_h <= 28 and a.period_h == 744  # 28 h less the synthetic outages
    assert obs.coverage.provisional(MIN) and obs.coverage.share < 28 / 744
    pct = f"{100 * obs.coverage.share:.1f}%"
    ja, en = coverage_note(obs, MIN, "ja"), coverage_note(obs, MIN, "en")
    assert "参考値" in ja and f"観測率 {pct}" in ja and "基準 90%" in ja
    assert "reference value" in en and pct in en
    # the rank summary says so, under 注意 (the last 30 days before 1 Nov hold the same 28 h per AP)
    inv = _inv(tmp_path, real_store.path)
    lines = _rank_summary(inv, at(2026, 11, 1))
    assert any(ln.startswith("注意: 既存APの観測需要") and "参考値" in ln for ln in lines), lines
    lines_en = _rank_summary(inv, at(2026, 11, 1), "en")
    assert any(ln.startswith("note: observed demand of existing APs") and "reference value" in ln
               for ln in lines_en), lines_en
    # a well covered 30 days is not a reference value
    firm = _rank_summary(inv, at(2026, 9, 30))
    assert any("既存APの観測需要は" in ln and "参考値" not in ln for ln in firm), firm


def test_empty_store_and_no_store_say_observed_demand_has_no_data(tmp_path: Path) -> None:
    empty = _store(tmp_path / "empty.sqlite3", [])
    obs = observed_demand(INV, empty, ns(at(2026, 10, 1)), ns(at(2026, 11, 1)))
    assert dict(obs) == {} and obs.coverage.empty
    assert "データがありません" in coverage_note(obs, MIN, "ja")
    lines = _rank_summary(_inv(tmp_path, empty.path), at(2026, 11, 1))
    assert any("既存APの観測需要: 直近30日のデータがありません" in ln for ln in lines), lines
    missing = _inv(tmp_path, tmp_path / "never-written.sqlite3")
    lines = _rank_summary(missing, at(2026, 11, 1), "en")
    assert any("observed demand of existing APs: no data in the last 30 days" in ln for ln in lines), lines


def test_simulated_history_is_named_as_such(sim_store: SqliteStore, tmp_path: Path) -> None:
    obs = observed_demand(INV, sim_store, ns(at(2026, 10, 1)), ns(at(2026, 11, 1)))
    assert obs.coverage.simulated and obs.coverage.simulated_h == pytest.approx(obs.coverage.observed_h)
    a = obs["omachi-1"].coverage
    assert a is not None and a.simulated
    lines = _rank_summary(_inv(tmp_path, sim_store.path), at(2026, 11, 1))
    assert any("既存APの観測需要は模擬データに基づきます" in ln for ln in lines), lines
    assert "simulated data" in coverage_note(obs, MIN, "en")


def test_ranking_is_unchanged_by_the_coverage_it_carries(real_store: SqliteStore) -> None:
    """The coverage is carried beside the figures: the plan from the mapping is the plan from plain values."""
    from analytics.planner.plan import make_plan

    obs = observed_demand(INV, real_store, ns(at(2026, 9, 1)), ns(at(2026, 10, 1)))
    plain = {k: type(v)(v.ap_id, v.client_hours, v.peak_clients, v.saturated_hours, v.excess_client_hours,
                        v.period_days) for k, v in obs.items()}
    s = Scenario(budget_yen=5_000_000, sensitivity=False)
    a, b = make_plan(INV, s, obs), make_plan(INV, s, plain)
    assert [(c.id, c.selected, c.newly_covered_visitors) for c in a.candidates] == \
        [(c.id, c.selected, c.newly_covered_visitors) for c in b.candidates]
