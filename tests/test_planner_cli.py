"""`wifiwatch rank` at 80 columns (issue 27 point 10): the reasons wrap, the numbers never do. Run as a real
subprocess with COLUMNS=80, as a user's terminal would be, in Japanese and in English."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rich.cells import cell_len

from wifiwatch.commands.plan import wrap_text

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"\d[\d,.]*\d|\d")
ARGS = ("--rounds", "2029,2031", "--budget-per-round", "3000000", "--carry-over", "--district-max", "2")


def _rank(tmp: Path, *args: str, width: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(width), "WIFIWATCH_NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "wifiwatch.cli", "rank", "--config",
                           str(ROOT / "config" / "sites.toml"), *ARGS, *args], capture_output=True, text=True,
                          cwd=tmp, env=env, timeout=180)


def _numbers_whole(lines: list[str]) -> None:
    """Every figure sits on one line: line-by-line numbers equal the numbers of the text joined up again (a
    figure split over two lines shows as two fragments line by line, one figure joined)."""
    by_line = Counter(n for line in lines for n in NUMBER.findall(line))
    joined = Counter(NUMBER.findall("".join(line.strip() for line in lines)))
    assert by_line == joined, (by_line - joined, joined - by_line)


@pytest.mark.parametrize(("lang", "width"), [("ja", 80), ("en", 80), ("ja", 60)])
def test_rank_at_80_columns_wraps_reasons_never_numbers(tmp_path: Path, lang: str, width: int) -> None:
    table = _rank(tmp_path, "--lang", lang, width=width)
    assert table.returncode == 0, table.stderr
    data = json.loads(_rank(tmp_path, "--lang", lang, "--format", "json").stdout)
    lines = table.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    for c in data["candidates"]:
        row = [line for line in lines if f"{c['cost_yen']:,}" in line and f"{c['newly_covered_visitors']:,}" in line]
        assert row, c["id"]  # the figures of one site on one line, whole
        assert f"{c['score']:,.0f}" in row[0]
        assert (c["name_ja"] if lang == "ja" else c["name_en"])[:4] in row[0]  # a narrow table keeps the names
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{c['rank']}. "))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
        text = "".join(line.strip() for line in lines[start:end])
        assert "".join(c["rationale"].split()) in "".join(text.split())  # the reason, in full
    reasons = lines[next(i for i, line in enumerate(lines) if line in ("理由", "Reasons")) + 1:]
    for block in _blocks(reasons):
        _numbers_whole(block)
    summary = table.stderr.splitlines()
    assert max(cell_len(line) for line in summary) <= width
    for block in _blocks(summary):
        _numbers_whole(block)


def _blocks(lines: list[str]) -> list[list[str]]:
    """One printed paragraph each: a line and its indented continuation lines."""
    out: list[list[str]] = []
    for line in lines:
        if line.startswith("  ") and out:
            out[-1].append(line)
        else:
            out.append([line])
    return out


def test_wrap_text_keeps_figures_and_fills_lines() -> None:
    text = ("大町通りの3APから約2.7km離れ。年間来訪者40万人、イベント日来訪者50万人（25日×2.0万人、重み0.5）。"
            "計画に加えると 650,000人/年（年間来訪者 400,000、イベント日 250,000）。" * 3)
    for width in (20, 31, 47, 80):
        lines = wrap_text(text, width, "  ")
        assert all(cell_len(line) <= width for line in lines)
        _numbers_whole(lines)
        assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")
        assert not any(line.lstrip().startswith(("、", "。", "）")) for line in lines)
