"""Files the console hands out (CSV): one writer, so every download is escaped the same way."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from litestar import Response

from core.escape import spreadsheet_cell


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM (Excel opens it as such); a cell a spreadsheet would run as a formula is made text."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([spreadsheet_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode()


def attachment(data: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response[bytes]:
    return attachment(csv_bytes(header, rows), "text/csv; charset=utf-8", filename)
