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


def formula_like(text: str) -> bool:
    """True when a spreadsheet would run ``text`` as a formula (what an importer refuses)."""
    return spreadsheet_cell(text) is not text


# Everything a text renderer may treat as a line end (str.splitlines' set), plus other C0/C1 controls.
_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def has_line_break(text: str) -> bool:
    """True when ``text`` holds a line end or another control character (a name must be one line)."""
    return any(c in _BREAKS or (ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in text)


def one_line(text: str) -> str:
    """``text`` on one line: each run of line ends and control characters becomes one space."""
    out: list[str] = []
    for c in text:
        bad = c in _BREAKS or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F
        if bad:
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(c)
    return "".join(out).strip()
