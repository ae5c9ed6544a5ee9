"""A planning scenario from the 整備計画 form: budgets, rounds, forced/excluded candidates and edited visitor and
cost figures. The edits live in the scenario only; the inventory is never touched.

The plan is made as ``wifiwatch rank`` makes it (``notes.make_plan_with_notes``, sensitivity included), so the
page shows the same notes and warnings. Observed demand is 30 days of client counts: reading it takes about a
second on the demo's store, so it is kept for ``OBSERVED_TTL_S`` and refreshed in the background after that.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from analytics.planner.plan import CandidateOverride, PlanResult, Scenario

OBSERVED_TTL_S = 600.0  # a 30-day figure moves little in 10 minutes
_OBSERVED: dict[int, tuple[float, Any, Any]] = {}  # id(ctx) -> (monotonic time read, observed, weakref to ctx)
_OBSERVED_LOCK = threading.Lock()
_REFRESHING: set[int] = set()

INT_FIELDS = ("annual_visitors", "install_cost_yen")


FIELD_JA = {"budget": "予算", "rounds": "年度", "budget per round": "年度ごとの予算", "count": "年度ごとの最大箇所数",
            "annual_visitors": "年間来訪者", "install_cost_yen": "費用"}


def _int(text: str, what: str, lang: str = "en", what_ja: str | None = None) -> int | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        if lang == "ja":
            raise ValueError(f"{what_ja or FIELD_JA.get(what, what)}: 「{text[:30]}」は整数ではありません") from None
        raise ValueError(f"{what}: '{text[:30]}' is not a whole number") from None


def _ints(text: str, what: str, lang: str = "en") -> tuple[int, ...]:
    return tuple(v for part in text.split(",") if (v := _int(part, what, lang)) is not None)


def parse_scenario(form: Mapping[str, str], prefix: str, inv: Any, lang: str) -> Scenario:
    """Scenario ``prefix`` ("a" or "b") of the form; ValueError naming the field for anything unusable (in the
    user's language)."""
    def get(name: str) -> str:
        return form.get(f"{prefix}_{name}", "")

    ids = [c.id for c in inv.candidates]
    names = {c.id: c.name_ja for c in inv.candidates}
    overrides = {}
    for cid in ids:
        vals = {f: _int(get(f"{f}__{cid}"), f"{cid} {f}", lang, f"{names[cid]} {FIELD_JA[f]}") for f in INT_FIELDS}
        if any(v is not None for v in vals.values()):
            overrides[cid] = CandidateOverride(**vals)
    rounds = _ints(get("rounds"), "rounds", lang)
    return Scenario(budget_yen=_int(get("budget"), "budget", lang), rounds=rounds,
                    budget_per_round=_int(get("budget_per_round"), "budget per round", lang),
                    count=_int(get("count"), "count", lang),
                    force=frozenset(c for c in ids if get(f"force__{c}")),
                    exclude=frozenset(c for c in ids if get(f"exclude__{c}")),
                    overrides=overrides, lang="en" if lang == "en" else "ja", sensitivity=True)


def _read_observed(ctx: Any) -> Any:
    from analytics.planner.observed import observed_demand

    now = time.time_ns()
    return observed_demand(ctx.inventory(), ctx.history, now - 30 * 86400 * 10**9, now)


def observed(ctx: Any) -> Any:
    """Observed demand of the last 30 days, from the chart reader (either store).

    Read once, then served from memory; after OBSERVED_TTL_S the old figures are served while one background
    thread reads new ones (so only the console's first plan waits for the read)."""
    key = id(ctx)
    with _OBSERVED_LOCK:
        hit = _OBSERVED.get(key)
        if hit is not None and hit[2]() is not ctx:  # an id reused by a newer console (tests open many)
            hit = None
        stale = hit is not None and time.monotonic() - hit[0] > OBSERVED_TTL_S
        if stale and key not in _REFRESHING:
            _REFRESHING.add(key)
            threading.Thread(target=_refresh, args=(ctx, key), name="planner-observed", daemon=True).start()
    if hit is not None:
        return hit[1]
    value = _read_observed(ctx)
    with _OBSERVED_LOCK:
        for k in [k for k, v in _OBSERVED.items() if v[2]() is None]:  # consoles closed since
            del _OBSERVED[k]
        _OBSERVED[key] = (time.monotonic(), value, weakref.ref(ctx))
    return value


def _refresh(ctx: Any, key: int) -> None:
    try:
        value = _read_observed(ctx)
        with _OBSERVED_LOCK:
            _OBSERVED[key] = (time.monotonic(), value, weakref.ref(ctx))
    except Exception:  # noqa: BLE001 - keep serving the figures we have; the next stale read tries again
        pass
    finally:
        with _OBSERVED_LOCK:
            _REFRESHING.discard(key)


def run_plan(ctx: Any, s: Scenario) -> tuple[PlanResult | None, str | None]:
    """The plan and its notes as rank makes them, or the error in words (the form shows it beside the scenario)."""
    from analytics.planner.model import SolverError
    from analytics.planner.notes import make_plan_with_notes
    from analytics.planner.plan import PlannerInputError

    ja = s.lang == "ja"
    try:
        return make_plan_with_notes(ctx.inventory(), s, observed(ctx)), None
    except PlannerInputError as e:
        return None, e.ja if ja else str(e)
    except SolverError as e:
        return None, (f"計画を計算できませんでした（ソルバーが最適解を証明できません: {e}）" if ja else str(e))
    except ValueError as e:
        return None, (f"この条件では計画を計算できません: {e}" if ja else str(e))
