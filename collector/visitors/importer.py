"""Portal and provider exports (CSV) into visitor sessions, streamed, formats declared in ``formats/*.toml``.

Rows are read one at a time and written in batches of :data:`BATCH` (one transaction each), so memory does
not grow with the file, and a bad row costs only itself: it is reported as ``FILE:LINE: column: reason``
and the rest go in. Rows already stored (the same file imported again) are recognised by their
idempotency key and skipped, never replaced: nothing stored is lost.

The user column (a portal session id, a provider's hashed user, or a MAC) is hashed under a key made for
this run and each JST day (core.visitors.keys.ImportKeys), then forgotten: day uniques are exact and no
two days, nor two runs, can be linked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from core.inventory import Inventory, normalize_mac
from core.visitors.keys import ImportKeys, row_key
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

FORMATS_DIR = Path(__file__).resolve().parent / "formats"
BATCH = 1000
MAX_FIELD = 4096
MAX_DURATION_S = 7 * 86400.0
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
YEARS = (2000, 2100)


class ImportFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    encoding: str = "utf-8-sig"
    delimiter: str = Field(",", min_length=1, max_length=1)
    time_column: str
    time_format: str = "iso"  # strptime format, "iso" or "epoch"
    timezone: str = "Asia/Tokyo"
    spot_column: str
    user_column: str
    duration_column: str | None = None
    duration_unit: Literal["s", "min"] = "s"
    end_column: str | None = None  # instead of a duration: when the session ended (same time format)
    lang_column: str | None = None
    lang_map: dict[str, str] = Field(default_factory=dict)


def formats(dirs: tuple[Path, ...] = (FORMATS_DIR,)) -> dict[str, ImportFormat]:
    out = {}
    for d in dirs:
        for path in sorted(d.glob("*.toml")):
            f = ImportFormat.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
            out[f.name] = f
    return out


class Spots:
    """What a row's spot may be: an AP id, an AP's visitor_id, a site id, or a site's Japanese/English name.
    A site stands for its first AP (portal exports name spots, not APs: per-site figures are exact)."""

    def __init__(self, inv: Inventory):
        self.by_name: dict[str, tuple[str, str]] = {}
        for site in inv.sites:
            if site.aps:
                for key in (site.id, site.name_ja, site.name_en):
                    self.by_name.setdefault(key.strip().lower(), (site.id, site.aps[0].id))
            for ap in site.aps:
                for key in (ap.id, *ap.visitor_ids):
                    self.by_name[key.strip().lower()] = (site.id, ap.id)

    def find(self, spot: str) -> tuple[str, str] | None:
        s = spot.strip()
        return self.by_name.get((normalize_mac(s) or s).lower())


@dataclass
class ImportResult:
    rows: int = 0
    stored: int = 0
    already: int = 0
    bad: int = 0
    first: float | None = None
    last: float | None = None
    problems: list[str] = field(default_factory=list)  # the first few, for the summary; all are reported


class RowError(ValueError):
    """A bad cell: its column and the reason in English and Japanese (the CLI's --lang picks)."""

    def __init__(self, column: str, reason: str, ja: str):
        self.column, self.reason, self.ja = column, reason, ja
        super().__init__(f"{column}: {reason}")


def _parse_time(fmt: ImportFormat, text: str, tz: dt.tzinfo, column: str) -> float:
    t = text.strip()
    if not t:
        raise RowError(column, "empty", "空です")
    try:
        if fmt.time_format == "epoch":
            v = float(t)
            if not math.isfinite(v):
                raise ValueError
            when = dt.datetime.fromtimestamp(v, dt.UTC)
        elif fmt.time_format == "iso":
            when = dt.datetime.fromisoformat(t)
        else:
            when = dt.datetime.strptime(t, fmt.time_format)
    except (ValueError, OverflowError, OSError):
        raise RowError(column, f"'{t[:40]}' is not a time in the form {fmt.time_format}",
                       f"'{t[:40]}' は {fmt.time_format} の形の日時ではありません") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    if not (YEARS[0] <= when.year <= YEARS[1]):
        raise RowError(column, f"year {when.year} is outside {YEARS[0]}-{YEARS[1]}",
                       f"{when.year} 年は {YEARS[0]}〜{YEARS[1]} 年の範囲外です")
    return when.timestamp()


def _cell(row: dict[str, str | None], column: str) -> str:
    v = row.get(column)
    if v is None:
        raise RowError(column, "missing (the row has fewer columns than the header)",
                       "ありません (見出しより列が少ない行です)")
    if len(v) > MAX_FIELD:
        raise RowError(column, f"longer than {MAX_FIELD} characters", f"{MAX_FIELD} 文字を超えています")
    return v


def read_rows(src: IO[bytes], file: str, fmt: ImportFormat, inv: Inventory, keys: ImportKeys, ext_key: bytes,
              report: Callable[[str], None], encoding: str | None = None, msg_lang: str = "ja",
              ) -> Iterator[tuple[VisitorSession, str]]:
    """(session, idempotency key) per good row; each bad row goes to ``report`` as FILE:LINE: column: reason.
    Raises ValueError if the header lacks a column the format needs."""
    text = io.TextIOWrapper(src, encoding=encoding or fmt.encoding, errors="strict", newline="")
    reader = csv.DictReader(text, delimiter=fmt.delimiter)
    try:
        header = reader.fieldnames or []
    except UnicodeDecodeError:
        raise ValueError(f"{file}: not {encoding or fmt.encoding} text") from None
    needed = [c for c in (fmt.time_column, fmt.spot_column, fmt.user_column, fmt.duration_column or fmt.end_column)
              if c]
    missing = [c for c in needed if c not in header]
    if missing:
        raise ValueError(f"{file}:1: the header lacks {', '.join(missing)} (format {fmt.name} needs "
                         f"{', '.join(needed)}; found {', '.join(h for h in header if h) or 'nothing'})")
    tz = ZoneInfo(fmt.timezone)
    spots = Spots(inv)
    lang_map = {k.strip().lower(): v for k, v in fmt.lang_map.items()}
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            report(f"{file}:{reader.line_num + 1}: (row): not {encoding or fmt.encoding} text; the rest of the "
                   "file cannot be read")
            return
        except csv.Error as e:
            report(f"{file}:{reader.line_num}: (row): {e}")
            continue
        line = reader.line_num
        try:
            start = _parse_time(fmt, _cell(row, fmt.time_column), tz, fmt.time_column)
            spot = _cell(row, fmt.spot_column)
            hit = spots.find(spot)
            if hit is None:
                raise RowError(fmt.spot_column, f"'{spot.strip()[:60]}' is not an AP, visitor_id or site of the "
                               "inventory", f"'{spot.strip()[:60]}' は設定ファイルの AP・visitor_ids・拠点のどれでも"
                               "ありません")
            user = _cell(row, fmt.user_column).strip()
            if not user:
                raise RowError(fmt.user_column, "empty", "空です")
            if fmt.duration_column:
                d = _cell(row, fmt.duration_column).strip()
                try:
                    dur = float(d) * (60.0 if fmt.duration_unit == "min" else 1.0)
                except ValueError:
                    raise RowError(fmt.duration_column, f"'{d[:20]}' is not a number",
                                   f"'{d[:20]}' は数値ではありません") from None
                if not math.isfinite(dur) or dur < 0:
                    raise RowError(fmt.duration_column, f"'{d[:20]}' is not a duration (0 or more)",
                                   f"'{d[:20]}' は利用時間 (0 以上) ではありません")
                end = start + dur
            else:
                assert fmt.end_column
                end = _parse_time(fmt, _cell(row, fmt.end_column), tz, fmt.end_column)
                if end < start:
                    raise RowError(fmt.end_column, "before the start", "開始より前です")
            if end - start > MAX_DURATION_S:
                raise RowError(fmt.duration_column or str(fmt.end_column), "longer than 7 days: not a visit",
                               "7 日を超えています (来訪ではありません)")
            lang = None
            if fmt.lang_column and (raw_lang := (row.get(fmt.lang_column) or "").strip()):
                lang = lang_map.get(raw_lang.lower()) or (raw_lang if _LANG.match(raw_lang) else None)
                if lang is None:
                    raise RowError(fmt.lang_column, f"'{raw_lang[:20]}' is neither a language code nor in the "
                                   "format's lang_map", f"'{raw_lang[:20]}' は言語コードでも形式の lang_map の語でも"
                                   "ありません")
        except RowError as e:
            report(f"{file}:{line}: {e.column}: {e.ja if msg_lang == 'ja' else e.reason}")
            continue
        device, device30, randomized = keys.device(user, start)
        site_id, ap_id = hit
        ext = row_key(ext_key, fmt.name, f"{start:.3f}", ap_id, user, f"{end - start:.3f}")
        del user
        yield VisitorSession(ap_id, site_id, device, device30, start, end, "import", lang, randomized), ext


def import_file(src: IO[bytes], file: str, fmt: ImportFormat, inv: Inventory, store: VisitorStore,
                ext_key: bytes, returning: bool, report: Callable[[str], None],
                encoding: str | None = None, lang: str = "ja") -> ImportResult:
    res = ImportResult()

    def bad(line: str) -> None:
        res.bad += 1
        if len(res.problems) < 20:
            res.problems.append(line)
        report(line)

    batch: list[tuple[VisitorSession, str | None]] = []

    def flush() -> None:
        n = store.add_many(batch)
        res.stored += n
        res.already += len(batch) - n
        batch.clear()

    for s, ext in read_rows(src, file, fmt, inv, ImportKeys(returning), ext_key, bad, encoding, lang):
        res.rows += 1
        res.first = s.start if res.first is None else min(res.first, s.start)
        res.last = s.start if res.last is None else max(res.last, s.start)
        batch.append((s, ext))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return res
