"""How much data a figure rests on: observed hours, share of the period, period in progress, simulated data.

A figure reported to the council or published as open data is only as good as the data under it. Every
availability and usage figure therefore carries a :class:`Coverage`: the hours it was observed, the period's
length (対象期間) and how much of it had passed at the time of the report (集計時点). A figure whose observed
share of its period is below the configured minimum (``[reports] min_coverage_pct``, default 90 %) is a
参考値 (reference value): shown, marked, never published as open data, never compared. Comparisons
(前期比, 前年同月比) are made only when both periods are covered at least that well and neither (or both) is
simulated; otherwise the figure is "—" with the reason.

Pure functions and values; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.schema import SIMULATED_TAG as SIMULATED_TAG  # analytics code imports it from here

DEFAULT_MIN_SHARE = 0.9


class NoData(Exception):
    """The period holds no data at all: the report says データがありません and the CLI exits with NO_DATA_EXIT."""


NO_DATA_EXIT = 3  # documented in ``wifiwatch report --help`` and ``opendata export --help``


@dataclass(frozen=True)
class Coverage:
    """Observed hours of a figure against its period. ``period_h`` is the whole period; ``elapsed_h`` the part
    that had passed at 集計時点 (less than ``period_h`` only for a period in progress); ``excluded_h`` time set
    aside on purpose (maintenance), which counts neither for nor against the figure."""

    period_h: float
    elapsed_h: float
    observed_h: float
    excluded_h: float = 0.0
    simulated_h: float = 0.0

    @property
    def share(self) -> float:
        """Observed share of the whole period (less maintenance): a month half over is at most 0.5."""
        base = self.period_h - self.excluded_h
        return 0.0 if base <= 0 else min(1.0, self.observed_h / base)

    @property
    def in_progress(self) -> bool:
        return self.elapsed_h < self.period_h - 1e-9

    @property
    def simulated(self) -> bool:
        return self.simulated_h > 0

    @property
    def empty(self) -> bool:
        return self.observed_h <= 0

    def provisional(self, min_share: float = DEFAULT_MIN_SHARE) -> bool:
        """参考値: observed on less than ``min_share`` of the period."""
        return self.share < min_share - 1e-12

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(self.period_h + other.period_h, self.elapsed_h + other.elapsed_h,
                        self.observed_h + other.observed_h, self.excluded_h + other.excluded_h,
                        self.simulated_h + other.simulated_h)


def total(parts: Iterable[Coverage]) -> Coverage:
    """Several APs' (or months') coverage as one: hours add up."""
    out = Coverage(0.0, 0.0, 0.0)
    for p in parts:
        out = out + p
    return out


def fields(c: Coverage, min_share: float) -> dict[str, object]:
    """The coverage columns every availability/usage row carries (CSV, JSON, xlsx, open data)."""
    return {"observed_h": round(c.observed_h, 1), "period_h": round(c.period_h, 1),
            "coverage_pct": round(100 * c.share, 1), "provisional": c.provisional(min_share),
            "in_progress": c.in_progress, "simulated": c.simulated}


REASONS = {
    "ja": {"none": "比較期間のデータなし", "low_now": "今期の観測率 {pct:.0f}%（{h:.0f} 時間）",
           "low_then": "比較期間の観測率 {pct:.0f}%（{h:.0f} 時間）", "sim": "模擬データと実データは比較しません"},
    "en": {"none": "no data in the earlier period", "low_now": "this period observed {pct:.0f}% ({h:.0f} h)",
           "low_then": "earlier period observed {pct:.0f}% ({h:.0f} h)",
           "sim": "simulated and real data are not compared"},
}


def compare(now_value: float, now: Coverage, then_value: float, then: Coverage, min_share: float,
            lang: str = "ja") -> tuple[float | None, str]:
    """(change in %, "") when the two periods are comparable, else (None, the reason).

    Values are rates per observed hour (e.g. mean concurrent clients), so two well-covered periods of different
    length or coverage compare like with like."""
    r = REASONS["en" if lang == "en" else "ja"]
    if then.empty:
        return None, r["none"]
    if now.provisional(min_share):
        return None, r["low_now"].format(pct=100 * now.share, h=now.observed_h)
    if then.provisional(min_share):
        return None, r["low_then"].format(pct=100 * then.share, h=then.observed_h)
    if now.simulated != then.simulated:
        return None, r["sim"]
    if then_value <= 0:
        return None, r["none"]
    return round(100 * (now_value - then_value) / then_value, 1), ""
