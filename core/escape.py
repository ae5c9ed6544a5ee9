"""Escaping for the places a name from outside (an AP's reply, a CSV, the inventory) can land.

Every writer of a spreadsheet-readable file (CSV, xlsx) passes text cells through :func:`spreadsheet_cell`,
so a site called ``=HYPERLINK(...)`` is shown as text by Excel and LibreOffice rather than run (OWASP
"CSV Injection"). Numbers are left alone: a negative figure is data, not a formula.
"""

from __future__ import annotations

# OWASP: cells beginning with these are read as formulas (or, for TAB/CR, shift the parse) by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value: object) -> object:
    """A text cell that a spreadsheet shows as text: a leading formula character gets a ``'`` before it."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
