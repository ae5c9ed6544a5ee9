"""Chart data for the site and AP pages: bucketed means over 24 h / 7 d / 30 d / 13 months, from either store.

Both stores answer ``query_columns`` (core.store.columns) with the same semantics, so a chart is the same
whether it reads the embedded SQLite store or InfluxDB. 13 months outlive the raw rows (35 days by default):
the embedded store answers them from its hourly rollups, InfluxDB with ``mean() ... GROUP BY time(1d)``, and
both give the mean of every stored row in each bucket. Buckets of an hour or more (30 days, 13 months) are
made from those aggregates too: a 30-day chart reads 720 hourly rows per field instead of 43,200 raw ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics.figures import bucket_average, bucket_sum, merge_by_ap, part_key
from analytics.figures import bucket_mean as bucket_mean_of

Floats = npt.NDArray[np.float64]
SeriesBuckets = tuple[dict[str, str], str, Floats, Floats]  # one stored series' field: tags, field, sum, count
DAY = 86400
JST_OFFSET = 9 * 3600
# range key -> (span s, bucket s); buckets keep every chart at 288-396 points, whatever the data rate
RANGES: dict[str, tuple[int, int]] = {"24h": (DAY, 300), "7d": (7 * DAY, 1800), "30d": (30 * DAY, 7200),
                                      "13m": (396 * DAY, DAY)}
# metric -> (measurement, fields, how series combine across APs or interfaces, scale)
METRICS: dict[str, tuple[str, tuple[str, ...], str, float]] = {
    "clients": ("ap_status", ("clients",), "sum", 1.0),
    "availability": ("ap_ping", ("reachable",), "mean", 100.0),
    "traffic": ("ap_traffic", ("rx_bps", "tx_bps"), "sum", 1e-6),  # Mbit/s
    "rtt": ("ap_ping", ("rtt_ms",), "mean", 1.0),
    "radio": ("ap_clients", ("clients",), "by_band", 1.0),  # per band: 2.4/5/6 GHz, never SSIDs (they overlap)
    "ssid": ("ap_clients", ("clients",), "by_ssid", 1.0),  # per SSID, its own chart
    "radio_util": ("ap_radio", ("utilization_pct",), "by_radio_mean", 1.0),  # radio health, where the MIB has it
}
# a custom range: the smallest of these buckets that keeps the chart at most MAX_POINTS points
STEPS = (300, 900, 1800, 3600, 7200, 21600, DAY)
MAX_POINTS = 400
MAX_SPAN = 400 * DAY
SSID_PREFIX = "ssid:"
BAND_LABELS = {"2g": "2.4GHz", "2.4g": "2.4GHz", "2.4ghz": "2.4GHz", "5g": "5GHz", "5ghz": "5GHz",
               "6g": "6GHz", "6ghz": "6GHz"}


@dataclass(frozen=True)
class Line:
    label: str
    values: Floats  # one per bucket, NaN where there was no data


@dataclass(frozen=True)
class Chart:
    metric: str
    start: float
    step: int
    lines: list[Line]
    samples: int  # stored rows the chart rests on (shown with it)
    overall: float | None = None  # the whole range's mean of every sample (availability % over the range)

    @property
    def times(self) -> Floats:
        n = len(self.lines[0].values) if self.lines else 0
        return self.start + self.step * np.arange(n, dtype=np.float64)


def bucket_mean(t_ns: npt.NDArray[np.int64], v: Floats, start: float, step: int, n: int) -> tuple[Floats, Floats]:
    """(sum, count) of the non-NaN values per bucket [start + i*step, start + (i+1)*step), i < n."""
    ok = ~np.isnan(v)
    idx = np.floor((t_ns[ok] / 1e9 - start) / step).astype(np.int64)
    inside = (idx >= 0) & (idx < n)
    idx, vals = idx[inside], v[ok][inside]
    return (np.bincount(idx, weights=vals, minlength=n)[:n].astype(np.float64),
            np.bincount(idx, minlength=n)[:n].astype(np.float64))


def _mean(s: Floats, c: Floats) -> Floats:
    return bucket_mean_of(s, c)


def _combine(parts: Sequence[Floats], how: str, n: int) -> Floats:
    """Per-AP bucket means -> one line: summed (clients, traffic) or averaged (availability, RTT)."""
    return bucket_average(parts, n) if how == "mean" else bucket_sum(parts, n)


def window(range_key: str, now: float, custom: tuple[float, float] | None = None) -> tuple[int, int, int]:
    """(start, step, n buckets) of a preset range ending now, or of a custom [from, to) range (JST-aligned)."""
    if custom is None:
        span, step = RANGES[range_key]
        n = span // step
        end = math.ceil((now + JST_OFFSET) / step) * step - JST_OFFSET  # days (and hours) start at JST midnight
        return end - n * step, step, n
    a, b = custom
    b = min(b, now + DAY)
    a = max(a, b - MAX_SPAN)
    step = next((s for s in STEPS if (b - a) / s <= MAX_POINTS), DAY)
    start = math.floor((a + JST_OFFSET) / step) * step - JST_OFFSET
    end = math.ceil((b + JST_OFFSET) / step) * step - JST_OFFSET
    return int(start), step, max(1, int((end - start) // step))


def band_label(radio: str, bands: Mapping[str, str]) -> str:
    """The band a radio's clients count towards: its label when it names one (2g, 5GHz), else the band its
    frequency or channel gives (ap_radio), else the radio's own label."""
    return BAND_LABELS.get(radio.lower()) or bands.get(radio) or radio


def _bands(reader: Any, tags: Mapping[str, str], start: int, end: int) -> dict[str, str]:
    """radio label -> band from the newest day of ap_radio rows (frequency, else channel) in the range."""
    from analytics.radio import band_of

    out: dict[str, str] = {}
    if not hasattr(reader, "query_columns"):
        return out
    lo = max(start, end - DAY)
    for col in reader.query_columns("ap_radio", lo * 10**9, end * 10**9, tags, ("frequency_mhz", "channel")):
        f, ch = col.values["frequency_mhz"], col.values["channel"]
        fv = f[~np.isnan(f)]
        cv = ch[~np.isnan(ch)]
        band = band_of(float(fv[-1]) if len(fv) else None, float(cv[-1]) if len(cv) else None)
        if band:
            out[col.tags.get("radio", "")] = band
    return out


def chart(reader: Any, metric: str, tags: Mapping[str, str], range_key: str, now: float,
          custom: tuple[float, float] | None = None) -> Chart:
    """One metric for the APs matching ``tags`` ({"ap": id} or {"site": id}) over ``range_key`` up to ``now``.

    Aggregated by AP first (analytics.figures): the stored series of one AP (or one of its interfaces or radios)
    are pooled into one mean per bucket, whatever tags they were written under, and only then added up (or
    averaged) across APs. An AP whose vendor tag changed within a bucket counts once, not twice."""
    start, step, n = window(range_key, now, custom)
    end = start + n * step
    measurement, fields, how, scale = METRICS[metric]
    if step >= 3600 and hasattr(reader, "query_hourly"):
        per_series, samples = _rolled(reader, measurement, fields, tags, start, end, step, n)
    elif step >= 3600 and hasattr(reader, "raw"):
        per_series, samples = _grouped(reader, measurement, fields, tags, start, end, step, n)
    else:
        per_series, samples = _raw(reader, measurement, fields, tags, start, end, step, n)
    lines: list[Line] = []
    overall = None
    if how in ("by_band", "by_ssid"):
        ssids = how == "by_ssid"
        kept = [(t, f, s, c) for t, f, s, c in per_series
                if f == fields[0] and t.get("radio", "").startswith(SSID_PREFIX) == ssids]
        bands = {} if ssids else _bands(reader, tags, start, end)
        group_of = {part_key(t): (t.get("radio", "")[len(SSID_PREFIX):] if ssids
                                  else band_label(t.get("radio", ""), bands)) for t, _, _, _ in kept}
        groups: dict[str, list[Floats]] = {}
        for key, (s, c) in merge_by_ap((t, s, c) for t, _, s, c in kept).items():
            groups.setdefault(group_of[key], []).append(_mean(s, c))
        lines = [Line(g, _combine(v, "sum", n) * scale) for g, v in sorted(groups.items())]
        samples = sum(int(c.sum()) for _, _, _, c in kept)
    elif how.startswith("by_radio"):
        radio_of = {part_key(t): t.get("radio", "?") for t, _, _, _ in per_series}
        merged = merge_by_ap((t, s, c) for t, f, s, c in per_series if f == fields[0])
        by: dict[str, list[Floats]] = {}
        for key, (s, c) in merged.items():
            by.setdefault(radio_of[key], []).append(_mean(s, c))
        mode = "mean" if how == "by_radio_mean" else "sum"
        lines = [Line(radio, _combine(v, mode, n) * scale) for radio, v in sorted(by.items())]
    else:
        for f in fields:
            merged = merge_by_ap((t, s, c) for t, ff, s, c in per_series if ff == f)
            lines.append(Line(f, _combine([_mean(s, c) for s, c in merged.values()], how, n) * scale))
            if how == "mean" and f == fields[0]:
                total = sum(float(c.sum()) for _, c in merged.values())
                overall = sum(float(s.sum()) for s, _ in merged.values()) / total * scale if total else None
    return Chart(metric, float(start), step, lines, samples, overall)


def top_aps(reader: Any, metric: str, tags: Mapping[str, str], range_key: str, now: float,
            custom: tuple[float, float] | None = None, k: int = 10) -> list[tuple[str, float, float]]:
    """The ``k`` APs with the highest mean of ``metric`` (clients, traffic) over the range, as (ap, mean, peak of
    its bucket means): one query for the whole site, pooled per AP (interfaces added), never a query per AP."""
    start, step, n = window(range_key, now, custom)
    end = start + n * step
    measurement, fields, how, scale = METRICS[metric]
    if step >= 3600 and hasattr(reader, "query_hourly"):
        per_series, _ = _rolled(reader, measurement, fields, tags, start, end, step, n)
    elif step >= 3600 and hasattr(reader, "raw"):
        per_series, _ = _grouped(reader, measurement, fields, tags, start, end, step, n)
    else:
        per_series, _ = _raw(reader, measurement, fields, tags, start, end, step, n)
    per_ap: dict[str, list[Floats]] = {}
    for f in fields:
        for key, (s, c) in merge_by_ap((t, s, c) for t, ff, s, c in per_series if ff == f).items():
            per_ap.setdefault(str(key[0]), []).append(_mean(s, c))
    rows = []
    for ap, parts in per_ap.items():
        line = _combine(parts, "sum", n) * scale
        if np.all(np.isnan(line)):
            continue
        rows.append((ap, float(np.nanmean(line)), float(np.nanmax(line))))
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:k]


def _raw(reader: Any, measurement: str, fields: Sequence[str], tags: Mapping[str, str], start: int, end: int,
         step: int, n: int) -> tuple[list[SeriesBuckets], int]:
    out: list[SeriesBuckets] = []
    samples = 0
    for col in reader.query_columns(measurement, start * 10**9, end * 10**9, tags, fields):
        samples += len(col.time_ns)
        for f in fields:
            s, c = bucket_mean(col.time_ns, col.values[f], start, step, n)
            out.append((col.tags, f, s, c))
    return out, samples


def _rolled(reader: Any, measurement: str, fields: Sequence[str], tags: Mapping[str, str], start: int, end: int,
            step: int, n: int) -> tuple[list[SeriesBuckets], int]:
    """Buckets of an hour or more from the embedded store's hourly rollups (mean x count per hour, so each bucket
    is the mean of every row in it), and raw rows from each series' newest rollup hour on: the rollup job runs
    hourly, so that hour may be partial and the ones after it are not rolled up yet."""
    acc: dict[tuple[tuple[str, str], ...], dict[str, tuple[Floats, Floats]]] = {}
    newest: dict[tuple[tuple[str, str], ...], int] = {}
    rows = reader.query_hourly(measurement, start * 10**9, end * 10**9, tags, fields)
    for r in rows:
        key = tuple(sorted(r.tags.items()))
        newest[key] = max(newest.get(key, 0), r.hour_ns)
    for r in rows:
        key = tuple(sorted(r.tags.items()))
        i = int((r.hour_ns / 1e9 - start) // step)
        if r.hour_ns >= newest[key] or not 0 <= i < n or r.mean is None:
            continue
        s, c = acc.setdefault(key, {}).setdefault(r.field, (np.zeros(n), np.zeros(n)))
        s[i] += r.mean * r.count
        c[i] += r.count
    tail_from = min(newest.values(), default=start * 10**9)
    for col in reader.query_columns(measurement, tail_from, end * 10**9, tags, fields):
        key = tuple(sorted(col.tags.items()))
        keep = col.time_ns >= newest.get(key, start * 10**9)
        for f in fields:
            s, c = acc.setdefault(key, {}).setdefault(f, (np.zeros(n), np.zeros(n)))
            ds, dc = bucket_mean(col.time_ns[keep], col.values[f][keep], start, step, n)
            s += ds
            c += dc
    out: list[SeriesBuckets] = []
    samples = 0
    for key, by_field in sorted(acc.items()):
        for f in fields:
            if f in by_field:
                s, c = by_field[f]
                samples += int(c.sum()) if f == fields[0] else 0
                out.append((dict(key), f, s, c))
    return out, samples


def _grouped(reader: Any, measurement: str, fields: Sequence[str], tags: Mapping[str, str], start: int, end: int,
             step: int, n: int) -> tuple[list[SeriesBuckets], int]:
    """The same buckets from InfluxDB: ``mean()`` and ``count()`` per ``GROUP BY time(step)``; a boolean field
    (which InfluxQL cannot average) as the count of true rows over the count of rows."""
    from core.store.influxql import quote_ident, quote_str

    types = reader.field_types(measurement)
    where = [f"time >= {start * 10**9}", f"time < {end * 10**9}"]
    where += [f"{quote_ident(k)} = {quote_str(v)}" for k, v in sorted(tags.items())]
    group = f"GROUP BY time({step}s, {start % step}s), * fill(none)"
    acc: dict[tuple[tuple[str, str], ...], dict[str, tuple[Floats, Floats]]] = {}

    def gather(q: str, f: str, as_sum: bool) -> None:
        for ser in reader.raw(q):
            key = tuple(sorted((k, v) for k, v in (ser.get("tags") or {}).items() if v != ""))
            s, c = acc.setdefault(key, {}).setdefault(f, (np.zeros(n), np.zeros(n)))
            for t, x, cnt in ser.get("values", []):
                i = int((_ts(t) - start) // step)
                if 0 <= i < n and x is not None:
                    if as_sum:  # x: the count of true rows
                        s[i] += float(x)
                    else:
                        s[i] += float(x) * float(cnt or 0)
                        c[i] += float(cnt or 0)

    for f in fields:
        qf = quote_ident(f)
        if types.get(f) == "boolean":
            gather(f"SELECT count({qf}), count({qf}) FROM {quote_ident(measurement)} WHERE "
                   f"{' AND '.join(where)} AND {qf} = true {group}", f, True)
            for ser in reader.raw(f"SELECT count({qf}) FROM {quote_ident(measurement)} WHERE "
                                  f"{' AND '.join(where)} {group}"):
                key = tuple(sorted((k, v) for k, v in (ser.get("tags") or {}).items() if v != ""))
                s, c = acc.setdefault(key, {}).setdefault(f, (np.zeros(n), np.zeros(n)))
                for t, cnt in ser.get("values", []):
                    i = int((_ts(t) - start) // step)
                    if 0 <= i < n:
                        c[i] += float(cnt or 0)
        else:
            gather(f"SELECT mean({qf}), count({qf}) FROM {quote_ident(measurement)} WHERE {' AND '.join(where)} "
                   f"{group}", f, False)
    out: list[SeriesBuckets] = []
    samples = 0
    for key, by_field in sorted(acc.items()):
        for f in fields:
            if f in by_field:
                s, c = by_field[f]
                samples += int(c.sum()) if f == fields[0] else 0
                out.append((dict(key), f, s, c))
    return out, samples


def _ts(v: Any) -> float:
    if isinstance(v, int | float):
        return float(v) / 1e9
    import datetime as dt

    return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()
