"""Maintenance windows: one-off (start/end) or weekly (weekday and local times, Asia/Tokyo)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol
from zoneinfo import ZoneInfo

from core.inventory import Inventory, Maintenance

JST = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=JST)


def active(w: Maintenance, now: float) -> bool:
    """Whether ``w`` covers the instant ``now`` (epoch seconds). Naive datetimes are JST."""
    if w.start is not None and w.end is not None:
        return _aware(w.start).timestamp() <= now < _aware(w.end).timestamp()
    assert w.weekday is not None and w.start_time is not None and w.end_time is not None
    local = dt.datetime.fromtimestamp(now, JST)
    today = WEEKDAYS[local.weekday()]
    t = local.time().replace(tzinfo=None)
    if w.start_time <= w.end_time:
        return today == w.weekday and w.start_time <= t < w.end_time
    # crosses midnight: e.g. sun 23:00 - 01:00 covers late Sunday and early Monday
    nxt = WEEKDAYS[(WEEKDAYS.index(w.weekday) + 1) % 7]
    return (today == w.weekday and t >= w.start_time) or (today == nxt and t < w.end_time)


def active_windows(config: Iterable[Maintenance], adhoc: Iterable[tuple[str, str, str, str, str]]
                   ) -> list[Maintenance]:
    """The one merge of maintenance windows: the config file's and those added at run time (the alert store's
    (id, target, start, end, reason) rows: ``wifiwatch maintenance add``, the console). The alert engine, the
    state model and the timelines all read this list. A stored row the validator would refuse now is left out
    (shown nowhere rather than crashing a page)."""
    out = list(config)
    for wid, target, start, end, reason in adhoc:
        try:
            out.append(Maintenance(id=wid, target=target, start=dt.datetime.fromisoformat(start),
                                   end=dt.datetime.fromisoformat(end), reason=reason))
        except ValueError:
            continue
    return out


def covering(windows: Iterable[Maintenance], device_id: str, site_id: str, now: float) -> Maintenance | None:
    """The first active window whose target is this device, its site, or everything."""
    for w in windows:
        if w.target in ("*", device_id, site_id) and active(w, now):
            return w
    return None


def expand(windows: Iterable[Maintenance], device_id: str, site_id: str, start: float,
           end: float) -> list[tuple[float, float, str]]:
    """Every window occurrence touching [start, end) for this device: (from, to, window id), epoch seconds."""
    out: list[tuple[float, float, str]] = []
    for w in windows:
        if w.target not in ("*", device_id, site_id):
            continue
        if w.start is not None and w.end is not None:
            a, b = _aware(w.start).timestamp(), _aware(w.end).timestamp()
            if b > start and a < end:
                out.append((a, b, w.id))
            continue
        assert w.weekday is not None and w.start_time is not None and w.end_time is not None
        day = dt.datetime.fromtimestamp(start, JST).replace(hour=0, minute=0, second=0, microsecond=0)
        day -= dt.timedelta(days=1)
        while day.timestamp() < end:
            if WEEKDAYS[day.weekday()] == w.weekday:
                t0 = dt.datetime.combine(day.date(), w.start_time, JST)
                t1 = dt.datetime.combine(day.date(), w.end_time, JST)
                if t1 <= t0:
                    t1 += dt.timedelta(days=1)
                if t1.timestamp() > start and t0.timestamp() < end:
                    out.append((t0.timestamp(), t1.timestamp(), w.id))
            day += dt.timedelta(days=1)
    return sorted(out)


# -- changing ad-hoc windows (the CLI and the web console call these) ----------------------------------------
class AdhocWindows(Protocol):
    """Where ``maintenance add`` windows live (the alert store): (id, target, start, end, reason) rows."""

    def maintenance(self) -> list[tuple[str, str, str, str, str]]: ...

    def remove_maintenance(self, wid: str) -> bool: ...

    def set_maintenance_end(self, wid: str, end: str) -> bool: ...


class MaintenanceError(ValueError):
    """A window that cannot be changed this way; the message says why and what to do instead."""


def _find(store: AdhocWindows, config_ids: Iterable[str], wid: str) -> tuple[str, str, str, str, str]:
    if wid in set(config_ids):
        raise MaintenanceError(f"'{wid}' is defined in the config file: remove or change it there "
                               "(then reload the daemon with SIGHUP)")
    rows = store.maintenance()
    for row in rows:
        if row[0] == wid:
            return row
    known = ", ".join(r[0] for r in rows) or "none"
    raise MaintenanceError(f"no added maintenance window '{wid}' (added windows: {known})")


def remove_window(store: AdhocWindows, config_ids: Iterable[str], wid: str) -> tuple[str, str, str, str, str]:
    """Cancel an added window entirely (a mistaken one): alerts it would have silenced are sent again."""
    row = _find(store, config_ids, wid)
    store.remove_maintenance(wid)
    return row


def end_window(store: AdhocWindows, config_ids: Iterable[str], wid: str, now: float) -> dt.datetime:
    """End a running window now (the work finished early); returns the new end. A window not begun yet is
    removed with :func:`remove_window` instead; one already over cannot be ended again."""
    _, _, start, end, _ = _find(store, config_ids, wid)
    t0, t1 = _aware(dt.datetime.fromisoformat(start)), _aware(dt.datetime.fromisoformat(end))
    at = dt.datetime.fromtimestamp(now, JST)
    if t0.timestamp() > now:
        raise MaintenanceError(f"'{wid}' has not started yet (starts {t0.isoformat()}): use `maintenance remove`")
    if t1.timestamp() <= now:
        raise MaintenanceError(f"'{wid}' already ended at {t1.isoformat()}")
    store.set_maintenance_end(wid, at.isoformat(timespec="seconds"))
    return at


def with_added_windows(inv: Inventory, adhoc: Iterable[tuple[str, str, str, str, str]]) -> Inventory:
    """``inv`` whose ``maintenance`` is :func:`active_windows`: what reports and figures read, so a window added at
    run time is set aside in them as it silences alerts and shows 保守中."""
    rows = list(adhoc)
    return inv if not rows else inv.model_copy(update={"maintenance": active_windows(inv.maintenance, rows)})
