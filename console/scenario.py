"""A planning scenario from the 整備計画 form: budgets, rounds, forced/excluded candidates and edited visitor and
cost figures. The edits live in the scenario only; the inventory is never touched."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from analytics.planner.plan import CandidateOverride, Scenario

INT_FIELDS = ("annual_visitors", "install_cost_yen")


def _int(text: str, what: str) -> int | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what}: '{text[:30]}' is not a whole number") from None


def _ints(text: str, what: str) -> tuple[int, ...]:
    return tuple(v for part in text.split(",") if (v := _int(part, what)) is not None)


def parse_scenario(form: Mapping[str, str], prefix: str, inv: Any, lang: str) -> Scenario:
    """Scenario ``prefix`` ("a" or "b") of the form; ValueError naming the field for anything unusable."""
    def get(name: str) -> str:
        return form.get(f"{prefix}_{name}", "")

    ids = [c.id for c in inv.candidates]
    overrides = {}
    for cid in ids:
        vals = {f: _int(get(f"{f}__{cid}"), f"{cid} {f}") for f in INT_FIELDS}
        if any(v is not None for v in vals.values()):
            overrides[cid] = CandidateOverride(**vals)
    rounds = _ints(get("rounds"), "rounds")
    return Scenario(budget_yen=_int(get("budget"), "budget"), rounds=rounds,
                    budget_per_round=_int(get("budget_per_round"), "budget per round"),
                    count=_int(get("count"), "count"),
                    force=frozenset(c for c in ids if get(f"force__{c}")),
                    exclude=frozenset(c for c in ids if get(f"exclude__{c}")),
                    overrides=overrides, lang="en" if lang == "en" else "ja", sensitivity=False)


def observed(ctx: Any) -> Any:
    """Observed demand of the last 30 days, from the chart reader (either store)."""
    from analytics.planner.observed import observed_demand

    now = time.time_ns()
    return observed_demand(ctx.inventory(), ctx.history, now - 30 * 86400 * 10**9, now)
