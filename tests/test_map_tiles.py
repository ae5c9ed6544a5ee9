"""Tile archives, vendored assets and name escaping, without a browser.

``wifiwatch tiles fetch`` runs against a loopback HTTP server standing in for GSI (there is no internet
here): the archive must hold exactly what the server served, a 404 is a gap, any other failure writes
nothing and keeps the old archive.
"""

from __future__ import annotations

import html
import http.server
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import folium
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from maps.assets import ASSETS_DIR, UnvendoredAsset, asset_names, asset_path, local_map, localize
from maps.safe_text import html_text
from maps.tiles import TileCache, TileError
from tests.test_map import run_cli

ROOT = Path(__file__).resolve().parent.parent


def tile_png(z: int, x: int, y: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (z * 10, x % 256, y % 256)).save(buf, "PNG")
    return buf.getvalue()


class _Tiles(http.server.BaseHTTPRequestHandler):
    fail_with = 0  # set to an HTTP status to make every tile fail
    served: dict[tuple[int, int, int], int] = {}  # (z, x, y) -> status

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").removesuffix(".png").split("/")
        z, x, y = (int(p) for p in parts[-3:])
        status = type(self).fail_with or (404 if (x + y) % 7 == 0 else 200)  # some tiles the service lacks
        type(self).served[(z, x, y)] = status
        if status != 200:
            self.send_error(status)
            return
        body = tile_png(z, x, y)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def mirror() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/xyz/std/{{z}}/{{x}}/{{y}}.png"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def fetch(tmp_path: Path, capsys: Any, monkeypatch: Any) -> Callable[..., tuple[int, str, str]]:
    def run(url: str, *extra: str) -> tuple[int, str, str]:
        return run_cli(capsys, monkeypatch, "tiles", "fetch", "--config", str(ROOT / "config" / "sites.toml"),
                       "--file", str(tmp_path / "bg.pmtiles"), "--url", url, "--pause", "0", "--min-zoom", "12",
                       "--max-zoom", "15", "--detail-from", "15", *extra)
    return run


def test_fetch_keeps_what_the_server_served_and_credits_gsi(tmp_path: Path, mirror: str, fetch: Any) -> None:
    _Tiles.served.clear()
    code, out, err = fetch(mirror)
    assert code == 0, err
    assert "not served by the source" in err and "国土地理院" in out
    with TileCache(tmp_path / "bg.pmtiles") as cache:
        info = cache.info
        assert cache.source == "gsi-std" and not info.simulated and "国土地理院" in info.attribution
        assert [(b.min_zoom, b.max_zoom) for b in info.bands] == [(12, 14), (15, 15)]
        assert info.bands[0].bounds[0] < info.bands[1].bounds[0] < info.bands[1].bounds[2] < info.bands[0].bounds[2]
        ok = [t for t, status in _Tiles.served.items() if status == 200]
        assert info.tiles == len(ok) > 20 and len(_Tiles.served) > len(ok)
        for (z, x, y), status in _Tiles.served.items():
            assert cache.get(z, x, y) == (tile_png(z, x, y) if status == 200 else None)
        assert cache.get(12, 5000, 0) is None and cache.get(40, 0, 0) is None
        n_files = cache.extract(tmp_path / "out")
        assert n_files == info.tiles == len(list((tmp_path / "out").rglob("*.png")))
        (tmp_path / "out" / "mark").write_text("x")
        assert cache.extract(tmp_path / "out") == n_files and (tmp_path / "out" / "mark").exists()  # unchanged
    assert fetch(mirror, "--max-zoom", "14")[0] == 0  # a new archive replaces the unpacked tiles
    with TileCache(tmp_path / "bg.pmtiles") as cache:
        assert cache.extract(tmp_path / "out") == cache.info.tiles < n_files
    assert not (tmp_path / "out" / "mark").exists() and not (tmp_path / "out" / "15").exists()


def test_failed_fetch_writes_nothing_and_keeps_the_old_archive(tmp_path: Path, mirror: str, fetch: Any) -> None:
    assert fetch(mirror)[0] == 0
    before = (tmp_path / "bg.pmtiles").read_bytes()
    _Tiles.fail_with = 503
    try:
        code, _, err = fetch(mirror)
    finally:
        _Tiles.fail_with = 0
    assert code == 2 and "HTTP 503" in err and "Traceback" not in err
    assert (tmp_path / "bg.pmtiles").read_bytes() == before
    assert not list(tmp_path.glob("*.part"))
    code, _, err = fetch(mirror, "--max-zoom", "19")
    assert code == 2 and "zoom" in err


def test_not_an_archive_is_a_clear_error(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    bad = tmp_path / "x.pmtiles"
    bad.write_bytes(b"PK\x03\x04 not tiles at all")
    with pytest.raises(TileError, match="not a PMTiles"):
        TileCache(bad)
    code, _, err = run_cli(capsys, monkeypatch, "tiles", "info", "--config", str(ROOT / "config" / "sites.toml"),
                           "--file", str(bad))
    assert code == 2 and "not a PMTiles" in err
    from maps.tiles import Band, write_archive

    evil = tmp_path / "e.pmtiles"  # an archive from elsewhere whose metadata tries to name files outside
    write_archive(evil, [(1, 0, 0, b"x")], [Band(1, 1, (0, 0, 1, 1))], {"format": "png/../../../escaped"})
    with TileCache(evil) as cache, pytest.raises(TileError, match="not png"):
        cache.extract(tmp_path / "ex")
    assert not list(tmp_path.rglob("*escaped*"))


def test_demo_background_says_it_is_not_a_map(tmp_path: Path) -> None:
    from maps.demo_background import write_demo_background
    from maps.tiles import Band

    n = write_demo_background(tmp_path / "d.pmtiles", [Band(14, 15, (140.62, 35.96, 140.64, 35.97))])
    with TileCache(tmp_path / "d.pmtiles") as cache:
        info = cache.info
    assert info.simulated and info.tiles == n > 0 and "地図データではありません" in info.attribution


def test_every_vendored_asset_has_a_licence_and_pages_link_no_cdn() -> None:
    readme = (ASSETS_DIR / "README.md").read_text(encoding="utf-8")
    for name in asset_names():
        assert asset_path(name).is_file() and name in readme
    m = local_map()
    page = localize(m.get_root().render())
    assert "http" not in "".join(t for t in page.split("<script") if t.startswith(" src"))
    assert page.count('src="http') == 0 and "leaflet.css" in page
    linked = localize(m.get_root().render(), "/static/map/")
    assert '<script src="/static/map/leaflet.js"></script>' in linked
    with pytest.raises(UnvendoredAsset):
        localize(folium.Map().get_root().render())  # folium's own defaults: Bootstrap etc. from CDNs


@given(st.text())
def test_names_are_inert_in_html_and_js_template_literals(name: str) -> None:
    out = html_text(name)
    assert not set(out) & set("<>\"'`$\\{}\n\r")
    control = {chr(c) for c in range(32)} | {"\x7f", "\u2028", "\u2029"}
    back = html.unescape(out)  # what the browser shows: the same characters, a space for line breaks
    assert [c for c in back if c != " "] == [c for c in name if c != " " and c not in control]


@given(st.floats(24.0, 45.0), st.floats(123.0, 153.0), st.floats(1e-4, 0.05), st.floats(1e-4, 0.05),
       st.integers(5, 16))
@example(35.0, 135.0, 0.01, 0.01, 10)  # the area starts on a tile edge
def test_tiles_covering_holds_every_point_of_the_area(lat: float, lon: float, dlat: float, dlon: float,
                                                       z: int) -> None:
    import mercantile

    from maps.tiles import Band, tiles_covering

    got = set(tiles_covering([Band(z, z, (lon, lat, lon + dlon, lat + dlat))]))
    for fy in (0.001, 0.37, 0.999):  # inside the area: a point on its very edge only touches a tile
        for fx in (0.001, 0.61, 0.999):
            t = mercantile.tile(lon + fx * dlon, lat + fy * dlat, z)
            assert (t.z, t.x, t.y) in got
