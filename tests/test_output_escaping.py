"""Names that look like spreadsheet formulas stay text in every CSV we write, and are refused on import.

OWASP "CSV Injection": a cell starting with = + - @ (or TAB/CR, or their full-width forms) is run by Excel
and LibreOffice. Every writer passes cells through core/escape.py::spreadsheet_cell; each is driven here
through the command a user runs, with hostile names in the inventory, and every cell read back is checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from analytics.export import write_csv
from analytics.opendata import COLUMNS, read_sites, to_csv
from core.escape import formula_like, has_line_break, one_line, spreadsheet_cell
from core.inventory import StoreSettings
from core.store import SqliteStore
from wifiwatch.cli import app

ROOT = Path(__file__).resolve().parent.parent
EVIL = {
    "大町通り": '=HYPERLINK(""https://evil.example"",""click"")',  # TOML basic string: "" is not an escape
    "大町通り 1 (鹿島神宮駅側)": "@SUM(1+1)*cmd|' /C calc'!A0",
    "鹿嶋市役所": "+1+cmd|' /C calc'!A0",
    "鹿島神宮": "-2+3",
    "Kashima City Hall": "＝HYPERLINK(1)",
}
STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _config(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8")
    for good, bad in EVIL.items():
        text = text.replace(f'"{good}"', '"' + bad.replace('""', '\\"') + '"')
    text = text.replace('path = "var/wifiwatch.sqlite3"', f'path = "{tmp_path / "s.sqlite3"}"')
    cfg = tmp_path / "sites.toml"
    cfg.write_text(text, encoding="utf-8")
    from analytics.synthetic import synthetic_history
    from analytics.usage import JST
    from core.config import load_config

    # Two days of (simulated) history, so the reports have rows that carry the names.
    with SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0)) as store:
        store.write(list(synthetic_history(load_config(cfg), dt.datetime(2026, 10, 1, tzinfo=JST),
                                           dt.datetime(2026, 10, 3, tzinfo=JST), seed=2)))
    return cfg


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for c in row]


def _assert_neutral(text: str, expect_quoted: int) -> None:
    cells = _cells(text)
    live = [c for c in cells if c.startswith(STARTS) and formula_like(c)]
    assert live == [], live
    assert sum(c.startswith("'") and c[1:].startswith(STARTS) for c in cells) >= expect_quoted, cells


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def test_opendata_export(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    code, out = run("opendata", "export", "--out", str(tmp_path / "o.csv"), "-c", str(cfg))
    assert code == 0, out
    _assert_neutral((tmp_path / "o.csv").read_text(encoding="utf-8-sig"), 1)


def test_report_csv_and_monthly_csv(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    code, out = run("report", "availability", "--from", "2026-10-01", "--to", "2026-10-03", "--format", "csv",
                    "-c", str(cfg))
    assert code == 0, out
    _assert_neutral(out, 2)
    write_csv(tmp_path / "m.csv", [{"site_name_ja": EVIL["大町通り"], "availability_pct": -1.5, "delta": "-3.2%"}])
    text = (tmp_path / "m.csv").read_text(encoding="utf-8-sig")
    _assert_neutral(text, 1)
    assert "-1.5" in _cells(text) and "-3.2%" in _cells(text)  # numbers stay numbers


def test_plan_csv(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    code, out = run("rank", "--format", "csv", "-c", str(cfg))
    assert code == 0, out
    _assert_neutral(out, 2)


def test_status_outputs(tmp_path: Path) -> None:
    from core.config import load_config
    from wifiwatch.outputs import write_outputs

    inv = load_config(_config(tmp_path))
    written = write_outputs(inv, tmp_path / "out", "ja")
    csvs = [p for _, p in written if p.suffix == ".csv"]
    assert csvs
    _assert_neutral("".join(p.read_text(encoding="utf-8-sig") for p in csvs), 2)


def test_import_refuses_formula_names_and_puts_names_on_one_line() -> None:
    rows = [dict.fromkeys(COLUMNS, "") for _ in range(4)]
    for i, r in enumerate(rows):
        r.update({"NO": f"s{i}", "緯度": "35.97", "経度": "140.63", "名称": f"拠点{i}"})
    rows[0]["名称"] = '=HYPERLINK("https://evil.example","x")'
    rows[1]["住所"] = "@SUM(A1)"
    rows[2]["名称"] = "大町\r\n通り"
    rows[3]["名称_英語"] = "Omachi\u2028dori"
    data = to_csv(rows, COLUMNS).replace(b"'=HYPERLINK", b"=HYPERLINK").replace(b"'@SUM", b"@SUM")
    result = read_sites(data, "x.csv")
    assert [(p.line, p.column, p.key) for p in result.problems] == [(2, "名称", "formula"), (3, "住所", "formula")]
    assert [(i.site.name_ja, i.site.name_en) for i in result.sites] == [("大町 通り", "大町 通り"),
                                                                       ("拠点3", "Omachi dori")]


@given(st.text())
def test_spreadsheet_cell_never_leaves_a_formula(s: str) -> None:
    out = spreadsheet_cell(s)
    assert isinstance(out, str) and (out == s or out == "'" + s)
    assert not (out.startswith(STARTS) and formula_like(out))


@given(st.text())
def test_one_line(s: str) -> None:
    out = one_line(s)
    assert not has_line_break(out) and len(out.splitlines()) <= 1


@pytest.mark.parametrize("name", ["大町\n通り", "a\rb", "a\u2028b", "a\x85b", "a\x0bb"])
def test_check_config_refuses_line_breaks_in_names(name: str) -> None:
    from core.config import ConfigError, parse_config

    esc = name.encode("unicode_escape").decode().replace("\\x", "\\u00")
    with pytest.raises(ConfigError, match=r"c\.toml:3: sites\[0\]\.name_ja: must be one line"):
        parse_config(f'[[sites]]\nid = "s"\nname_ja = "{esc}"\nname_en = "S"\nkind = "park"\nlat = 35.9\n'
                     'lon = 140.6\n', "c.toml")


def test_monthly_xlsx_has_no_formula_cells(tmp_path: Path) -> None:
    """openpyxl stores any string starting with '=' as a formula: every text cell must be neutralised first."""
    from openpyxl import load_workbook

    from analytics.monthly import write_monthly
    from core.config import load_config

    inv = load_config(_config(tmp_path))
    with SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0)) as store:
        [path] = write_monthly(inv, store, "2026-10", tmp_path / "r", "ja", formats=("xlsx",))
    wb = load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = [str(c.value) for c in cells if isinstance(c.value, str)]
    assert any(t.startswith("'=HYPERLINK") for t in texts) and not any(t.startswith("=") for t in texts)


def test_terminal_table_shows_markup_as_text(tmp_path: Path) -> None:
    """rich reads [link=...] and [red] as markup; a name must be printed as the text it is."""
    cfg = _config(tmp_path)
    hostile = "[link=https://evil.example]click[/link][red]x"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"鹿嶋市中央公民館"', f'"{hostile}"'), encoding="utf-8")
    r = CliRunner().invoke(app, ["status", "-c", str(cfg)], terminal_width=300)
    assert r.exit_code == 0, r.output
    assert "[link=https://evil.example]cl" in r.output  # the column may cut the rest with an ellipsis


@pytest.mark.parametrize("field", ["sender", "to"])
def test_check_config_refuses_line_breaks_in_mail_addresses(field: str) -> None:
    from core.config import ConfigError, parse_config

    values = {"sender": '"a@example.lg.jp"', "to": '["b@example.lg.jp"]'}
    values[field] = values[field].replace("@example", "@example.lg.jp\\nBcc: x@evil.example")
    with pytest.raises(ConfigError, match=rf"alerts\.channels\[0\]\.{field}.*one line"):
        parse_config('[[alerts.channels]]\nname = "m"\ntype = "email"\nsmtp_host = "127.0.0.1"\n'
                     f'sender = {values["sender"]}\nto = {values["to"]}\n', "c.toml")
