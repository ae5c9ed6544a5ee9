"""Prometheus metrics about the daemon itself (not about the APs: those go to the store)."""

from __future__ import annotations

import math
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

POLL_SECONDS = Histogram(
    "wifiwatch_poll_cycle_seconds", "Duration of a full SNMP poll cycle", registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120),
)
HEARTBEAT_SECONDS = Histogram(
    "wifiwatch_heartbeat_cycle_seconds", "Duration of a heartbeat (ICMP or SNMP) cycle", registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
POLL_ERRORS = Counter("wifiwatch_poll_errors_total", "Failed SNMP polls", ["ap", "kind"], registry=REGISTRY)
POLLS = Counter("wifiwatch_polls_total", "SNMP polls attempted", registry=REGISTRY)
POINTS_WRITTEN = Counter("wifiwatch_points_written_total", "Points written to the embedded store", registry=REGISTRY)
DEVICES = Gauge("wifiwatch_devices", "Devices polled by this collector (its shard)", registry=REGISTRY)
DEVICES_DOWN = Gauge("wifiwatch_devices_unreachable", "Devices unreachable at the last heartbeat", registry=REGISTRY)
FORWARD_BACKLOG = Gauge("wifiwatch_forward_backlog_rows", "Rows not yet forwarded to InfluxDB", registry=REGISTRY)
OUTBOX = Gauge("wifiwatch_alert_outbox", "Alert messages waiting to be delivered", registry=REGISTRY)
SERIES_DROPPED = Counter("wifiwatch_series_dropped_total",
                         "Per-AP series (interfaces, radios, SSIDs) not written because an AP exceeded its cap",
                         ["kind"], registry=REGISTRY)


def _guarded(read: Callable[[], float]) -> Callable[[], float]:
    """A scrape must answer even when the store cannot: NaN says "unknown", never a stale 0."""
    def value() -> float:
        try:
            return float(read())
        except Exception:  # noqa: BLE001 - a damaged store is reported by /healthz, not by a failed scrape
            return math.nan
    return value


def watch(backlog: Callable[[], float] | None, outbox: Callable[[], float] | None) -> None:
    """Read the forwarding backlog and the alert outbox at every scrape (0 when there is none to read)."""
    FORWARD_BACKLOG.set_function(_guarded(backlog) if backlog is not None else (lambda: 0.0))
    OUTBOX.set_function(_guarded(outbox) if outbox is not None else (lambda: 0.0))
