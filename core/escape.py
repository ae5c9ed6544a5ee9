"""Escaping for the places a name from outside (an AP's reply, a CSV, the inventory) can land.

Every writer of a spreadsheet-readable file (CSV, xlsx) passes text cells through :func:`spreadsheet_cell`,
so a site called ``=HYPERLINK(...)`` is shown as text by Excel and LibreOffice rather than run (OWASP
"CSV Injection"). Numbers are left alone: a negative figure is data, not a formula. Names must also stay
on one line wherever they land (an e-mail header, a log line, a CSV row): :func:`one_line`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# OWASP: cells beginning with these are read as formulas (or, for TAB/CR, shift the parse) by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


# A plain signed number (or percentage) is read as a number, never as a formula: "-12.5", "+3%" stay as they are.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")


def spreadsheet_cell(value: object) -> object:
    """A text cell that a spreadsheet shows as text: a leading formula character gets a ``'`` before it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_row(cells: Iterable[object]) -> list[object]:
    """:func:`spreadsheet_cell` over a row, for ``csv.writer``."""
    return [spreadsheet_cell(c) for c in cells]


def spreadsheet_dict(row: Mapping[str, object]) -> dict[str, object]:
    """:func:`spreadsheet_cell` over a row's values, for ``csv.DictWriter`` (the keys are our own headers)."""
    return {k: spreadsheet_cell(v) for k, v in row.items()}


def unescape_spreadsheet_cell(text: str) -> tuple[str, bool]:
    """The text :func:`spreadsheet_cell` neutralised, and whether it was (what our own exports read back as)."""
    if text.startswith("'") and formula_like(text[1:]):
        return text[1:], True
    return text, False


def formula_like(text: str) -> bool:
    """True when a spreadsheet would run ``text`` as a formula (what an importer refuses)."""
    return text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text)


# Everything a text renderer may treat as a line end (str.splitlines' set), and every other C0/C1 control.
_BREAK = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
BREAK_OR_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # also TAB: what one_line() changes
_BREAK_RUN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # a tab next to a break goes with it


def has_line_break(text: str) -> bool:
    """True when ``text`` holds a line end or another control character (a name must be one line)."""
    return _BREAK.search(text) is not None


def one_line(text: str) -> str:
    """``text`` on one line: each run of line ends and control characters becomes one space."""
    return _BREAK_RUN.sub(" ", text).strip() if _BREAK.search(text) else text.strip()
