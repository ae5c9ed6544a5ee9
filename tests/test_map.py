"""The coverage map in a real browser: offline map loads with no script error, markers and legend in
the DOM, and a hostile site name is shown as text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.config import parse_config
from maps.coverage_map import ApMapStatus, CandidateMarker, write_map

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")


def browse(html: Path, tmp: Path) -> tuple[str, str]:
    """(DOM after scripts ran, console log) from headless Chromium with no network access."""
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", f"--user-data-dir={tmp}", "--enable-logging=stderr", "--v=0",
                        "--virtual-time-budget=5000", "--dump-dom", html.as_uri()],
                       capture_output=True, text=True, timeout=120)
    return r.stdout, r.stderr


def inventory(name_ja: str = "大町通り"):  # type: ignore[no-untyped-def]
    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8").replace('name_ja = "大町通り"',
                                                                                 f'name_ja = "{name_ja}"')
    return parse_config(text, "sites.toml")


def test_offline_map_renders_markers_without_script_errors(tmp_path: Path) -> None:
    inv = inventory()
    statuses = {"omachi-1": ApMapStatus("omachi-1", "up", "2026-11-24 10:00:00", 12, 99.9),
                "omachi-2": ApMapStatus("omachi-2", "down", "2026-11-24 09:00:00", None, 97.5)}
    cands = [CandidateMarker("kashima-jingu", 1, True, 2029, 480000, "大町通りの3APから約130m離れ")]
    out = write_map(tmp_path / "map.html", inv, statuses, [(35.968, 140.6287, 1.0)], cands, offline=True)
    html = out.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in html and "code.jquery.com" not in html
    dom, log = browse(out, tmp_path / "chr")
    assert "Uncaught" not in log, log[-2000:]
    assert dom.count('class="ww-ap ') == 4  # four AP markers drawn by Leaflet as SVG paths
    assert "ww-up" in dom and "ww-down" in dom and "ww-unknown" in dom
    assert "ww-legend" in dom and "凡例" in dom and "leaflet-heatmap-layer" in dom
    assert dom.count("class=\"ww-cand\"") == 1 and "国土地理院" in dom


def test_site_name_with_script_is_shown_as_text(tmp_path: Path) -> None:
    inv = inventory("<script>alert(1)</script>")
    out = write_map(tmp_path / "map.html", inv, {}, offline=True)
    html = out.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    dom, log = browse(out, tmp_path / "chr")
    assert "Uncaught" not in log
    assert "<script>alert(1)</script>" not in dom.split("</head>", 1)[1]


def test_cli_map_english_osm(tmp_path: Path) -> None:
    import sys

    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "map", "--config", str(ROOT / "config" / "sites.toml"),
                        "--out", str(tmp_path / "m.html"), "--tiles", "osm", "--lang", "en"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "openstreetmap" in html.lower() and "Candidate sites" in html
    bad = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "map", "--config", str(ROOT / "config" / "sites.toml"),
                          "--tiles", "ftp://x"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "--tiles" in bad.stderr
