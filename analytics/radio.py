"""Radio capacity for a period: per AP radio, peak clients next to how busy and noisy the channel was.

Reads ``ap_clients`` (radio rows, not ``ssid:`` rows: those count the same clients) and ``ap_radio``
(docs/schema.md). Meant for the monthly report's capacity section: a radio whose peak is near its capacity
*and* whose channel is busy needs another AP or another channel, not only more bandwidth. Radios of
profiles without radio health have clients only; their channel figures are None ("no data", never 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.tables import Period, read_columns
from core.inventory import Inventory
from core.schema import PointReader

RADIO_FIELDS = ("channel", "frequency_mhz", "noise_dbm", "utilization_pct", "tx_power_dbm")


@dataclass(frozen=True)
class RadioRow:
    site: str
    ap: str
    radio: str
    samples: int  # ap_clients rows the peak rests on
    peak_clients: int | None
    capacity: int  # clients per radio the inventory plans for
    band: str | None
    channels: tuple[int, ...]  # every channel seen, most used first
    utilization_mean_pct: float | None
    utilization_p95_pct: float | None
    noise_mean_dbm: float | None
    health_samples: int  # ap_radio rows the channel figures rest on
    hours: int = 0  # hours (of the clock) with at least one ap_clients row: coverage of the peak
    health_hours: int = 0  # hours with at least one ap_radio row: coverage of the channel figures

    @property
    def peak_share(self) -> float | None:
        return None if self.peak_clients is None else self.peak_clients / self.capacity


def _band(freq: float | None, channel: float | None) -> str | None:
    if freq is not None and not np.isnan(freq):
        return "2.4GHz" if freq < 2500 else "5GHz" if freq < 5925 else "6GHz"
    if channel is not None and not np.isnan(channel):
        return "2.4GHz" if channel <= 14 else "5GHz" if 32 <= channel <= 177 else None
    return None


band_of = _band  # the console's per-band chart names bands the same way

HOUR_NS = 3_600_000_000_000


def _hours(time_ns: np.ndarray) -> int:
    return int(len(np.unique(time_ns // HOUR_NS)))


def _mean(v: np.ndarray) -> float | None:
    v = v[~np.isnan(v)]
    return round(float(v.mean()), 1) if len(v) else None


def radio_capacity(reader: PointReader, inv: Inventory, period: Period) -> list[RadioRow]:
    """One row per (AP, radio) with data in the period, in inventory order, radios sorted by label."""
    start, end = period.ns
    out: list[RadioRow] = []
    for site, ap in inv.aps():
        tags = {"ap": ap.id}
        clients = {c.tags.get("radio", ""): c for c in read_columns(reader, "ap_clients", start, end, tags, ["clients"])
                   if not c.tags.get("radio", "").startswith("ssid:")}
        health = {c.tags.get("radio", ""): c for c in read_columns(reader, "ap_radio", start, end, tags,
                                                                   list(RADIO_FIELDS))}
        for radio in sorted(set(clients) | set(health)):
            c = clients.get(radio)
            counts = c.values["clients"][~np.isnan(c.values["clients"])] if c is not None else np.array([])
            h = health.get(radio)
            channels: tuple[int, ...] = ()
            band = None
            util_mean = util_p95 = noise = None
            n_health = 0
            if h is not None:
                n_health = len(h.time_ns)
                ch = h.values["channel"][~np.isnan(h.values["channel"])]
                if len(ch):
                    values, counts_ch = np.unique(ch.astype(int), return_counts=True)
                    channels = tuple(int(v) for _, v in sorted(zip(-counts_ch, values, strict=True)))
                freq = h.values["frequency_mhz"]
                last_f = float(freq[~np.isnan(freq)][-1]) if np.any(~np.isnan(freq)) else None
                band = _band(last_f, float(ch[-1]) if len(ch) else None)
                util = h.values["utilization_pct"][~np.isnan(h.values["utilization_pct"])]
                util_mean = _mean(util)
                util_p95 = round(float(np.percentile(util, 95)), 1) if len(util) else None
                noise = _mean(h.values["noise_dbm"])
            out.append(RadioRow(site.id, ap.id, radio, len(counts), int(counts.max()) if len(counts) else None,
                                inv.capacity_for(ap), band, channels, util_mean, util_p95, noise, n_health,
                                _hours(c.time_ns[~np.isnan(c.values["clients"])]) if c is not None else 0,
                                _hours(h.time_ns) if h is not None else 0))
    return out
