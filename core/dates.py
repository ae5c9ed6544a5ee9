"""Strict parsing of the dates people type (--month, --from, --to, maintenance times), in Japan time.

Python's own parsers accept too much for values that end up in file names and SQL ranges: ``int()`` reads
"0_1" as 1 and " 2026" as 2026, and years like 9999 overflow once a month or a day is added. Only the
canonical shapes are accepted, within :data:`YEARS`, and every error is one line naming the option.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
YEARS = (2000, 2100)  # monitoring data from before 2000 or after 2100 is a typing mistake (as analytics.monthly)

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:?[0-9]{2})?")


def _shown(value: str) -> str:
    """The value as typed, with line breaks and other control characters escaped: errors stay one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value[:40]) + ("…" if len(value) > 40 else "")


class DateError(ValueError):
    """A date the user typed that is not valid; its message is the one line to show."""


def _in_range(value: str, field: str, year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise DateError(f"{field}: '{_shown(value)}' is outside the years {YEARS[0]}-{YEARS[1]}")


def parse_month(value: str, field: str = "--month") -> tuple[int, int]:
    """'YYYY-MM' exactly (no spaces, signs or underscores) -> (year, month)."""
    m = _MONTH.fullmatch(value)
    if not m:
        raise DateError(f"{field}: '{_shown(value)}' is not a month such as 2026-11 (YYYY-MM)")
    year, month = int(m[1]), int(m[2])
    if not 1 <= month <= 12:
        raise DateError(f"{field}: '{_shown(value)}' has no month {month}")
    _in_range(value, field, year)
    return year, month


def parse_day(value: str, field: str) -> dt.datetime:
    """'YYYY-MM-DD' (midnight JST) or 'YYYY-MM-DDTHH:MM[:SS][offset]' (JST unless an offset is given)."""
    if not (_DAY.fullmatch(value) or _DATETIME.fullmatch(value)):
        raise DateError(f"{field}: '{_shown(value)}' is not a date such as 2026-11-01 or 2026-11-01T09:00")
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise DateError(f"{field}: '{_shown(value)}' is not a valid date ({e})") from None
    _in_range(value, field, t.year)
    return t if t.tzinfo is not None else t.replace(tzinfo=JST)
