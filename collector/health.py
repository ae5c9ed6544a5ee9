"""Which part of the daemon is failing and why: what ``/healthz`` answers and what the log says once.

A failing part is logged when it starts failing and when it recovers, never on every cycle: a damaged
store used to print a traceback every heartbeat while ``/healthz`` answered 503 without saying why.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from core.logs import kv

log = logging.getLogger("wifiwatch.health")

PARTS = ("store", "forwarder", "scheduler")


@dataclass(frozen=True)
class Failure:
    reason: str
    since: float


class HealthBoard:
    """Thread-safe record of the parts that failed at their last attempt (the others are fine)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: dict[str, Failure] = {}

    def fail(self, part: str, reason: str, advice: str = "") -> None:
        """Mark ``part`` failing; logs an error only when it was fine before or the reason changed."""
        with self._lock:
            before = self._failing.get(part)
            self._failing[part] = Failure(reason, before.since if before else time.time())
        if before is None or before.reason != reason:
            log.error(f"{part} failing: {reason}" + (f"; {advice}" if advice else ""),
                      extra=kv(part=part, reason=reason))

    def ok(self, part: str) -> None:
        with self._lock:
            before = self._failing.pop(part, None)
        if before is not None:
            log.warning(f"{part} working again", extra=kv(part=part, failed_for_s=round(time.time() - before.since)))

    def failing(self) -> dict[str, Failure]:
        with self._lock:
            return dict(self._failing)
