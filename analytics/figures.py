"""The one rule for figures over several series: one value per AP per time bucket, whatever its tags; then sums
across APs. Reports (analytics.tables, monthly, fiscal), open data, the planner's observed demand and the console's
charts (console.history) all aggregate through here, so a site's figure is the same fact everywhere.

Why a rule at all: the stores keep one series per tag set, and an AP's tags can change under it (its vendor tag
resolving from ``auto``, a simulated history before real polling). Summing stored series then counts such an AP
twice in the bucket where both series have rows (34 clients read as 72). So, in this order:

1. **read**: per series and bucket, the sum and count of its samples (raw rows, hourly rollups, InfluxQL GROUP BY);
2. **one series per AP** (:func:`merge_by_ap`): the series of one AP *part* are pooled, the mean of all its samples
   in the bucket, whatever tags they were written under. A part is what really adds up or is shown apart within
   an AP (:data:`PART_TAGS`: interfaces add up their traffic, radios are lines of their own);
3. **per-AP figures** (analytics.hourly, analytics.usage): from that one series;
4. **rollups** (:func:`bucket_sum`, :func:`concurrent_peak`): a site's (or a kind's) value in a bucket is the sum of
   its APs' values there, and its peak is the peak of that sum, never the largest AP's peak nor the sum of peaks.

Reports bucket by the hour (the rollup both stores keep for 400 days: a 年度 report has nothing finer), so a
report's 最大同時接続 is the highest hourly mean of concurrent clients; charts bucket by their own step.

``Period`` and ``ApFigures`` live here, below the readers (analytics.hourly) and the tables (analytics.tables),
so neither imports the other's figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from analytics.availability import Availability
from analytics.coverage import Coverage
from analytics.usage import Usage

Floats = npt.NDArray[np.float64]
HOUR = 3600
# Tags that split an AP into parts that are not the same thing written twice: its interfaces (traffic adds up
# over them) and its radios or SSIDs (ap_clients, ap_radio: shown per radio). Every other tag (vendor, role, site,
# simulated, controller) may change under an AP without making it a second AP.
PART_TAGS = ("interface", "radio")
PartKey = tuple[str, ...]


def part_key(tags: Mapping[str, str]) -> PartKey:
    """The AP part a series belongs to: (ap, interface, radio); series without an ``ap`` tag keep all their tags."""
    if "ap" not in tags:
        return tuple(f"{k}={v}" for k, v in sorted(tags.items()))
    return (tags["ap"], *(tags.get(k, "") for k in PART_TAGS))


def merge_by_ap(parts: Iterable[tuple[Mapping[str, str], Floats, Floats]]) -> dict[PartKey, tuple[Floats, Floats]]:
    """(tags, sum per bucket, count per bucket) of stored series -> pooled (sum, count) per AP part.

    Pooling sums and counts (not adding means) makes the part's value the mean of every sample it has in the
    bucket: an AP whose tags changed inside a bucket counts once, with the samples of both tag sets."""
    out: dict[PartKey, tuple[Floats, Floats]] = {}
    for tags, s, c in parts:
        k = part_key(tags)
        if k in out:
            s0, c0 = out[k]
            out[k] = (s0 + s, c0 + c)
        else:
            out[k] = (np.asarray(s, dtype=np.float64).copy(), np.asarray(c, dtype=np.float64).copy())
    return out


def bucket_mean(s: Floats, c: Floats) -> Floats:
    """Mean per bucket, NaN where the bucket holds no sample (no data is not zero)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.where(c > 0, c, 1), np.nan)


def bucket_sum(values: Sequence[Floats], n: int) -> Floats:
    """Per bucket, the sum over APs of their values; NaN where no AP has a value (an AP without data adds 0)."""
    if not values:
        return np.full(n, np.nan)
    stack = np.vstack(values)
    have = ~np.isnan(stack)
    return np.where(have.any(axis=0), np.where(have, stack, 0.0).sum(axis=0), np.nan)


def bucket_average(values: Sequence[Floats], n: int) -> Floats:
    """Per bucket, the mean over the APs that have a value (availability, round-trip time)."""
    if not values:
        return np.full(n, np.nan)
    stack = np.vstack(values)
    have = ~np.isnan(stack)
    total = np.where(have, stack, 0.0).sum(axis=0)
    return np.where(have.any(axis=0), total / np.maximum(have.sum(axis=0), 1), np.nan)


def concurrent_peak(values: Iterable[Floats | None]) -> float:
    """The peak of the per-bucket sum of the APs' values (a site's or a kind's peak); 0 without data.

    Every array is over the same buckets (a report's hours). It is at least each AP's own peak and at most
    the sum of their peaks."""
    total: Floats | None = None
    for v in values:
        if v is None or not len(v):
            continue
        x = np.where(np.isnan(v), 0.0, v)
        total = x.copy() if total is None else total + x
    return 0.0 if total is None or not len(total) else max(0.0, float(total.max()))


def hour_grid(start: float, end: float) -> tuple[int, int]:
    """(first hour start s, number of hours) of the hours that touch [start, end): a report's buckets."""
    h0 = int(start // HOUR * HOUR)
    return h0, max(0, int(-(-end // HOUR)) - h0 // HOUR)


def hourly_mean(hours_s: Floats, n: Floats, s: Floats, start: float, end: float) -> Floats:
    """An AP's mean per hour of the period's grid (:func:`hour_grid`) from per-hour sample counts and sums
    (already pooled over its series); NaN in hours without a sample."""
    h0, k = hour_grid(start, end)
    out = np.full(k, np.nan)
    if len(hours_s) and k:
        idx = ((np.asarray(hours_s) - h0) // HOUR).astype(np.int64)
        ok = (idx >= 0) & (idx < k) & (n > 0)
        sums = np.bincount(idx[ok], weights=s[ok], minlength=k)[:k].astype(np.float64)
        cnt = np.bincount(idx[ok], weights=n[ok], minlength=k)[:k].astype(np.float64)
        out = bucket_mean(sums, cnt)
    return out


def hourly_mean_held(x: Floats, y: Floats, v: Floats, start: float, end: float) -> Floats:
    """The same from sample-and-hold pieces (from, to, value) that never cross an hour: time-weighted per hour."""
    h0, k = hour_grid(start, end)
    if not len(x) or not k:
        return np.full(k, np.nan)
    idx = ((x - h0) // HOUR).astype(np.int64)
    ok = (idx >= 0) & (idx < k)
    d = (y - x)[ok]
    sums = np.bincount(idx[ok], weights=v[ok] * d, minlength=k)[:k].astype(np.float64)
    return bucket_mean(sums, np.bincount(idx[ok], weights=d, minlength=k)[:k].astype(np.float64))


def peak(values: Floats | None) -> float:
    """An AP's own peak over the buckets (its largest bucket value); 0 without data."""
    if values is None or not len(values) or bool(np.isnan(values).all()):
        return 0.0
    return max(0.0, float(np.nanmax(values)))


@dataclass
class Period:
    """[start, end) in epoch seconds; ``asof`` is 集計時点, the time the figures are taken at. A period still in
    progress is read up to ``asof`` only: the days still to come are not データなし, they are not yet."""

    start: float
    end: float
    asof: float | None = None

    @property
    def data_end(self) -> float:
        return self.end if self.asof is None else max(self.start, min(self.end, self.asof))

    @property
    def ns(self) -> tuple[int, int]:
        """The part of the period that has data to read: [start, data_end) in ns."""
        return int(self.start * 1e9), int(self.data_end * 1e9)

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600

    @property
    def elapsed_h(self) -> float:
        return (self.data_end - self.start) / 3600

    @property
    def in_progress(self) -> bool:
        return self.data_end < self.end


@dataclass
class ApFigures:
    """One AP over one period: what the report tables need, computed from one read of each measurement."""

    availability: Availability | None = None
    maintenance: list[str] = field(default_factory=list)
    usage: Usage | None = None
    levels: tuple[Floats, Floats] | None = None  # client count -> seconds held at it (capacity)
    peak_sample: int = 0
    availability_cov: Coverage | None = None
    usage_cov: Coverage | None = None  # client samples: usage and capacity
    hours_over: dict[float, float] | None = None  # capacity -> hours above it (hourly path; else from levels)
    # mean clients per hour of the period (hour_grid), NaN in hours without a sample; None: no sample at all, or
    # usage not read (a year of hours per AP is 70 KB: only usage rows need it)
    clients_hourly: Floats | None = None


def group_peak(figs: Mapping[str, ApFigures], ids: Iterable[str]) -> float:
    """The peak of the hourly concurrent clients of the APs ``ids`` together (a site, a kind, the fleet)."""
    return concurrent_peak(figs[i].clients_hourly for i in ids if i in figs)
