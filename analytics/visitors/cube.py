"""Sessions -> counts per AP, site, area and city by hour, day and month: the one place visitor figures are made.

Sessions stream in start order (``VisitorStore.iter_sessions``) and are cut into JST days; each day is counted with
numpy and then dropped, so memory is one day's sessions plus the dense count arrays (units x days x measures),
never the month's traffic. A session counts on the day and hour it started.

- **Unique devices** per cell are exact: distinct ``device`` hashes (64 bits of the HMAC; a collision among a day's
  devices is ~1e-8 at a million devices). The day key rotates, so the same phone on two days is two hashes: a month's
  ``unique_devices`` is the sum of its daily uniques (延べ人数, person-days). A month's deduplicated estimate comes
  from HLL sketches (Apache DataSketches) of ``device30`` (only when ``[visitors] returning = true``), with its
  95 % bounds; the 30-day key itself rotates, so it is an upper bound of the people, labelled approximate.
- **Dwell** of a session is end - start; open sessions have none. The day's median is exact (over its closed
  sessions); a month's median comes from a KLL sketch (rank error stated). The dwell bands count devices by their
  total dwell in the cell (< 3 min, 3-15, 15-60, 60 min or more), and devices with only open sessions as 継続中,
  so the bands add up to the unique devices (a partition, which suppression relies on).
- **New vs returning** (approximate: MAC randomisation): a device whose ``device30`` was seen anywhere on the 30
  days before is returning, else new; without ``device30`` it is unknown. Again a partition of the devices.
- **Language** (the first one the device's sessions give), and **randomised** (locally administered) addresses,
  each a partition of the devices.
- **Flows**: the same device (day key, so within one JST day only) at site A, then at site B within
  ``flow_hours``; consecutive visits only; counted once per device and day.

An "area" is the site's kind (公共施設, 観光地, ...), the grouping the monthly report already rolls sites up by.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from core.inventory import Inventory

JST_OFFSET = 9 * 3600
DAY_S = 86400
LEVELS = ("ap", "site", "area", "city")
BANDS = ("dwell_open", "dwell_lt3", "dwell_3_15", "dwell_15_60", "dwell_ge60")
BAND_EDGES_S = (180.0, 900.0, 3600.0)
RETURNS = ("new", "returning", "returning_unknown")
LANGS = ("ja", "en", "zh-Hans", "zh-Hant", "ko", "other", "unknown")
RANDOM = ("randomized", "global_mac")
MEASURES = ("devices", "sessions", *BANDS, *RETURNS, *(f"lang_{x}" for x in LANGS), *RANDOM)
COL = {m: i for i, m in enumerate(MEASURES)}
DEV, SES = COL["devices"], COL["sessions"]
# Each group of columns splits a cell's devices into parts that add up to ``devices``.
PARTITIONS: tuple[tuple[int, ...], ...] = (
    tuple(COL[b] for b in BANDS), tuple(COL[r] for r in RETURNS), tuple(COL[f"lang_{x}"] for x in LANGS),
    tuple(COL[r] for r in RANDOM))
M = len(MEASURES)
RETURN_DAYS = 30
HLL_LG_K = 12  # 4,096 registers: relative standard error 1.6 %
KLL_K = 200  # median rank error about 1.3 % (exact below a few hundred values)
AREA_NAMES = {"public_facility": ("公共施設", "public facilities"), "tourist_spot": ("観光地", "tourist spots"),
              "station": ("駅", "stations"), "park": ("公園", "parks"), "commercial": ("商業施設", "commercial"),
              "unknown": ("その他", "other")}
_LANG_ALIASES = {"ja": "ja", "jp": "ja", "ja-jp": "ja", "en": "en", "ko": "ko", "ko-kr": "ko", "kr": "ko",
                 "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-hans": "zh-Hans", "zh-sg": "zh-Hans",
                 "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-hant": "zh-Hant", "zh-mo": "zh-Hant"}


class SessionLike(Protocol):
    """What a core.visitors.model.VisitorSession gives (read only)."""

    @property
    def ap_id(self) -> str: ...
    @property
    def site_id(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def device30(self) -> str | None: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float | None: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def randomized(self) -> bool: ...
    @property
    def simulated(self) -> bool: ...


def lang_index(lang: str | None) -> int:
    """The portal language as one of LANGS: BCP 47 tags and common shorthands folded, anything else 'other'."""
    if not lang:
        return LANGS.index("unknown")
    key = lang.strip().lower().replace("_", "-")[:16]
    name = _LANG_ALIASES.get(key) or _LANG_ALIASES.get(key.split("-")[0] if not key.startswith("zh") else key)
    return LANGS.index(name) if name else LANGS.index("other")


def hash64(hexdigest: str) -> int:
    """The first 64 bits of a keyed hash (hex) as a signed int (numpy int64, and what DataSketches takes)."""
    v = int(hexdigest[:16], 16)
    return v - (1 << 64) if v >= 1 << 63 else v


def jst_day(ts: float) -> int:
    """Days since 1970-01-01 in Japan time."""
    return int((ts + JST_OFFSET) // DAY_S)


def day_date(ordinal: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ordinal)


def day_start(d: dt.date) -> float:
    """Epoch seconds of 00:00 JST on ``d``."""
    return (d - dt.date(1970, 1, 1)).days * DAY_S - JST_OFFSET


@dataclass(frozen=True)
class Unit:
    level: str  # ap | site | area | city
    id: str
    name_ja: str
    name_en: str
    parent: int  # index of the unit it rolls up into; -1 for the city
    lat: float | None = None
    lon: float | None = None

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_ja


class Units:
    """City, areas, sites and APs of the inventory, plus any AP or site a session names that the inventory no
    longer has (its history still counts, under its id)."""

    def __init__(self, inv: Inventory):
        self.items: list[Unit] = []
        self.index: dict[tuple[str, str], int] = {}
        self._add(Unit("city", "*", inv.city_ja, inv.city_en, -1))
        for s in inv.sites:
            self.site(s.id, s.kind.value, s.name_ja, s.name_en, s.lat, s.lon)
            for a in s.aps:
                self.ap(a.id, s.id, a.name_ja or a.id, a.name_en or a.id)

    def _add(self, u: Unit) -> int:
        self.index[(u.level, u.id)] = len(self.items)
        self.items.append(u)
        return len(self.items) - 1

    def area(self, kind: str) -> int:
        i = self.index.get(("area", kind))
        if i is None:
            ja, en = AREA_NAMES.get(kind, (kind, kind))
            i = self._add(Unit("area", kind, ja, en, 0))
        return i

    def site(self, site_id: str, kind: str = "unknown", name_ja: str | None = None, name_en: str | None = None,
             lat: float | None = None, lon: float | None = None) -> int:
        i = self.index.get(("site", site_id))
        if i is None:
            i = self._add(Unit("site", site_id, name_ja or site_id, name_en or site_id, self.area(kind), lat, lon))
        return i

    def ap(self, ap_id: str, site_id: str, name_ja: str | None = None, name_en: str | None = None) -> int:
        i = self.index.get(("ap", ap_id))
        if i is None:
            i = self._add(Unit("ap", ap_id, name_ja or ap_id, name_en or ap_id, self.site(site_id)))
        return i

    def __len__(self) -> int:
        return len(self.items)

    def chain(self) -> list[list[int]]:
        """For each unit, itself and every unit above it."""
        out = []
        for i in range(len(self.items)):
            c = [i]
            while self.items[c[-1]].parent >= 0:
                c.append(self.items[c[-1]].parent)
            out.append(c)
        return out


@dataclass
class Cube:
    """Counts for whole JST months. Arrays are (unit, time..., measure) int32; ``S_*`` are the suppression masks
    (same shape, set by analytics.visitors.suppress; a True cell is never shown)."""

    units: list[Unit]
    first_day: int  # day ordinal (JST) of the first day
    n_days: int
    months: list[str]  # YYYY-MM, in order
    month_of_day: np.ndarray  # [n_days] month index
    hour_units: np.ndarray  # unit index of each row of H and HM (sites, areas, city)
    D: np.ndarray  # [U, n_days, M]
    D_median: np.ndarray  # [U, n_days] minutes, NaN: no closed session
    D_sim: np.ndarray  # [U, n_days] bool: rests on simulated sessions
    MO: np.ndarray  # [U, n_months, M] (sums of the days: person-days)
    MO_median: np.ndarray  # [U, n_months] minutes (KLL)
    MO_unique: np.ndarray  # [U, n_months, 3] estimate, lower, upper (95 %) of distinct device30; NaN: none
    MO_sim: np.ndarray
    TOT: np.ndarray  # [U, M] the whole extent (a 年度 when the cube is one): sums of the months
    H: np.ndarray | None  # [HU, n_days, 24, M]
    HM: np.ndarray | None  # [HU, n_months, 7, 24, M] weekday x hour (sums of the hour cells)
    flows: dict[tuple[int, int, int], int]  # (month, site unit A, site unit B) -> device-days
    flow_hours: float
    kll_rank_error: float
    hll_lg_k: int = HLL_LG_K
    sessions_read: int = 0
    k: int = 0  # set by suppress()
    S_D: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    S_MO: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    S_TOT: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    S_H: np.ndarray | None = None
    S_HM: np.ndarray | None = None
    S_flows: dict[tuple[int, int, int], bool] = field(default_factory=dict)
    flows_lang: dict[tuple[int, int, int, int], int] = field(default_factory=dict)  # (month, A, B, language)
    S_flows_lang: dict[tuple[int, int, int, int], bool] = field(default_factory=dict)

    def day_ordinals(self) -> range:
        return range(self.first_day, self.first_day + self.n_days)

    def unit_index(self, level: str, uid: str) -> int | None:
        for i, u in enumerate(self.units):
            if u.level == level and u.id == uid:
                return i
        return None


def month_range(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The whole months covering [start, end): suppression is decided per whole month, so every output over the
    same months hides the same cells."""
    a = start.replace(day=1)
    last = end - dt.timedelta(days=1)
    b = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return a, b


class _Day:
    """One JST day's sessions as columns (lists while filling, numpy once complete)."""

    __slots__ = ("ap", "start", "end", "dev", "dev30", "lang", "rnd", "sim")

    def __init__(self) -> None:
        self.ap: list[int] = []
        self.start: list[float] = []
        self.end: list[float] = []
        self.dev: list[int] = []
        self.dev30: list[int] = []
        self.lang: list[int] = []
        self.rnd: list[bool] = []
        self.sim: list[bool] = []


def _pairs(key: np.ndarray, dev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by (key, device): the order, the start of each distinct (key, device) pair and the pair's key."""
    order = np.lexsort((dev, key))
    k, d = key[order], dev[order]
    new = np.ones(len(k), bool)
    new[1:] = (k[1:] != k[:-1]) | (d[1:] != d[:-1])
    starts = np.flatnonzero(new)
    return order, starts, k[starts]


def _counts(key: np.ndarray, n_keys: int, dev: np.ndarray, dwell: np.ndarray, ret: np.ndarray, lang: np.ndarray,
            rnd: np.ndarray) -> np.ndarray:
    """[n_keys, M] counts of one day's sessions grouped by ``key``."""
    out = np.zeros((n_keys, M), np.int32)
    if not len(key):
        return out
    order, starts, pk = _pairs(key, dev)
    n = len(order)
    out[:, DEV] = np.bincount(pk, minlength=n_keys)
    out[:, SES] = np.bincount(key, minlength=n_keys)
    dw = dwell[order]
    closed = ~np.isnan(dw)
    total = np.add.reduceat(np.where(closed, dw, 0.0), starts)
    any_closed = np.maximum.reduceat(closed.astype(np.int8), starts) > 0
    band = np.where(any_closed, 1 + np.searchsorted(np.asarray(BAND_EDGES_S), total, side="right"), 0)
    r = np.minimum.reduceat(ret[order], starts)
    ln = lang[order]
    unknown = LANGS.index("unknown")
    first = np.minimum.reduceat(np.where(ln != unknown, np.arange(n), n), starts)
    pl = np.where(first < n, ln[np.minimum(first, n - 1)], unknown)
    pr = np.maximum.reduceat(rnd[order].astype(np.int8), starts)
    for cols, cat, width in ((PARTITIONS[0], band, len(BANDS)), (PARTITIONS[1], r, len(RETURNS)),
                             (PARTITIONS[2], pl, len(LANGS)), (PARTITIONS[3], 1 - pr, len(RANDOM))):
        c = np.bincount(pk * width + cat, minlength=n_keys * width).reshape(n_keys, width)
        out[:, cols[0]:cols[0] + width] = c
    return out


def _medians(key: np.ndarray, n_keys: int, dwell: np.ndarray) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Exact median dwell (minutes) of the closed sessions per key, and each key's sorted dwell values."""
    med = np.full(n_keys, np.nan)
    sel = ~np.isnan(dwell)
    k, v = key[sel], dwell[sel] / 60.0
    if not len(k):
        return med, []
    order = np.lexsort((v, k))
    k, v = k[order], v[order]
    bounds = np.flatnonzero(np.r_[True, k[1:] != k[:-1], True])
    s, e = bounds[:-1], bounds[1:]
    n = e - s
    lo = v[s + (n - 1) // 2]
    hi = v[s + n // 2]
    med[k[s]] = (lo + hi) / 2
    return med, [(int(k[a]), v[a:b]) for a, b in zip(s, e, strict=True)]


def build_cube(sessions: Iterable[SessionLike], inv: Inventory, start: dt.date, end: dt.date, hours: bool = True,
               flow_hours: float = 3.0) -> Cube:
    """Count ``sessions`` (in start order; earlier ones only prime the 30-day returning memory) into a cube of the
    whole JST months covering [start, end)."""
    import datasketches as ds

    first, stop = month_range(start, end)
    first_ord, stop_ord = (first - dt.date(1970, 1, 1)).days, (stop - dt.date(1970, 1, 1)).days
    n_days = stop_ord - first_ord
    months: list[str] = []
    month_of_day = np.zeros(n_days, np.int64)
    for i in range(n_days):
        m = day_date(first_ord + i).strftime("%Y-%m")
        if not months or months[-1] != m:
            months.append(m)
        month_of_day[i] = len(months) - 1
    units = Units(inv)
    days_d: dict[int, np.ndarray] = {}
    days_h: dict[int, np.ndarray] = {}
    med_d: dict[int, np.ndarray] = {}
    sim_d: dict[int, np.ndarray] = {}
    kll: dict[tuple[int, int], Any] = {}
    hll: dict[tuple[int, int], Any] = {}
    flows: dict[tuple[int, int, int], int] = {}
    flows_lang: dict[tuple[int, int, int, int], int] = {}  # the same split by the device's portal language
    seen30: dict[int, int] = {}
    read = 0

    def flush(ordinal: int, day: _Day) -> None:
        if not day.ap:
            return
        dev30 = np.asarray(day.dev30, np.int64)
        # returning: device30 seen on one of the RETURN_DAYS days before this one (anywhere in the city)
        ret = np.full(len(dev30), 2, np.int64)
        has = dev30 != 0
        if has.any():
            uniq, inverse = np.unique(dev30[has], return_inverse=True)
            flags = np.fromiter((ordinal - RETURN_DAYS <= seen30.get(x, -10**9) < ordinal for x in uniq.tolist()),
                                bool, len(uniq))
            ret[has] = flags[inverse].astype(np.int64)
            for x in uniq.tolist():
                seen30[x] = ordinal
            if ordinal % 7 == 0:
                for x in [x for x, d in seen30.items() if d < ordinal - RETURN_DAYS]:
                    del seen30[x]
        if not first_ord <= ordinal < stop_ord:
            return
        di = ordinal - first_ord
        mi = int(month_of_day[di])
        n_units = len(units)
        chain = np.asarray([c + [c[-1]] * (4 - len(c)) for c in units.chain()], np.int64)
        ap = np.asarray(day.ap, np.int64)
        st = np.asarray(day.start)
        en = np.asarray(day.end)
        dwell = np.maximum(en - st, 0.0)  # a clock step backwards at the sender is a zero stay, not a negative one
        dev = np.asarray(day.dev, np.int64)
        lang = np.asarray(day.lang, np.int64)
        rnd = np.asarray(day.rnd, bool)
        sim = np.asarray(day.sim, bool)
        # every session counts once at each level: stacked (AP, site, area, city) copies
        levels = [chain[ap, j] for j in range(4)]
        key = np.concatenate(levels)
        rep = np.tile(np.arange(len(ap)), 4)
        counts = _counts(key, n_units, dev[rep], dwell[rep], ret[rep], lang[rep], rnd[rep])
        days_d[di] = counts
        med, per_key = _medians(key, n_units, dwell[rep])
        med_d[di] = med
        sim_d[di] = np.bincount(key, weights=sim[rep].astype(float), minlength=n_units) > 0
        for u, values in per_key:
            sk = kll.get((u, mi))
            if sk is None:
                sk = kll[(u, mi)] = ds.kll_floats_sketch(KLL_K)
            sk.update(values.astype(np.float32))
        if has.any():  # sites, areas and the city (an AP's month is its days' sum only)
            d30 = dev30[rep][len(ap):]
            k30 = key[len(ap):]
            sel = d30 != 0
            o30, s0, pk = _pairs(k30[sel], d30[sel])
            vals = d30[sel][o30][s0]
            bounds = np.flatnonzero(np.r_[True, pk[1:] != pk[:-1], True])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                u = int(pk[a])
                sk = hll.get((u, mi))
                if sk is None:
                    sk = hll[(u, mi)] = ds.hll_sketch(HLL_LG_K, ds.tgt_hll_type.HLL_8)
                for x in vals[a:b].tolist():
                    sk.update(x)
        if hours:
            hour = ((st + JST_OFFSET) % DAY_S // 3600).astype(np.int64)
            hu_of = np.full(n_units, -1, np.int64)
            hus = [i for i, u in enumerate(units.items) if u.level != "ap"]
            hu_of[hus] = np.arange(len(hus))
            hk = hu_of[key]
            sel = hk >= 0
            hkey = hk[sel] * 24 + hour[rep][sel]
            days_h[di] = _counts(hkey, len(hus) * 24, dev[rep][sel], dwell[rep][sel], ret[rep][sel],
                                 lang[rep][sel], rnd[rep][sel]).reshape(len(hus), 24, M)
        # flows: consecutive visits of one device to two different sites within flow_hours
        site = levels[1]
        order = np.lexsort((st, dev))
        d_o, s_o, st_o, en_o = dev[order], site[order], st[order], en[order]
        if len(order) > 1:
            left = np.where(np.isnan(en_o[:-1]), st_o[:-1], en_o[:-1])
            move = (d_o[1:] == d_o[:-1]) & (s_o[1:] != s_o[:-1]) & (st_o[1:] - left <= flow_hours * 3600)
            if move.any():
                unknown = LANGS.index("unknown")
                l_o = lang[order]
                la, lb = l_o[:-1][move], l_o[1:][move]
                trip = np.stack([d_o[:-1][move], s_o[:-1][move], s_o[1:][move], np.where(la != unknown, la, lb)],
                                axis=1)
                _, first = np.unique(trip[:, :3], axis=0, return_index=True)  # once per device, A and B a day
                abl, n = np.unique(trip[first][:, 1:], axis=0, return_counts=True)
                for (a, b, ln), c in zip(abl.tolist(), n.tolist(), strict=True):
                    flows[(mi, a, b)] = flows.get((mi, a, b), 0) + c
                    flows_lang[(mi, a, b, ln)] = flows_lang.get((mi, a, b, ln), 0) + c

    current = None
    day = _Day()
    ap_cache: dict[str, int] = {}
    lang_cache: dict[str | None, int] = {}
    for s in sessions:
        o = jst_day(s.start)
        if o >= stop_ord:
            break
        if o != current:
            if current is not None and o < current:
                raise ValueError("sessions must come in start order (VisitorStore.iter_sessions gives them so)")
            if current is not None:
                flush(current, day)
            current, day = o, _Day()
        if o < first_ord and s.device30 is None:
            continue
        read += 1
        ap_i = ap_cache.get(s.ap_id)
        if ap_i is None:
            ap_i = ap_cache[s.ap_id] = units.ap(s.ap_id, s.site_id)
        lang_i = lang_cache.get(s.lang)
        if lang_i is None:
            lang_i = lang_index(s.lang)
            if len(lang_cache) < 10_000:  # bounded: a hostile export cannot grow it
                lang_cache[s.lang] = lang_i
        day.ap.append(ap_i)
        day.start.append(s.start)
        day.end.append(math.nan if s.end is None else s.end)
        day.dev.append(hash64(s.device))
        day.dev30.append(0 if s.device30 is None else hash64(s.device30) or 1)
        day.lang.append(lang_i)
        day.rnd.append(bool(s.randomized))
        day.sim.append(bool(s.simulated))
    if current is not None:
        flush(current, day)
    cube = _assemble(units, first_ord, n_days, months, month_of_day, days_d, days_h, med_d, sim_d, kll, hll, flows,
                     flow_hours, hours, read)
    cube.flows_lang = flows_lang
    return cube


def _assemble(units: Units, first_ord: int, n_days: int, months: list[str], month_of_day: np.ndarray,
              days_d: dict[int, np.ndarray], days_h: dict[int, np.ndarray], med_d: dict[int, np.ndarray],
              sim_d: dict[int, np.ndarray], kll: dict[tuple[int, int], Any], hll: dict[tuple[int, int], Any],
              flows: dict[tuple[int, int, int], int], flow_hours: float, hours: bool, read: int) -> Cube:
    import datasketches as ds

    n_u, n_m = len(units), len(months)
    D = np.zeros((n_u, n_days, M), np.int32)
    D_median = np.full((n_u, n_days), np.nan)
    D_sim = np.zeros((n_u, n_days), bool)
    for di, c in days_d.items():
        D[: c.shape[0], di] = c
        D_median[: c.shape[0], di] = med_d[di]
        D_sim[: c.shape[0], di] = sim_d[di]
    MO = np.zeros((n_u, n_m, M), np.int32)
    MO_sim = np.zeros((n_u, n_m), bool)
    for mi in range(n_m):
        sel = month_of_day == mi
        MO[:, mi] = D[:, sel].sum(axis=1)
        MO_sim[:, mi] = D_sim[:, sel].any(axis=1)
    MO_median = np.full((n_u, n_m), np.nan)
    for (u, mi), sk in kll.items():
        MO_median[u, mi] = float(sk.get_quantile(0.5))
    MO_unique = np.full((n_u, n_m, 3), np.nan)
    for (u, mi), sk in hll.items():
        MO_unique[u, mi] = (sk.get_estimate(), sk.get_lower_bound(2), sk.get_upper_bound(2))
    hour_units = np.asarray([i for i, u in enumerate(units.items) if u.level != "ap"], np.int64)
    H = HM = None
    if hours:
        H = np.zeros((len(hour_units), n_days, 24, M), np.int32)
        for di, c in days_h.items():
            H[: c.shape[0], di] = c
        HM = np.zeros((len(hour_units), n_m, 7, 24, M), np.int32)
        for di in range(n_days):
            wd = (first_ord + di + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
            HM[:, month_of_day[di], wd] += H[:, di]
    err = float(ds.kll_floats_sketch.get_normalized_rank_error(KLL_K, False))
    return Cube(units.items, first_ord, n_days, months, month_of_day, hour_units, D, D_median, D_sim, MO, MO_median,
                MO_unique, MO_sim, MO.sum(axis=1, dtype=np.int32), H, HM, flows, flow_hours, err, sessions_read=read)
