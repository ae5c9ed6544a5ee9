"""Report files beside the HTML: CSV (UTF-8 with BOM, for Excel), .xlsx (openpyxl) and PDF (the HTML printed by
headless Chromium, so the PDF is the page the office reads on screen).

Every text cell goes through core.escape.spreadsheet_cell: a site named ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.escape import spreadsheet_cell
from core.logs import kv

log = logging.getLogger("wifiwatch.reports")


class PdfError(Exception):
    """Chromium is missing or could not print the page; the message says which and why."""


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return spreadsheet_cell(v)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
              note: str = "") -> None:
    """Header then rows. With no rows, the header (``columns``) and one row carrying ``note`` in its first cell,
    so an empty table reads "nothing to report" rather than as a broken file."""
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else ["note"])
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow([_cell(c) for c in cols])
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
        if not rows and note:
            w.writerow([_cell(note)] + [""] * (len(cols) - 1))


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[str], Sequence[Mapping[str, Any]], str]],
               header: Sequence[str] = ()) -> None:
    """One workbook, a sheet per (title, columns, rows, note-if-empty); ``header`` lines (title, 対象期間,
    集計時点, 参考値 and simulated-data notices) on top of every sheet, so a sheet copied alone keeps them."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    # write-only: rows stream to the file as they are appended; a 10,000-AP report's ~400,000 cells held as
    # openpyxl cell objects cost ~150 MB
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E3F2FD")
    for title, cols, rows, note in sheets:
        ws = wb.create_sheet(title[:31])
        for i, c in enumerate(cols, start=1):  # widths must be set before the first row in write-only mode
            width = max([len(str(c))] + [len(str(r.get(c, ""))) for r in rows[:200]])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width * 1.3 + 2))
        for line in header:
            ws.append([_cell(line)])
        if header:
            ws.append([])
        head = []
        for c in cols:
            cell = WriteOnlyCell(ws, value=_cell(c))
            cell.font, cell.fill = bold, fill
            head.append(cell)
        ws.append(head)
        for r in rows:
            ws.append([_xl(r.get(c)) for c in cols])
        if not rows and note:
            ws.append([_cell(note)])
    wb.save(path)


def _xl(v: Any) -> Any:
    """Numbers stay numbers in the workbook (the office sums them); text is neutralised."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "○" if v else ""
    if isinstance(v, int | float):
        return v
    return spreadsheet_cell(str(v))


def chromium() -> str | None:
    return os.environ.get("WIFIWATCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def print_pdf(html: Path, pdf: Path, timeout_s: float = 120.0) -> Path:
    """``html`` printed to ``pdf`` by headless Chromium (A4, backgrounds kept; no network: the page is
    self-contained)."""
    exe = chromium()
    if exe is None:
        raise PdfError("PDF needs Chromium (Debian package 'chromium'; scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="wifiwatch-pdf-") as profile:
        args = [exe, "--headless", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                "--no-pdf-header-footer", f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
                html.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print {html.name} within {timeout_s:.0f} s") from None
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise PdfError(f"Chromium could not print {html.name}: {r.stderr.strip()[-300:]}")
    log.info("report printed to PDF", extra=kv(pdf=str(pdf), bytes=pdf.stat().st_size))
    return pdf
