"""Escaping for the places a name from outside (an AP's reply, a CSV, the inventory) can land.

Every writer of a spreadsheet-readable file (CSV, xlsx) passes text cells through :func:`spreadsheet_cell`,
so a site called ``=HYPERLINK(...)`` is shown as text by Excel and LibreOffice rather than run (OWASP
"CSV Injection"). Numbers are left alone: a negative figure is data, not a formula. Names must also stay
on one line wherever they land (an e-mail header, a log line, a CSV row): :func:`one_line`.
"""

from __future__ import annotations

# OWASP: cells beginning with these are read as formulas (or, for TAB/CR, shift the parse) by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value: object) -> object:
    """A text cell that a spreadsheet shows as text: a leading formula character gets a ``'`` before it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
