"""The printed monthly and 年度 reports: A4 pages, Japanese names unbroken, one decimal rule per figure.

Checked on the PDF that Chromium prints (MediaBox, and the text poppler's pdftotext reads back in layout
order, where a name broken inside a table cell comes back as pieces on separate lines)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.export import chromium
from analytics.fiscal import write_fiscal
from analytics.monthly import write_monthly
from analytics.report_format import DECIMALS, fmt
from analytics.synthetic import synthetic_history
from core.config import load_config
from core.inventory import StoreSettings
from core.store.sqlite_store import SqliteStore

JST = dt.timezone(dt.timedelta(hours=9))
INV = load_config(Path(__file__).resolve().parents[1] / "config" / "sites.toml")
NOW = dt.datetime(2026, 11, 5, tzinfo=JST).timestamp()
A4_PT = (595.0, 842.0)

needs_print = pytest.mark.skipif(chromium() is None or shutil.which("pdftotext") is None,
                                 reason="needs Debian's chromium and poppler-utils (scripts/setup.sh installs both)")


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("print")
    store = SqliteStore(out / "s.sqlite3", StoreSettings(min_free_mb=0))
    store.write(list(synthetic_history(INV, dt.datetime(2026, 10, 1, tzinfo=JST), dt.datetime(2026, 11, 1, tzinfo=JST),
                                       seed=3, step_s=300)))
    monthly = write_monthly(INV, store, "2026-10", out, "ja", now=NOW, formats=("html", "pdf"))
    fiscal = write_fiscal(INV, store, 2026, out, "ja", now=NOW, formats=("html", "pdf"))
    files = {f.name: f for f in [*monthly, *fiscal]}
    return {"monthly.pdf": files["monthly-2026-10-ja.pdf"], "monthly.html": files["monthly-2026-10-ja.html"],
            "fiscal.pdf": files["fiscal-2026-ja.pdf"], "fiscal.html": files["fiscal-2026-ja.html"]}


def _media_boxes(pdf: Path) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf.read_bytes())
    return [(float(w), float(h)) for w, h in boxes]


@needs_print
@pytest.mark.parametrize("name", ["monthly.pdf", "fiscal.pdf"])
def test_reports_print_on_a4(printed: dict[str, Path], name: str) -> None:
    boxes = _media_boxes(printed[name])
    assert boxes, "no page size in the PDF"
    for w, h in boxes:
        assert abs(w - A4_PT[0]) < 1 and abs(h - A4_PT[1]) < 1, f"{name}: page {w} x {h} pt is not A4"


@needs_print
@pytest.mark.parametrize("name", ["monthly.pdf", "fiscal.pdf"])
def test_japanese_names_are_not_broken_inside_a_word(printed: dict[str, Path], name: str) -> None:
    text = subprocess.run(["pdftotext", "-layout", str(printed[name]), "-"], capture_output=True, text=True,
                          check=True).stdout
    squeezed = re.sub(r"\s+", "", text)
    lines = [re.sub(r"\s+", "", ln) for ln in text.splitlines()]
    for site in INV.sites:
        name_ja = site.name_ja
        assert name_ja in squeezed, f"{site.id} missing from {name}"
        # the name stands whole on one printed line somewhere (a char-by-char wrap leaves only pieces)
        assert any(name_ja in ln for ln in lines), f"{name}: 「{name_ja}」 is broken across lines"
    assert not any(ln in {"模擬", "デー", "タ"} for ln in lines), f"{name}: 模擬データ wraps inside the word"


@needs_print
def test_one_decimal_rule_per_kind_of_figure(printed: dict[str, Path]) -> None:
    html = printed["monthly.html"].read_text(encoding="utf-8")
    html = html.split('<table data-table="availability">', 1)[1].split("</table>", 1)[0]
    cell = r"<td class=\"l\">[^<]*</td>"
    rows = re.findall(r"<tr(?: class=\"prov\")?>" + cell + cell + r"\s*<td[^>]*>([^<]*)<", html)
    assert rows, "no availability rows found"
    for cell in rows:
        assert re.fullmatch(r"\d{1,3}\.\d{2}|-", cell.strip()), f"availability printed as {cell!r}"


@given(st.one_of(st.none(), st.integers(-10**9, 10**9), st.floats(allow_nan=True, allow_infinity=True)),
       st.sampled_from(sorted(DECIMALS)))
def test_fmt_gives_the_decimals_of_its_kind(value: float | int | None, kind: str) -> None:
    text = fmt(value, kind)
    if value is None or (isinstance(value, float) and not (value == value and abs(value) != float("inf"))):
        assert text == "-"
        return
    digits = DECIMALS[kind]
    frac = text.split(".")[1] if "." in text else ""
    assert len(frac) == digits, f"{value!r} as {kind} -> {text!r}"
    assert float(text.replace(",", "")) == pytest.approx(round(float(value), digits), abs=10**-digits)
