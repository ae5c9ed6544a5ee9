"""The visitor session: one device's stay at one AP, as every source (RADIUS, syslog, import, SNMP, the
simulator) reports it and every figure reads it.

Never a raw device identifier: ``device`` is HMAC-SHA-256 of it under the day's key (core.visitors.keys),
so counting distinct ``device`` values within one JST day is exact, and nothing links two days.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCES = ("radius", "syslog", "import", "snmp", "sim")


@dataclass(frozen=True, slots=True)
class VisitorSession:
    ap_id: str
    site_id: str
    device: str  # HMAC-SHA-256 hex of the device id under the day key; never the raw id
    device30: str | None  # under the 30-day key, only when [visitors] returning = true
    start: float  # epoch seconds (UTC)
    end: float | None  # None while the session is open
    source: str  # "radius" | "syslog" | "import" | "snmp" | "sim"
    lang: str | None = None  # portal language when the source gives it ("ja", "en", "zh", "ko", ...)
    randomized: bool = False  # the MAC was locally administered (randomised)
    simulated: bool = False

    @property
    def dwell_s(self) -> float | None:
        """Seconds from association to disassociation (a RADIUS Stop's Acct-Session-Time); None while open."""
        return None if self.end is None else self.end - self.start
