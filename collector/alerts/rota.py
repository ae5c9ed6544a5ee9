"""The on-duty rota: which channel gets which site's alerts when.

A channel with no rota entry gets every alert its routing allows (as before there was a rota); a channel
with entries gets a site's alerts only while one of its entries covers that site (or "*") at that moment,
read in Japan time. Entries are edited in the console (障害 page) and kept in the alert tables.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.store.dbfile import check_namespace

JST = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

SCHEMA = """CREATE TABLE IF NOT EXISTS alert_rota (
  id INTEGER PRIMARY KEY, channel TEXT NOT NULL, target TEXT NOT NULL DEFAULT '*', weekdays TEXT NOT NULL,
  start_time TEXT NOT NULL, end_time TEXT NOT NULL, person TEXT NOT NULL DEFAULT '')"""


@dataclass(frozen=True)
class Shift:
    id: int
    channel: str
    target: str  # "*" or a site id
    weekdays: tuple[str, ...]
    start: dt.time
    end: dt.time  # end <= start: the shift crosses midnight
    person: str

    def covers(self, site_id: str, now: float) -> bool:
        if self.target not in ("*", site_id):
            return False
        local = dt.datetime.fromtimestamp(now, JST)
        t, day = local.time().replace(tzinfo=None), WEEKDAYS[local.weekday()]
        if self.start < self.end:
            return day in self.weekdays and self.start <= t < self.end
        before = WEEKDAYS[(local.weekday() - 1) % 7]  # the part after midnight belongs to the day before
        return (day in self.weekdays and t >= self.start) or (before in self.weekdays and t < self.end)


check_namespace("alert_", SCHEMA)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute(SCHEMA)


def parse_weekdays(text: str) -> tuple[str, ...]:
    """``"mon,tue"`` or ``"*"`` -> weekday names; ValueError naming what is wrong."""
    if text.strip() in ("*", ""):
        return WEEKDAYS
    days = tuple(d.strip().lower() for d in text.split(",") if d.strip())
    bad = [d for d in days if d not in WEEKDAYS]
    if bad:
        raise ValueError(f"unknown weekday {bad[0]!r} (use {', '.join(WEEKDAYS)} or *)")
    return days


def shifts(c: sqlite3.Connection) -> list[Shift]:
    return [Shift(i, ch, tg, tuple(wd.split(",")), dt.time.fromisoformat(a), dt.time.fromisoformat(b), p)
            for i, ch, tg, wd, a, b, p in c.execute(
                "SELECT id, channel, target, weekdays, start_time, end_time, person FROM alert_rota ORDER BY id")]


def add_shift(c: sqlite3.Connection, channel: str, target: str, weekdays: tuple[str, ...], start: dt.time,
              end: dt.time, person: str) -> int:
    cur = c.execute("INSERT INTO alert_rota(channel, target, weekdays, start_time, end_time, person) "
                    "VALUES (?,?,?,?,?,?)", (channel, target, ",".join(weekdays), start.isoformat("minutes"),
                                             end.isoformat("minutes"), person))
    return int(cur.lastrowid or 0)


def remove_shift(c: sqlite3.Connection, shift_id: int) -> bool:
    return c.execute("DELETE FROM alert_rota WHERE id=?", (shift_id,)).rowcount == 1


def on_duty(all_shifts: list[Shift], channel: str, site_id: str, now: float) -> bool:
    """Whether ``channel`` should get ``site_id``'s alert at ``now``: always when it has no shifts."""
    own = [s for s in all_shifts if s.channel == channel]
    return not own or any(s.covers(site_id, now) for s in own)
