"""The daemon's monthly report job: last month's report, written once into ``[reports] dir``/YYYY-MM/.

The daemon runs it every night shortly after midnight JST, so the report appears on the 1st and a daemon that
was down on the 1st catches up the next night. A month whose folder exists is never rewritten (figures sent to
the city stay as sent); the report is written to a temporary folder and renamed into place, so a crash
mid-way leaves no half report that would block the next try.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path

from analytics.monthly import write_monthly
from analytics.usage import JST
from core.inventory import Inventory
from core.logs import kv
from core.schema import PointReader

log = logging.getLogger("wifiwatch.reports")


def previous_month(now: dt.datetime) -> str:
    """YYYY-MM of the month before ``now`` in Japan time (an aware datetime)."""
    first = now.astimezone(JST).replace(day=1, hour=12)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def write_previous_month(inv: Inventory, reader: PointReader, now: dt.datetime) -> list[Path]:
    """Write last month's report in every ``[reports] langs``; returns the files, or [] if it already exists."""
    month = previous_month(now)
    base = Path(inv.reports.dir)
    target = base / month
    if target.exists():
        return []
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{month}-", dir=base))
    try:
        for lang in inv.reports.langs:
            write_monthly(inv, reader, month, tmp, lang)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(target.iterdir())
    log.info("monthly report written", extra=kv(month=month, dir=str(target), files=len(files)))
    return files
