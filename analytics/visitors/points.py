"""Visitor figures as InfluxDB points (measurement ``visitors``) for the Grafana dashboard: only what may be shown.

One point per site, area and the city per hour (``grain=hour``) and per day (``grain=day``) at the bucket's
start, fields ``unique_devices``, ``sessions`` and (days) ``median_dwell_min``. A hidden cell is never written:
Grafana shows a gap, never a small number, and nothing in InfluxDB needs suppressing again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from analytics.visitors.cube import Cube, day_start
from analytics.visitors.rows import figure_rows
from core.schema import FieldValue, Point

MEASUREMENT = "visitors"


def figure_points(c: Cube, start: dt.date, end: dt.date) -> Iterator[Point]:
    for grain in ("hour", "day"):
        for level in ("site", "area", "city"):
            for r in figure_rows(c, start, end, grain, level):
                if r["suppressed"]:
                    continue
                t = day_start(dt.date.fromisoformat(r["date"])) + 3600 * r.get("hour", 0)
                fields: dict[str, FieldValue] = {"unique_devices": r["unique_devices"], "sessions": r["sessions"]}
                if grain == "day" and r["median_dwell_min"] is not None:
                    fields["median_dwell_min"] = float(r["median_dwell_min"])
                tags = {"grain": grain, "level": level, "site": r["site"] if level == "site" else
                        r.get("area", "*")}
                if r["simulated"]:
                    tags["simulated"] = "true"
                yield Point(MEASUREMENT, tags, fields, int(t * 1e9))
