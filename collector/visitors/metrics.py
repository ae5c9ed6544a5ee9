"""Counters of the visitor sources, on the daemon's /metrics registry (collector.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from collector.metrics import REGISTRY

EVENTS = Counter("wifiwatch_visitor_events_total",
                 "Visitor source messages by source and outcome (start, interim, stop, stop_without_start, on_off, "
                 "duplicate, status_server, unknown_ap, bad_authenticator, malformed, no_device, unmatched, "
                 "rate_limited)",
                 ["source", "result"], registry=REGISTRY)
SECONDS = Histogram("wifiwatch_visitor_handle_seconds", "Time to handle one visitor source message",
                    ["source"], registry=REGISTRY, buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                            0.005, 0.01, 0.05))
