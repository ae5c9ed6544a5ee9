"""Notice the wall clock being stepped and put the scheduler's interval jobs back on the new time.

APScheduler times jobs by the wall clock. Stepped back (NTP correcting a fast RTC at boot, an operator
setting the time), every interval job would wait out the step before its next run: an hour back would mean
an hour without heartbeats or alerts. Stepped forward, runs are only coalesced, but rescheduling costs
nothing. The step is measured against the monotonic clock, which no one can set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.logs import kv

log = logging.getLogger("wifiwatch.daemon")

CHECK_S = 1.0
JUMP_S = 5.0  # NTP slews small errors; steps this large are what would stall or burst the jobs


def wall_jump(wall0: float, mono0: float, wall1: float, mono1: float) -> float:
    """How far the wall clock moved beyond the time that really passed (negative: stepped back)."""
    return (wall1 - wall0) - (mono1 - mono0)


def reschedule_intervals(scheduler: BaseScheduler, now: float) -> int:
    """Give every interval job a next run a moment from ``now`` (spread by its position); returns how many."""
    n = 0
    for i, job in enumerate(scheduler.get_jobs()):
        if isinstance(job.trigger, IntervalTrigger):
            job.modify(next_run_time=dt.datetime.fromtimestamp(now + 0.1 + 0.05 * i, tz=dt.UTC))
            n += 1
    return n


async def watch(scheduler: BaseScheduler, clock: Callable[[], float] = time.time, check_s: float = CHECK_S,
                jump_s: float = JUMP_S) -> None:
    """Run until cancelled: on a wall-clock step of ``jump_s`` or more, log it and reschedule."""
    wall, mono = clock(), time.monotonic()
    while True:
        await asyncio.sleep(check_s)
        w, m = clock(), time.monotonic()
        step = wall_jump(wall, mono, w, m)
        wall, mono = w, m
        if abs(step) >= jump_s:
            n = reschedule_intervals(scheduler, w)
            log.warning("wall clock jumped; interval jobs rescheduled from the new time",
                        extra=kv(jump_s=round(step, 1), jobs=n))
