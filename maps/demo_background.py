"""A stand-in background for the demo, drawn here: a graticule on plain paper, labelled as not a map.

The demo runs with no internet, so it cannot fetch GSI tiles, and the project ships no map data.
Rather than pass anything off as a real map, these tiles show only latitude/longitude lines with
their values and the words デモ用簡易背景 (demo background, not a map). They go into the same kind of
PMTiles archive ``wifiwatch tiles fetch`` writes, flagged ``simulated``, so the map, the legend and
the attribution say what the background is.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import mercantile
from PIL import Image, ImageDraw, ImageFont

from maps.tiles import Band, TileSource, tiles_covering, write_archive

DEMO_SOURCE = TileSource(
    key="demo", url="", name_ja="デモ用簡易背景（実際の地図ではありません）",
    name_en="Simplified demo background (not a real map)",
    attribution="デモ用簡易背景: wifiwatch が緯線・経線のみを描画（地図データではありません）",
    terms_url="", min_zoom=10, max_zoom=18,
)
_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_STEPS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for f in _FONTS:
        if Path(f).exists():
            return ImageFont.truetype(f, size)
    return ImageFont.load_default()


def _step(z: int) -> float:
    """Graticule spacing: about two lines across a 256-pixel tile."""
    span = 360.0 / 2**z
    return next((s for s in reversed(_STEPS) if s <= span / 2), _STEPS[0])


def render_tile(z: int, x: int, y: int) -> bytes:
    """One 256-pixel PNG tile of the stand-in background."""
    b = mercantile.bounds(x, y, z)
    img = Image.new("RGB", (256, 256), (238, 236, 228))
    d = ImageDraw.Draw(img)
    step = _step(z)
    digits = max(0, len(f"{step:.4f}".rstrip("0").split(".")[1]))

    def px(lon: float, lat: float) -> tuple[float, float]:
        fx, fy = mercantile.xy(lon, lat)
        w, s = mercantile.xy(b.west, b.south)
        e, n = mercantile.xy(b.east, b.north)
        return (fx - w) / (e - w) * 256, (n - fy) / (n - s) * 256

    small = _font(11)
    k = int(b.west // step)
    while k * step <= b.east:
        lon = k * step
        if lon >= b.west:
            x0, _ = px(lon, b.north)
            d.line([(x0, 0), (x0, 256)], fill=(190, 186, 175), width=1)
            if x0 < 256 - 70:  # a label the tile edge would cut is left to the next line
                d.text((x0 + 3, 2), f"{lon:.{digits}f}°E", fill=(120, 116, 108), font=small)
        k += 1
    k = int(b.south // step)
    while k * step <= b.north:
        lat = k * step
        if lat >= b.south:
            _, y0 = px(b.west, lat)
            d.line([(0, y0), (256, y0)], fill=(190, 186, 175), width=1)
            if y0 > 16:
                d.text((3, y0 - 14), f"{lat:.{digits}f}°N", fill=(120, 116, 108), font=small)
        k += 1
    d.text((128, 128), "デモ用簡易背景", fill=(205, 201, 190), font=_font(16), anchor="mm")
    d.text((128, 148), "実際の地図ではありません", fill=(205, 201, 190), font=_font(11), anchor="mm")
    buf = io.BytesIO()
    img.quantize(16).save(buf, "PNG")  # a few greys: 16 colours keep tiles small
    return buf.getvalue()


def write_demo_background(out: Path, bands: Sequence[Band]) -> int:
    """The stand-in archive over ``bands`` (see ``maps.tiles.inventory_bands``); returns the tile count."""
    wanted = tiles_covering(bands)

    def tiles() -> Iterator[tuple[int, int, int, bytes]]:
        for z, x, y in wanted:
            yield z, x, y, render_tile(z, x, y)

    meta = {"name": DEMO_SOURCE.name_ja, "name_en": DEMO_SOURCE.name_en, "attribution": DEMO_SOURCE.attribution,
            "terms_url": "", "source_url": "", "source": DEMO_SOURCE.key, "simulated": True, "format": "png",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    return write_archive(out, tiles(), bands, meta)
