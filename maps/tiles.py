"""The background map as one local file: fetch tiles once where there is internet, use them where there is none.

City staff PCs often sit on a closed network (LGWAN), where online tiles are a grey field.
``fetch_tiles`` downloads the tiles covering the inventory (GSI 地理院タイル by default) into one
PMTiles archive (protomaps' ``pmtiles`` library); ``TileCache`` reads it back for the web console
(``get``) and for a map file on disk (``extract`` to a folder next to the HTML, which Chromium loads
from file:// with a relative URL). The archive's metadata carries the source's attribution and terms,
so every map drawn from it credits them.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import mercantile
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from core.inventory import Inventory

Bounds = tuple[float, float, float, float]  # west, south, east, north (degrees)
MAX_TILES = 20_000  # one town at z10-18 is a few thousand; more is a mistake (or an unkind load on GSI)
MAX_TILE_BYTES = 2 * 1024 * 1024


class TileError(Exception):
    """A tile file or a fetch the user asked for cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TileSource:
    """An online XYZ tile service, with what its terms ask of anyone who shows its tiles."""

    key: str
    url: str
    name_ja: str
    name_en: str
    attribution: str  # HTML, shown on every map drawn from these tiles
    terms_url: str
    min_zoom: int
    max_zoom: int
    tile_format: str = "png"


GSI_STD = TileSource(
    key="gsi-std",
    url="https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png",
    name_ja="国土地理院 標準地図", name_en="GSI standard map",
    attribution='出典: <a href="https://maps.gsi.go.jp/development/ichiran.html">国土地理院 地理院タイル</a>',
    # 国土地理院コンテンツ利用規約: credit the source; do not load the tile servers heavily; some uses
    # (prints over A3, products derived from surveys) need GSI's permission under the Survey Act.
    terms_url="https://www.gsi.go.jp/kikakuchousei/kikakuchousei40182.html",
    min_zoom=5, max_zoom=18,
)
SOURCES = {GSI_STD.key: GSI_STD}


def default_tile_file(inv: Inventory) -> Path:
    """Where ``tiles fetch`` writes and maps look: [map] tile_file, else beside the store (the demo and the
    daemon find it there)."""
    return Path(inv.map.tile_file) if inv.map.tile_file else Path(inv.store.path).parent / "background.pmtiles"


def inventory_bounds(inv: Inventory, margin_m: float = 400.0) -> Bounds:
    """Every site, AP and candidate, plus ``margin_m`` around them."""
    lats = [s.lat for s in inv.sites] + [c.lat for c in inv.candidates]
    lons = [s.lon for s in inv.sites] + [c.lon for c in inv.candidates]
    for _, ap in inv.aps():
        if ap.lat is not None and ap.lon is not None:
            lats.append(ap.lat)
            lons.append(ap.lon)
    if not lats:
        raise TileError("the inventory has no sites or candidates, so there is no area to fetch tiles for")
    dlat = margin_m / 111_320.0
    dlon = margin_m / (111_320.0 * math.cos(math.radians(sum(lats) / len(lats))))
    return (min(lons) - dlon, min(lats) - dlat, max(lons) + dlon, max(lats) + dlat)


@dataclass(frozen=True)
class Band:
    """A zoom range of an archive and the area it covers (wide for overview zooms, tight for street zooms)."""

    min_zoom: int
    max_zoom: int
    bounds: Bounds


def inventory_bands(inv: Inventory, min_zoom: int = 11, max_zoom: int = 17, detail_from: int = 15,
                    margin_m: float = 400.0, overview_margin_m: float = 5000.0) -> list[Band]:
    """Overview zooms over the town (the screen around the sites is never grey); street zooms nearer the sites.

    Street-level tiles are most of an archive, so from ``detail_from`` on each zoom keeps half the margin
    of the one before (never under ``margin_m``): about 1,100 tiles for the Kashima sample at zoom 11-17.
    """
    if not 0 <= min_zoom <= max_zoom <= 22:
        raise TileError(f"zoom range {min_zoom}-{max_zoom}: need 0 <= min <= max <= 22")
    bands = []
    if min_zoom < detail_from:
        bands.append(Band(min_zoom, min(max_zoom, detail_from - 1), inventory_bounds(inv, overview_margin_m)))
    for z in range(max(min_zoom, detail_from), max_zoom + 1):
        margin = max(margin_m, min(overview_margin_m, overview_margin_m / 2 ** (z - detail_from + 1)))
        bands.append(Band(z, z, inventory_bounds(inv, margin)))
    return bands


def tiles_covering(bands: Sequence[Band]) -> list[tuple[int, int, int]]:
    """(z, x, y) of every tile touching each band's area at its zooms, in PMTiles order."""
    out: set[tuple[int, int, int]] = set()
    for b in bands:
        if not 0 <= b.min_zoom <= b.max_zoom <= 22:
            raise TileError(f"zoom range {b.min_zoom}-{b.max_zoom}: need 0 <= min <= max <= 22")
        out.update((t.z, t.x, t.y) for t in mercantile.tiles(*b.bounds, zooms=range(b.min_zoom, b.max_zoom + 1)))
    return sorted(out, key=lambda t: zxy_to_tileid(*t))


def union(bands: Sequence[Band]) -> Bounds:
    return (min(b.bounds[0] for b in bands), min(b.bounds[1] for b in bands), max(b.bounds[2] for b in bands),
            max(b.bounds[3] for b in bands))


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    bounds: Bounds
    min_zoom: int
    max_zoom: int
    tiles: int
    name: str
    attribution: str
    terms_url: str
    source_url: str
    created: str
    simulated: bool  # a locally drawn stand-in, not a real map
    bands: tuple[Band, ...]


_TYPES = {"png": TileType.PNG, "jpg": TileType.JPEG, "webp": TileType.WEBP}


def write_archive(out: Path, tiles: Iterable[tuple[int, int, int, bytes]], bands: Sequence[Band],
                  meta: dict[str, Any], tile_format: str = "png") -> int:
    """Write (z, x, y, bytes) tiles, given in PMTiles order, to ``out`` atomically; returns the tile count."""
    bounds = union(bands)
    meta = {**meta, "bands": [{"min_zoom": b.min_zoom, "max_zoom": b.max_zoom, "bounds": list(b.bounds)}
                              for b in bands]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    n = 0
    zooms: list[int] = []
    try:
        with tmp.open("wb") as f:
            w = Writer(f)
            for z, x, y, data in tiles:
                w.write_tile(zxy_to_tileid(z, x, y), data)
                zooms.append(z)
                n += 1
            if n == 0:
                raise TileError(f"{out}: no tiles to write")
            w.finalize({
                "tile_type": _TYPES.get(tile_format, TileType.UNKNOWN), "tile_compression": Compression.NONE,
                "min_lon_e7": int(bounds[0] * 1e7), "min_lat_e7": int(bounds[1] * 1e7),
                "max_lon_e7": int(bounds[2] * 1e7), "max_lat_e7": int(bounds[3] * 1e7),
                "center_zoom": min(zooms), "center_lon_e7": int((bounds[0] + bounds[2]) / 2 * 1e7),
                "center_lat_e7": int((bounds[1] + bounds[3]) / 2 * 1e7),
            }, meta)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed fetch leaves nothing behind, and the old archive as it was
        raise
    tmp.replace(out)  # a map never reads a half-written archive
    return n


@dataclass
class FetchReport:
    fetched: int = 0
    missing: int = 0  # the service has no tile there (404): outside its coverage
    bytes: int = 0


def fetch_tiles(out: Path, bands: Sequence[Band], source: TileSource = GSI_STD,
                url: str | None = None, pause_s: float = 0.05, timeout_s: float = 20.0,
                progress: Callable[[int, int], None] | None = None) -> FetchReport:
    """Download every tile of ``bands`` from ``source`` (or the mirror at ``url``) into ``out``.

    One request at a time with a pause between them, as GSI's terms ask not to load its servers;
    a tile the service does not have (404) is left out, any other failure stops the fetch with nothing
    written, so an old archive is never replaced by a partial one.
    """
    import httpx

    for b in bands:
        if b.max_zoom > source.max_zoom or b.min_zoom < source.min_zoom:
            raise TileError(f"zoom {b.min_zoom}-{b.max_zoom}: {source.name_en} serves zoom "
                            f"{source.min_zoom}-{source.max_zoom}")
    wanted = tiles_covering(bands)
    if len(wanted) > MAX_TILES:
        raise TileError(f"{len(wanted):,} tiles is more than {MAX_TILES:,}; lower --max-zoom or fetch a smaller area")
    template = url or source.url
    report = FetchReport()
    headers = {"User-Agent": "wifiwatch tiles fetch (municipal Wi-Fi monitoring; offline background cache)"}

    def tiles() -> Iterator[tuple[int, int, int, bytes]]:
        with httpx.Client(timeout=timeout_s, headers=headers, follow_redirects=False) as client:
            for i, (z, x, y) in enumerate(wanted):
                tile_url = template.format(z=z, x=x, y=y)
                for attempt in range(3):
                    try:
                        r = client.get(tile_url)
                        break
                    except httpx.TransportError as e:
                        if attempt == 2:
                            raise TileError(f"{tile_url}: {e.__class__.__name__}: {e}") from None
                        time.sleep(1.0 + attempt)
                if r.status_code == 404:
                    report.missing += 1
                elif r.status_code != 200:
                    raise TileError(f"{tile_url}: HTTP {r.status_code}")
                elif len(r.content) > MAX_TILE_BYTES:
                    raise TileError(f"{tile_url}: a {len(r.content):,}-byte tile is not a map tile")
                else:
                    report.fetched += 1
                    report.bytes += len(r.content)
                    yield z, x, y, r.content
                if progress:
                    progress(i + 1, len(wanted))
                if pause_s:
                    time.sleep(pause_s)

    meta = {"name": source.name_ja, "name_en": source.name_en, "attribution": source.attribution,
            "terms_url": source.terms_url, "source_url": source.url, "source": source.key,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "simulated": False,
            "format": source.tile_format}
    write_archive(out, tiles(), bands, meta, source.tile_format)
    return report


class TileCache:
    """A PMTiles archive of background tiles, read for the console and unpacked for map files."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._f = self.path.open("rb")
        except OSError as e:
            raise TileError(f"{self.path}: {e.strerror or e}") from None
        try:
            self._get = MmapSource(self._f)
            self._reader = Reader(self._get)
            self._header = self._reader.header()
            self._meta: dict[str, Any] = self._reader.metadata()
        except Exception as e:  # a truncated or foreign file: say so, never a traceback
            self._f.close()
            raise TileError(f"{self.path}: not a PMTiles tile archive ({e.__class__.__name__})") from None

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> TileCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def info(self) -> CacheInfo:
        h, m = self._header, self._meta
        bounds = (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7)
        try:
            bands = tuple(Band(int(b["min_zoom"]), int(b["max_zoom"]),
                               cast(Bounds, tuple(float(v) for v in b["bounds"][:4]))) for b in m["bands"])
        except (KeyError, TypeError, ValueError):  # an archive made elsewhere: one band over its header's area
            bands = (Band(h["min_zoom"], h["max_zoom"], bounds),)
        return CacheInfo(self.path, (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7,
                                     h["max_lat_e7"] / 1e7), h["min_zoom"], h["max_zoom"],
                         h["addressed_tiles_count"], str(m.get("name", "")), str(m.get("attribution", "")),
                         str(m.get("terms_url", "")), str(m.get("source_url", "")), str(m.get("created", "")),
                         bool(m.get("simulated", False)), bands)

    @property
    def source(self) -> str:
        """The key of the service the tiles came from (``gsi-std``, ``demo``, ...)."""
        return str(self._meta.get("source", ""))

    @property
    def tile_format(self) -> str:
        """png, jpg or webp: it names unpacked files, so nothing else from the archive gets that far."""
        fmt = str(self._meta.get("format", "png"))
        if fmt not in _TYPES:
            raise TileError(f"{self.path}: tile format {fmt[:20]!r} is not png, jpg or webp")
        return fmt

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """One tile's bytes, or None where the archive has none (the console answers 404)."""
        if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        data = self._reader.get(z, x, y)
        return bytes(data) if data is not None else None

    @property
    def media_type(self) -> str:
        """The Content-Type the console serves tiles with."""
        return {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}.get(self.tile_format,
                                                                                   "application/octet-stream")

    def _stamp(self) -> str:
        st = self.path.stat()
        return f"{self.path.resolve()}:{st.st_size}:{st.st_mtime_ns}\n"

    def extract(self, folder: Path) -> int:
        """Unpack every tile to ``folder/z/x/y.<format>`` (replacing what was there); returns the count.

        A folder already unpacked from this very archive is left as it is (the daemon redraws its map
        every few minutes; the tiles change only when the archive does).
        """
        stamp = folder / ".archive"
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == self._stamp():
            return self.info.tiles
        tmp = folder.with_name(folder.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        n = 0
        for (z, x, y), data in all_tiles(self._get):
            d = tmp / str(z) / str(x)
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{y}.{self.tile_format}").write_bytes(data)
            n += 1
        (tmp / ".archive").write_text(self._stamp(), encoding="utf-8")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        return n


def describe(info: CacheInfo) -> str:
    """One line for people: what the archive holds and where it came from."""
    kind = "simulated stand-in / 実地図ではありません" if info.simulated else info.source_url
    bands = "; ".join(f"zoom {b.min_zoom}-{b.max_zoom} over {b.bounds[1]:.4f},{b.bounds[0]:.4f} .. "
                      f"{b.bounds[3]:.4f},{b.bounds[2]:.4f}" for b in info.bands)
    return (f"{info.path}: {info.tiles:,} tiles ({bands}); {info.name} ({kind}); created {info.created}; "
            f"terms {info.terms_url or '-'}; attribution: {info.attribution}")
