"""Event uplift: unique devices on event days (a calendar file: the stadium's match days, festivals) against
comparable days (the same weekday, not an event day, within four weeks either side, inside the cube's months).

The calendar is CSV with a header ``date,site,label`` (``site`` empty or ``*``: every site); every bad row is
reported as ``FILE:LINE: column: reason``. An uplift is shown only when the event day and every comparable day
are shown (rule 3 of analytics.visitors.suppress): a mean of hidden days would give them away.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.visitors.cube import DEV, Cube

MAX_BYTES = 1 << 20
MAX_ROWS = 10_000
WINDOW_DAYS = 28


class CalendarError(ValueError):
    """Bad rows in an event calendar; the message lists each as FILE:LINE: column: reason."""


@dataclass(frozen=True)
class EventDay:
    day: dt.date
    site: str  # "*": every site
    label: str


def read_calendar(path: Path) -> list[EventDay]:
    try:
        data = path.read_bytes()[:MAX_BYTES + 1]
    except OSError as e:
        raise CalendarError(f"{path}:1: (file): {e.strerror}") from None
    if len(data) > MAX_BYTES:
        raise CalendarError(f"{path}:1: (file): larger than {MAX_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CalendarError(f"{path}:1: (file): not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "date" not in [f.strip() for f in reader.fieldnames]:
        raise CalendarError(f"{path}:1: (header): needs the columns date, site, label")
    out: list[EventDay] = []
    problems: list[str] = []
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            problems.append(f"{path}:{n}: (file): more than {MAX_ROWS} rows")
            break
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str | type(None))}
        try:
            day = dt.date.fromisoformat(row.get("date", ""))
        except ValueError:
            problems.append(f"{path}:{n}: date: '{row.get('date', '')[:20]}' is not YYYY-MM-DD")
            continue
        label = "".join(c for c in row.get("label", "") if c.isprintable())[:80]
        out.append(EventDay(day, row.get("site") or "*", label))
    if problems:
        raise CalendarError("\n".join(problems))
    return out


def uplift_rows(c: Cube, events: list[EventDay], lang: str = "ja") -> list[dict[str, Any]]:
    """One row per (site, event day) inside the cube: devices that day, the mean of comparable days, uplift %."""
    first = c.first_day
    sites = [(i, u) for i, u in enumerate(c.units) if u.level == "site"]
    event_days: dict[str, set[int]] = {}
    for e in events:
        for _, u in sites:
            if e.site in ("*", u.id):
                event_days.setdefault(u.id, set()).add((e.day - dt.date(1970, 1, 1)).days)
    out = []
    for e in events:
        o = (e.day - dt.date(1970, 1, 1)).days
        di = o - first
        if not 0 <= di < c.n_days:
            continue
        for i, u in sites:
            if e.site not in ("*", u.id) or c.D[i, di, DEV] == 0:
                continue
            comparable = [d for d in range(di - WINDOW_DAYS, di + WINDOW_DAYS + 1, 7)
                          if d != di and 0 <= d < c.n_days and first + d not in event_days.get(u.id, set())]
            shown_event = not c.S_D[i, di, DEV]
            base_hidden = any(c.S_D[i, d, DEV] for d in comparable)
            base = (sum(int(c.D[i, d, DEV]) for d in comparable) / len(comparable)) if comparable else None
            ok = shown_event and not base_hidden and base is not None
            out.append({"site": u.id, "name": u.name(lang), "date": e.day.isoformat(), "label": e.label,
                        "devices": int(c.D[i, di, DEV]) if shown_event else None,
                        "comparable_days": len(comparable),
                        "baseline_devices_per_day": round(base, 1) if ok and base is not None else None,
                        "uplift_pct": round(100.0 * (int(c.D[i, di, DEV]) - base) / base, 1)
                        if ok and base else None,
                        "suppressed": not ok})
    return out
