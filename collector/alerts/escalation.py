"""Escalation: an outage nobody acknowledged within ``escalate_after_min`` is also sent to a second channel.

Once per incident: the outbox key ``<incident>:escalate`` is unique, so neither a restart nor a later
heartbeat sends it twice.
"""

from __future__ import annotations

import sqlite3

from collector.alerts.ack import UNACKED

ESCALATED_KINDS = ("down", "site_down", "monitoring_lost")


def due(c: sqlite3.Connection, now: float, after_s: float) -> list[tuple[int, str, str, float, str]]:
    """Open, notified, unacknowledged outages older than ``after_s`` not yet escalated: (id, device, kind, start,
    severity)."""
    kinds = ",".join("?" * len(ESCALATED_KINDS))
    return c.execute(
        f"SELECT id, device, kind, start, severity FROM alert_incidents WHERE end IS NULL AND notified=1 "
        f"AND kind IN ({kinds}) AND start <= ? AND {UNACKED} AND NOT EXISTS "
        "(SELECT 1 FROM alert_outbox o WHERE o.key = alert_incidents.id || ':escalate')",
        (*ESCALATED_KINDS, now - after_s)).fetchall()
