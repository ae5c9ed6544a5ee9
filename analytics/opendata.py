"""Open data (plan measure 15): the site inventory as the recommended dataset 公衆無線LANアクセスポイント一覧.

Revision followed: the 推奨データセット column list as published (18 columns, below; required 名称,
名称_カナ, 住所). The later 自治体標準オープンデータセット revision renames some columns; the importer maps
the names it knows (全国地方公共団体コード, ID, 所在地_連結表記), the exporter writes the published order.
One row per site (a place where the public finds Wi-Fi), never per AP: AP management addresses and
credentials are not public. Files are written as UTF-8 with a BOM (so Excel opens them) and CRLF line ends;
the importer also reads UTF-8 without a BOM and Shift_JIS/CP932, as municipal files often are.
Import never raises anything but :class:`OpenDataError` (a whole-file problem); bad rows are reported
with their line numbers and skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
import json.encoder
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from pydantic import ValidationError

from core.escape import BREAK_OR_CONTROL as _BREAK_OR_CONTROL
from core.escape import formula_like, one_line, spreadsheet_row, unescape_spreadsheet_cell
from core.inventory import ID_PATTERN, Inventory, Site, SiteKind
from core.lgcode import prefecture_of
from core.schema import PointReader

COLUMNS = (
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "名称", "名称_カナ", "名称_英語",
    "住所", "方書", "緯度", "経度", "設置者", "電話番号", "内線番号", "SSID", "提供エリア", "URL", "備考",
)
REQUIRED = ("名称", "名称_カナ", "住所")
# What the importer needs to make an inventory site (a site without coordinates cannot be mapped or polled).
IMPORT_REQUIRED = ("名称", "緯度", "経度")
# Column names of the later revision (自治体標準オープンデータセット) read as their published equivalents.
ALIASES = {"全国地方公共団体コード": COLUMNS[0], "ID": "NO", "所在地_連結表記": "住所"}
APPROXIMATE = "位置は概略"  # 備考 marker for sites whose coordinates are approximate
ENCODINGS = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "cp932": "Shift_JIS (CP932)"}

_FIELD_COLUMN = {"id": "NO", "name_ja": "名称", "name_en": "名称_英語", "name_kana": "名称_カナ", "lat": "緯度",
                 "lon": "経度", "address": "住所"}
_ID = re.compile(ID_PATTERN)


# Messages for the user, Japanese first: key -> (ja, en), formatted with the problem's parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    "encoding": ("文字コードは {choices} のいずれかを指定してください", "encoding must be one of {choices}"),
    "unencodable": ("'{bad}' は {encoding} で書けません。UTF-8 を使ってください",
                    "'{bad}' cannot be written in {encoding}; use UTF-8"),
    "binary": ("制御文字 {char} を含んでいます（CSV のテキストファイルではありません）",
               "contains the control character {char}: not a CSV text file"),
    "decode": ("UTF-8 でも Shift_JIS (CP932) でもありません", "neither UTF-8 nor Shift_JIS (CP932) text"),
    "bad_utf8": ("UTF-8 の BOM がありますが、{pos} バイト目が UTF-8 として不正です",
                 "starts with a UTF-8 BOM but byte {pos} is not valid UTF-8"),
    "malformed": ("CSV として読めません: {error}", "malformed CSV: {error}"),
    "dup_column": ("見出し行に列「{column}」が2回あります", "column '{column}' appears twice in the header"),
    "missing_columns": ("見出し行に {missing} がありません（公衆無線LANアクセスポイント一覧の列: {expected}）",
                        "header lacks {missing} (expected the 公衆無線LANアクセスポイント一覧 columns: {expected})"),
    "empty": ("見出し行がありません（空のファイルです）", "no header row (the file is empty)"),
    "width": ("{n} 列あります（見出し行は {m} 列）", "{n} columns, the header has {m}"),
    "no_name": ("空です。拠点には名称が必要です", "empty, but every site needs a name"),
    "no_coord": ("空です。拠点には座標（10進数の度）が必要です", "empty; a site needs coordinates (decimal degrees)"),
    "not_decimal": ("'{value}' は 35.968 のような10進数の度ではありません",
                    "'{value}' is not a decimal number of degrees such as 35.968"),
    "swapped": ("{lat} は経度、経度の {lon} は緯度のようです（列が入れ替わっていませんか）",
                "{lat} looks like a longitude and 経度 {lon} like a latitude (columns swapped?)"),
    "dup_id": ("ID '{id}' は {other} 行目ですでに使われています", "id '{id}' already used on line {other}"),
    "invalid": ("値が不正です: {detail}", "invalid value: {detail}"),
    "formula": ("'{value}' は表計算ソフトが数式として実行する文字 (= + - @) で始まるため取り込みません",
                "'{value}' begins with a character spreadsheets run as a formula (= + - @): not imported"),
}


def message(key: str, lang: str = "ja", **params: Any) -> str:
    ja, en = MESSAGES[key]
    return (en if lang == "en" else ja).format(**params)


class OpenDataError(Exception):
    """The file as a whole cannot be read (encoding, no header, required columns missing)."""

    def __init__(self, where: str, key: str, **params: Any):
        self.where, self.key, self.params = where, key, params
        super().__init__(self.text("en"))

    def text(self, lang: str = "ja") -> str:
        return f"{self.where}: {message(self.key, lang, **self.params)}" if self.where else message(
            self.key, lang, **self.params)


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    column: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "ja") -> str:
        return f"{self.file}:{self.line}: {self.column}: {message(self.key, lang, **self.params)}"

    def __str__(self) -> str:
        return self.text("en")


@dataclass(frozen=True)
class ImportedSite:
    line: int
    site: Site
    notes: tuple[str, ...] = ()  # what did not fit the inventory (SSID, 電話番号 ...), kept as TOML comments


@dataclass
class ImportResult:
    encoding: str
    sites: list[ImportedSite] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


# -- export ---------------------------------------------------------------------------------------------
def site_rows(inv: Inventory) -> tuple[list[dict[str, str]], list[str]]:
    """Rows in the published column order, and a warning for each required cell left empty."""
    code = inv.municipality_code
    rows: list[dict[str, str]] = []
    warnings: list[str] = []
    for s in inv.sites:
        row = dict.fromkeys(COLUMNS, "")
        row.update({
            COLUMNS[0]: code, "NO": s.id, "都道府県名": prefecture_of(code), "市区町村名": inv.city_ja,
            "名称": s.name_ja, "名称_カナ": s.name_kana, "名称_英語": s.name_en, "住所": s.address,
            "緯度": repr(s.lat), "経度": repr(s.lon), "設置者": inv.opendata.installer or inv.city_ja,
            "電話番号": inv.opendata.phone, "SSID": inv.opendata.ssid, "URL": inv.opendata.url,
            "備考": APPROXIMATE if s.location_approximate else "",
        })
        warnings += [f"site '{s.id}': {c} is required by the dataset but empty" for c in REQUIRED if not row[c]]
        rows.append(row)
    return rows, warnings


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], encoding: str = "utf-8-sig") -> bytes:
    """CSV bytes: header then rows, CRLF line ends, every cell quoted only when needed (RFC 4180)."""
    if encoding not in ENCODINGS:
        raise OpenDataError("", "encoding", choices=", ".join(ENCODINGS))
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(spreadsheet_row("" if r.get(c) is None else r[c] for c in columns))
    try:
        return buf.getvalue().encode(encoding)
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        raise OpenDataError("", "unencodable", bad=bad, encoding=ENCODINGS[encoding]) from None


USAGE_COLUMNS = (
    "全国地方公共団体コード", "年月", "NO", "名称", "名称_英語", "緯度", "経度", "AP台数", "稼働率_%",
    "延べ接続時間_人時", "平均同時接続数", "最大同時接続数", "受信量_GB", "送信量_GB", "観測時間_時間", "観測率_%",
    "備考",
)
SIMULATED_REMARK = "模擬データ（実測ではありません）"


def usage_rows(inv: Inventory, reader: PointReader, month: str, now: float | None = None) -> list[dict[str, Any]]:
    """Monthly aggregates per site: availability, client-hours, concurrent clients, traffic volume, and what they
    rest on (観測時間, 観測率: the lower of the availability and the usage coverage).

    Only totals over a month and a site leave the system: no per-device, per-client or sub-hour data,
    and nothing that identifies a person (the store holds client counts, never addresses). Each row also carries
    ``_provisional`` and ``_simulated`` (not columns of the file) for :func:`usage_export` to decide on.
    最大同時接続数 is the site's peak as the monthly report has it: the busiest hour of its APs' hourly mean clients
    added up (analytics.figures), not its busiest AP's peak.
    """
    from analytics import coverage as cov
    from analytics.figures import group_peak
    from analytics.monthly import month_period
    from analytics.tables import availability_rows, figures, usage_by_ap

    p = month_period(month, now)
    figs = figures(inv, reader, p, None, ("availability", "usage"))
    avail = {r["site"]: r["availability_pct"] for r in availability_rows(inv, reader, p, figs=figs) if r["ap"] == "*"}
    by_ap = usage_by_ap(inv, reader, p, figs=figs)
    min_share = inv.reports.min_share
    rows = []
    for s in inv.sites:
        us = [by_ap[a.id] for a in s.aps if a.id in by_ap]
        a_cov = cov.total(figs[a.id].availability_cov or cov.Coverage(p.hours, p.elapsed_h, 0.0) for a in s.aps)
        u_cov = cov.total(figs[a.id].usage_cov or cov.Coverage(p.hours, p.elapsed_h, 0.0) for a in s.aps)
        weakest = min((a_cov, u_cov), key=lambda c: c.share)
        simulated = a_cov.simulated or u_cov.simulated
        rows.append({
            "全国地方公共団体コード": inv.municipality_code, "年月": month, "NO": s.id, "名称": s.name_ja,
            "名称_英語": s.name_en, "緯度": repr(s.lat), "経度": repr(s.lon), "AP台数": len(s.aps),
            "稼働率_%": avail.get(s.id), "延べ接続時間_人時": round(sum(u.client_hours for u in us), 1),
            "平均同時接続数": round(sum(u.mean_clients for u in us), 2),
            "最大同時接続数": round(group_peak(figs, [a.id for a in s.aps]), 1),
            "受信量_GB": round(sum(u.rx_gb for u in us), 3), "送信量_GB": round(sum(u.tx_gb for u in us), 3),
            "観測時間_時間": round(weakest.observed_h, 1), "観測率_%": round(100 * weakest.share, 1),
            "備考": SIMULATED_REMARK if simulated else "",
            "_provisional": a_cov.provisional(min_share) or u_cov.provisional(min_share) or s.aps == [],
            "_simulated": simulated, "_empty": a_cov.empty and u_cov.empty,
        })
    return rows


class SimulatedData(Exception):
    """The figures rest on simulated data and were not explicitly allowed."""


@dataclass
class UsageExport:
    rows: list[dict[str, Any]]
    withheld: list[str]  # "site month: why" for every 参考値 row left out


def usage_export(inv: Inventory, reader: PointReader, months: Sequence[str], allow_simulated: bool = False,
                 now: float | None = None, lang: str = "ja") -> UsageExport:
    """The rows that may be published: a 参考値 (observed on less than ``[reports] min_coverage_pct`` of its month)
    is never published, only listed in ``withheld``; simulated data is refused (:class:`SimulatedData`) unless
    ``allow_simulated``, and then labelled in 備考; a month with no data at all raises
    :class:`~analytics.coverage.NoData`."""
    from analytics.coverage import NoData

    out = UsageExport([], [])
    for m in months:
        rows = usage_rows(inv, reader, m, now)
        if all(r["_empty"] for r in rows):
            raise NoData(f"{m}: データがありません" if lang == "ja" else f"{m}: no data")
        sim = [r["NO"] for r in rows if r["_simulated"]]
        if sim and not allow_simulated:
            raise SimulatedData(
                f"{m}: 模擬データ（デモ用の履歴）を含むため公開しません（拠点: {', '.join(sim)}）。"
                "試しに書き出すときは --allow-simulated を付けてください" if lang == "ja" else
                f"{m}: the figures rest on simulated (demo) data for {', '.join(sim)}; not published. "
                "Use --allow-simulated to write them anyway, labelled")
        for r in rows:
            if r["_provisional"]:
                out.withheld.append(
                    f"{r['NO']} {m}: 参考値（観測率 {r['観測率_%']}%、{r['観測時間_時間']} 時間）のため公開しません"
                    if lang == "ja" else
                    f"{r['NO']} {m}: provisional (observed {r['観測率_%']}%, {r['観測時間_時間']} h), not published")
                continue
            out.rows.append({k: v for k, v in r.items() if not k.startswith("_")})
    return out


# -- import ---------------------------------------------------------------------------------------------
# The importer streams: the file is decoded once in chunks to choose the encoding (constant memory), then
# read again record by record; each site is validated and written out as it is read, so 300,000 rows take
# a few tens of MB, not the whole file as text plus a TOML document tree (docs/benchmarks/opendata.md).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"


def sniff_encoding(stream: BinaryIO, file: str) -> str:
    """The encoding of ``stream``: UTF-8 with a BOM, else UTF-8, else CP932 (Shift_JIS as Windows writes it).

    Decodes the whole stream once, a chunk at a time; CP932 decodes almost any bytes, so text with control
    characters is refused as not being a CSV file. Leaves the stream at its start.
    """
    stream.seek(0)
    bom = stream.read(3) == _BOM
    for enc in ("utf-8",) if bom else ("utf-8", "cp932"):
        stream.seek(3 if bom else 0)
        dec = codecs.getincrementaldecoder(enc)()
        fed = 0  # bytes given to the decoder so far (after the BOM)
        control: str | None = None
        try:
            while chunk := stream.read(_CHUNK):
                pending = len(dec.getstate()[0])
                try:
                    text = dec.decode(chunk)
                finally:
                    fed += len(chunk)
                bad = None if control else _CONTROL.search(text)
                control = control or (bad[0] if bad else None)
            pending = len(dec.getstate()[0])
            dec.decode(b"", final=True)
        except UnicodeDecodeError as e:
            if bom:  # the position counts bytes after the BOM, 1-based
                at = fed - len(chunk) - pending + e.start if chunk else fed - pending + e.start
                raise OpenDataError(file, "bad_utf8", pos=at + 1) from None
            continue
        if control:
            raise OpenDataError(file, "binary", char=f"U+{ord(control):04X}")
        stream.seek(0)
        return "utf-8-sig" if bom else enc
    raise OpenDataError(file, "decode")


def decode(data: bytes, file: str) -> tuple[str, str]:
    """(text, encoding) of a whole file in memory; see :func:`sniff_encoding`."""
    enc = sniff_encoding(io.BytesIO(data), file)
    return data.decode(enc), enc


# Cells where full-width digits/letters or half-width kana (common in municipal files) mean the plain form.
_NFKC = {"NO", "緯度", "経度", "名称_カナ"}


def _cell(s: str, column: str = "") -> str:
    """A cell on one line (a quoted line break becomes a space), outer spaces dropped; NFKC-normalised in the
    columns of ``_NFKC`` only (names stay as typed)."""
    return one_line(unicodedata.normalize("NFKC", s) if column in _NFKC else s)


def _printable(s: str) -> str:
    """TOML comments cannot hold control characters."""
    return s if s.isprintable() else "".join(c if c.isprintable() else " " for c in s)


def _records(text: TextIO, file: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells) for every CSV record, read as the stream goes."""
    reader = csv.reader(text, strict=True)
    last = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise OpenDataError(f"{file}:{last + 1}", "malformed", error=str(e)) from None
        yield last + 1, row
        last = reader.line_num


def _header(cells: list[str], line: int, file: str) -> dict[str, int]:
    plain = [unicodedata.normalize("NFKC", c).strip().lstrip("\ufeff") for c in cells]
    names = [ALIASES.get(n, n) for n in plain]
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        if n and n in index:
            raise OpenDataError(f"{file}:{line}", "dup_column", column=n)
        if n:
            index[n] = i
    missing = [c for c in IMPORT_REQUIRED if c not in index]
    if missing:
        raise OpenDataError(f"{file}:{line}", "missing_columns", missing=", ".join(missing),
                            expected=", ".join(COLUMNS))
    return index


_TEXT_COLUMNS = ("名称", "名称_カナ", "名称_英語", "住所", "方書")

# Decimal degrees as the dataset writes them (no exponents, no degree-minute-second forms).
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63]


@dataclass
class SiteStream:
    """An import in progress: the encoding found, and sites or row problems in file order as they are read.

    ``items`` raises :class:`OpenDataError` if the CSV turns out malformed part-way through."""

    encoding: str
    items: Iterator[ImportedSite | RowProblem]


def stream_sites(stream: BinaryIO, file: str = "<csv>", kind: SiteKind = SiteKind.PUBLIC_FACILITY) -> SiteStream:
    """Sites from a 公衆無線LANアクセスポイント一覧 CSV, one record at a time; bad rows become :class:`RowProblem`.

    Whole-file problems (encoding, no header, required columns missing) raise :class:`OpenDataError` here.
    """
    enc = sniff_encoding(stream, file)
    text = io.TextIOWrapper(stream, encoding=enc, newline="")
    records = _records(text, file)
    for line, cells in records:
        if any(c.strip() for c in cells):
            header = _header(cells, line, file)
            width = len(cells)
            break
    else:
        raise OpenDataError(file, "empty")

    def items() -> Iterator[ImportedSite | RowProblem]:
        seen: dict[str, int] = {}
        for line, cells in records:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != width:
                yield RowProblem(file, line, "(row)", "width", {"n": len(cells), "m": width})
                continue
            problem, imported = _row(header, cells, line, file, kind, seen)
            if problem is not None:
                yield problem
            elif imported is not None:
                seen[imported.site.id] = line
                yield imported

    return SiteStream(ENCODINGS[enc], items())


def read_sites(data: bytes, file: str = "<csv>", kind: SiteKind = SiteKind.PUBLIC_FACILITY) -> ImportResult:
    """Everything :func:`stream_sites` yields, collected (for callers that hold the file in memory anyway)."""
    stream = stream_sites(io.BytesIO(data), file, kind)
    result = ImportResult(stream.encoding)
    for item in stream.items:
        if isinstance(item, RowProblem):
            result.problems.append(item)
        else:
            result.sites.append(item)
    return result


def _row(header: Mapping[str, int], cells: list[str], line: int, file: str, kind: SiteKind,
         seen: Mapping[str, int]) -> tuple[RowProblem | None, ImportedSite | None]:
    if _BREAK_OR_CONTROL.search("".join(cells)):  # rare: quoted line breaks; the plain path only strips
        v = defaultdict(str, {col: _cell(cells[i], col) for col, i in header.items()})
    else:
        v = defaultdict(str, {col: (unicodedata.normalize("NFKC", cells[i]) if col in _NFKC else cells[i]).strip()
                              for col, i in header.items()})
    get = v.__getitem__  # a missing column reads as ""

    name = get("名称")
    if not name:
        return RowProblem(file, line, "名称", "no_name"), None
    for col in _TEXT_COLUMNS:  # what becomes an inventory name or address, and later lands in CSVs and reports
        # A cell our own export neutralised ('=...) is that text, safe; a bare formula is refused.
        v[col], neutralised = unescape_spreadsheet_cell(get(col))
        if not neutralised and formula_like(get(col)):
            return RowProblem(file, line, col, "formula", {"value": get(col)[:40]}), None
    coords: dict[str, float] = {}
    for col in ("緯度", "経度"):
        value = get(col)
        if not value:
            return RowProblem(file, line, col, "no_coord"), None
        if not _DECIMAL.fullmatch(value):
            return RowProblem(file, line, col, "not_decimal", {"value": value}), None
        coords[col] = float(value)
    lat, lon = coords["緯度"], coords["経度"]
    if 122 <= lat <= 154 and 20 <= lon <= 46:
        return RowProblem(file, line, "緯度", "swapped", {"lat": lat, "lon": lon}), None
    number = get("NO").lower()
    site_id = number if _ID.match(number) else _slug(get("名称_英語")) or f"site-{line}"
    if site_id in seen:
        return RowProblem(file, line, "NO", "dup_id", {"id": site_id, "other": seen[site_id]}), None
    notes = [f"line {line} of {file}"]
    if not get("名称_英語"):
        notes.append("name_en copied from 名称 (名称_英語 was empty): translate it")
    notes += [f"{col}: {get(col)}" for col in ("SSID", "提供エリア", "設置者", "電話番号", "内線番号", "URL")
              if get(col)]
    remarks = get("備考")
    if remarks and remarks != APPROXIMATE:
        notes.append(f"備考: {remarks}")
    address = " ".join(x for x in (get("住所"), get("方書")) if x)
    try:
        site = Site(id=site_id, name_ja=name, name_en=get("名称_英語") or name, name_kana=get("名称_カナ"),
                    kind=kind, lat=lat, lon=lon, address=address, location_approximate=remarks == APPROXIMATE)
    except ValidationError as e:
        err = e.errors()[0]
        col = _FIELD_COLUMN.get(str(err["loc"][0]) if err["loc"] else "", "(row)")
        return RowProblem(file, line, col, "invalid", {"detail": str(err["msg"]).removeprefix("Value error, ")}), None
    return None, ImportedSite(line, site, tuple(notes))


_json_string = json.encoder.encode_basestring  # the C encoder: \" \\ \n \uXXXX, non-ASCII kept as is
TOML_PREAMBLE = "# Imported from open data: set kind, add [sites.uplink] and [[sites.aps]] by hand.\n\n"


def _toml_string(s: str) -> str:
    """A TOML basic string. JSON's string escapes are a subset of TOML's, except that TOML also wants DEL
    escaped; written by hand because a TOML library's per-value objects made 300k sites take minutes."""
    return _json_string(s).replace("\x7f", "\\u007f")


def site_toml(imp: ImportedSite) -> str:
    """One ``[[sites]]`` block, with what did not fit the inventory as comments."""
    s = imp.site
    out = ["[[sites]]"]
    out += [f"# {_printable(note)}" for note in imp.notes]
    out += [f"id = {_toml_string(s.id)}", f"name_ja = {_toml_string(s.name_ja)}",
            f"name_en = {_toml_string(s.name_en)}", f"name_kana = {_toml_string(s.name_kana)}",
            f"kind = {_toml_string(s.kind.value)}", f"lat = {s.lat!r}", f"lon = {s.lon!r}",
            f"address = {_toml_string(s.address)}"]
    if s.location_approximate:
        out.append("location_approximate = true")
    return "\n".join(out) + "\n\n"


def to_toml(sites: Iterable[ImportedSite], kind_note: bool = True) -> str:
    """``[[sites]]`` blocks to paste into the inventory, with what did not fit as comments."""
    body = "".join(site_toml(s) for s in sites)
    return (TOML_PREAMBLE if kind_note and body else "") + body
