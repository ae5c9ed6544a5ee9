"""Dates as a Japanese city office writes them: 2026年11月, 令和8年11月, 2026年度 (April to March)."""

from __future__ import annotations

import datetime as dt

REIWA_START = 2019  # 令和元年 began on 1 May 2019; a fiscal year or month from 2019 on is named in 令和


def _era_year(year: int) -> str:
    n = year - REIWA_START + 1
    return "令和元年" if n == 1 else f"令和{n}年"


def year_text(year: int, era: str = "seireki") -> str:
    return _era_year(year) if era == "reiwa" and year >= REIWA_START else f"{year}年"


def month_text(year: int, month: int, era: str = "seireki", lang: str = "ja") -> str:
    """2026年11月 / 令和8年11月; English: November 2026."""
    if lang == "en":
        return dt.date(year, month, 1).strftime("%B %Y")
    if era == "reiwa" and year == REIWA_START and month < 5:
        return f"平成31年{month}月"
    return f"{year_text(year, era)}{month}月"


def fiscal_text(fy: int, era: str = "seireki", lang: str = "ja") -> str:
    """2026年度 / 令和8年度 (April 2026 to March 2027); English: FY2026 (April 2026 - March 2027)."""
    if lang == "en":
        return f"FY{fy} (April {fy} - March {fy + 1})"
    return year_text(fy, era).removesuffix("年") + "年度"


def date_text(d: dt.datetime, era: str = "seireki", lang: str = "ja", with_time: bool = False) -> str:
    if lang == "en":
        return d.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    out = f"{year_text(d.year, era)}{d.month}月{d.day}日"
    return f"{out} {d:%H:%M}" if with_time else out
