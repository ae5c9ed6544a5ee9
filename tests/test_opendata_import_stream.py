"""``opendata import`` streams: memory does not grow with the file, a CSV that breaks part-way leaves no
half-written --out file, and the hand-written TOML strings are read back exactly. Speed and peak RSS at 300k
rows are measured in bench/bench_opendata_import.py (docs/benchmarks/opendata.md), not asserted here."""

from __future__ import annotations

import tomllib
import tracemalloc
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from analytics.opendata import _toml_string
from bench.bench_opendata_import import write_csv
from wifiwatch.cli import app


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """8,000 rows: the old importer held the text, every site and a tomlkit document (99 MB traced here;
    245 MB at 20,000 rows), so its peak grew with the file; the streaming one peaks near 6 MB."""
    src = tmp_path / "big.csv"
    write_csv(src, 8_000, "narrow")
    runner = CliRunner()
    runner.invoke(app, ["opendata", "import", str(tmp_path / "missing.csv")])  # warm imports outside the trace
    tracemalloc.start()
    try:
        r = runner.invoke(app, ["opendata", "import", str(src), "--out", str(tmp_path / "out.toml")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.exit_code == 1  # every 97th row has no coordinates
    text = (tmp_path / "out.toml").read_text(encoding="utf-8")
    sites = tomllib.loads(text)["sites"]
    assert len(sites) == 8_000 - len(range(0, 8_000, 97))
    assert {s["id"]: s["name_ja"] for s in sites}["s50"] == "鹿嶋市公共施設50 別館"  # quoted line break, normalised
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_a_csv_malformed_part_way_leaves_no_out_file(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("NO,名称,緯度,経度\r\n" + "".join(f"s{i},拠点{i},35.9,140.6\r\n" for i in range(3000))
                   + 's9999,"unterminated,35.9,140.6\r\n', encoding="utf-8")
    out = tmp_path / "out.toml"
    r = CliRunner().invoke(app, ["opendata", "import", str(src), "--out", str(out), "--lang", "en"])
    assert r.exit_code != 0 and "bad.csv:3002: malformed" in str(r.exception)  # a UserError: no traceback
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


@given(st.text())
def test_toml_strings_read_back_exactly(s: str) -> None:
    assert tomllib.loads(f"v = {_toml_string(s)}\n")["v"] == s


def test_a_pipe_is_read_too(tmp_path: Path) -> None:
    """Streaming reads the file twice (encoding, then records); a pipe is spooled to a temporary file first."""
    import subprocess
    import sys

    data = "NO,名称,緯度,経度\r\ns1,拠点1,35.9,140.6\r\n".encode("cp932")
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "opendata", "import", "/dev/stdin", "--lang", "en"],
                       input=data, capture_output=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout.decode())["sites"][0]["name_ja"] == "拠点1"
    assert b"Shift_JIS" in r.stderr
