"""The measurement schema shared by the collector, both stores, analytics and the dashboards.

One :class:`Point` type, InfluxDB's data model (measurement, tags, fields, nanosecond time), so the
embedded store and InfluxDB hold the same rows and the same queries give the same numbers.
Tags are low-cardinality identifiers only; units are in field names. docs/schema.md is the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

FieldValue = float | int | bool | str

# measurement -> (tags, fields). The single source the docs, tests and dashboards check against.
MEASUREMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # fast heartbeat (ICMP, or SNMP when raw sockets are not allowed), default every 10 s
    "ap_ping": (("site", "ap", "role"), ("reachable", "rtt_ms", "loss_pct", "method")),
    # full poll, default every 60 s
    "ap_status": (
        ("site", "ap", "vendor", "role"),
        ("reachable", "snmp_ok", "rtt_ms", "loss_pct", "uptime_s", "clients", "poll_ms", "error", "clients_source"),
    ),
    "ap_clients": (("site", "ap", "radio"), ("clients",)),
    "ap_traffic": (("site", "ap", "interface"), ("rx_bps", "tx_bps", "rx_bytes", "tx_bytes", "oper_up")),
    # radio health where the profile's MIB has it (profile [[radio]]); band derived from frequency or channel
    "ap_radio": (("site", "ap", "radio"),
                 ("channel", "band", "frequency_mhz", "tx_power_dbm", "noise_dbm", "utilization_pct")),
    # a controller's view of each AP it manages (collector/controllers.py); site "unassigned" = not in sites.toml
    "ap_controller": (("site", "ap", "controller"), ("joined", "clients", "name", "mac", "serial")),
    # alert state changes and notifications
    "ap_event": (
        ("site", "ap", "kind"),
        ("state", "previous", "severity", "message", "incident_id", "duration_s", "suppressed_by"),
    ),
    # visitor figures per site/area/city and hour/day, only cells that may be shown (analytics.visitors.points)
    "visitors": (("grain", "level", "site", "simulated"), ("unique_devices", "sessions", "median_dwell_min")),
}

ROLE_AP = "ap"
ROLE_UPLINK = "uplink"
ROLE_CONTROLLER = "controller"
SIMULATED_TAG = "simulated"  # tag on every point analytics.synthetic writes (value "true"): demo history, not a poll

_Row = TypeVar("_Row")


def newest_live_per_device(rows: Iterable[_Row], tags: Callable[[_Row], Mapping[str, str]],
                           time_ns: Callable[[_Row], int]) -> dict[str, _Row]:
    """Per device (tag ``ap``): its newest live row; a simulated row only for a device with no live row at all.

    A store can hold both the demo's simulated history and the daemon's live series for one AP, and the
    simulated one may end later than the last poll: a "current state" view must never show it over a real one.
    """
    out: dict[str, tuple[tuple[bool, int], _Row]] = {}
    for r in rows:
        t = tags(r)
        dev = t.get("ap")
        if dev is None:
            continue
        rank = (t.get(SIMULATED_TAG) != "true", time_ns(r))
        if dev not in out or rank > out[dev][0]:
            out[dev] = (rank, r)
    return {dev: r for dev, (_, r) in out.items()}


def _escape_tag(s: str) -> str:
    # InfluxDB 1.x cannot carry a backslash or a line break in a tag reliably (a trailing backslash escapes
    # the separator after it): they become "/" and " ", which ids and names never need.
    s = s.replace("\\", "/").replace("\r", " ").replace("\n", " ")
    return s.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _field_literal(v: FieldValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        return repr(v)
    # Line protocol has no escape for a line break inside a string field: messages are kept to one line.
    s = str(v).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int
    _key: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def to_line(self) -> str:
        """InfluxDB line protocol; NaN/inf floats and empty tag values are dropped (Influx rejects them)."""
        tags = "".join(
            f",{_escape_tag(k)}={_escape_tag(v)}" for k, v in sorted(self.tags.items()) if v != ""
        )
        fields = ",".join(
            f"{_escape_tag(k)}={_field_literal(v)}"
            for k, v in sorted(self.fields.items())
            if not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))
        )
        return f"{_escape_measurement(self.measurement)}{tags} {fields} {self.time_ns}"

    def series_key(self) -> tuple[str, ...]:
        return (self.measurement, *(f"{k}={v}" for k, v in sorted(self.tags.items())))


class PointWriter(Protocol):
    def write(self, points: Sequence[Point]) -> None: ...


class PointReader(Protocol):
    """What analytics read, implemented by the embedded store and by InfluxQL over /query."""

    def query(
        self,
        measurement: str,
        start_ns: int,
        end_ns: int,
        tags: Mapping[str, str] | None = None,
    ) -> list[Point]:
        """Points with start_ns <= time < end_ns whose tags match all of ``tags``, ordered by time."""
        ...
