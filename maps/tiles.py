"""The background map as one local file: fetch tiles once where there is internet, use them where there is none.

City staff PCs often sit on a closed network (LGWAN), where online tiles are a grey field.
``fetch_tiles`` downloads the tiles covering the inventory (GSI 地理院タイル by default) into one
PMTiles archive (protomaps' ``pmtiles`` library); ``TileCache`` reads it back for the web console
(``get``) and for a map file on disk (``extract`` to a folder next to the HTML, which Chromium loads
from file:// with a relative URL). The archive's metadata carries the source's attribution and terms,
so every map drawn from it credits them.

An archive is untrusted input (it may come from anywhere, and the daemon unpacks it every few minutes): a
270-byte archive can address a billion tiles, a small one can inflate a directory or the metadata to gigabytes,
and a leaf directory can point back at itself. So ``TileCache`` reads the whole directory tree once, with
limits (:class:`TileLimits`: tiles, unpacked bytes, bytes and entries per directory, depth, loops, zoom, every
offset inside the file), before anything is served or unpacked; what breaks a limit is a ``TileError`` naming
it. ``extract`` unpacks into a fresh private folder beside the map's and swaps it in with a rename.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import mercantile
from pmtiles.reader import MmapSource
from pmtiles.tile import Compression, TileType, deserialize_header, read_varint, tileid_to_zxy, zxy_to_tileid
from pmtiles.writer import Writer

from core.inventory import Inventory
from core.logs import kv

log = logging.getLogger("wifiwatch.maps")

Bounds = tuple[float, float, float, float]  # west, south, east, north (degrees)
MAX_TILES = 20_000  # one town at z10-18 is a few thousand; more is a mistake (or an unkind load on GSI)
MAX_TILE_BYTES = 2 * 1024 * 1024


class TileError(Exception):
    """A tile file or a fetch the user asked for cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TileLimits:
    """What an archive may hold before it is refused (checked before anything is served or unpacked).

    GSI tiles over a town at zoom 11-17 are about 1,100 tiles and 30 MB; ``tiles fetch`` stops at
    :data:`MAX_TILES`. The limits leave room for archives made elsewhere and none for a bomb."""

    tiles: int = 50_000  # addressed tiles (each one a file when unpacked)
    unpacked_bytes: int = 512 * 1024 * 1024  # all tiles written out
    tile_bytes: int = MAX_TILE_BYTES  # one tile
    directory_bytes: int = 4 * 1024 * 1024  # one directory, inflated
    directory_entries: int = 65_536  # one directory
    directories_bytes: int = 16 * 1024 * 1024  # all directories, inflated (each leaf may be read only once)
    directories: int = 4_096  # leaf directories in all
    depth: int = 3  # root = 0; PMTiles writers use one level of leaves
    metadata_bytes: int = 1024 * 1024  # the JSON metadata, inflated
    max_zoom: int = 24
    free_space_reserve: int = 256 * 1024 * 1024  # unpacking never leaves the disk (and the store) less than this


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


def _inflate(data: bytes, compression: Compression, limit: int, what: str) -> bytes:
    """``data`` uncompressed, never more than ``limit`` bytes of it (a gzip bomb stops at the limit)."""
    if compression == Compression.NONE:
        out = bytes(data)
    elif compression == Compression.GZIP:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = d.decompress(data, limit + 1)
        except zlib.error:
            raise TileError(f"{what}: damaged gzip data") from None
        if d.unconsumed_tail and len(out) <= limit:
            out += b"?"  # more was waiting: over the limit
    else:
        raise TileError(f"{what}: compression {compression.name} is not supported")
    if len(out) > limit:
        raise TileError(f"{what}: more than {limit:,} bytes once inflated")
    return out


_Run = tuple[int, int, int, int]  # first tile id, run length (0: a leaf directory), offset, length


def _entries(buf: bytes, limit: int, what: str) -> list[_Run]:
    """A PMTiles v3 directory, read with the entry count checked before any list is built."""
    b = io.BytesIO(buf)
    try:
        n = read_varint(b)
        if n > limit or 4 * n > len(buf):  # every entry takes at least four bytes
            raise TileError(f"{what}: {n:,} entries (at most {limit:,})")
        ids, last = [], 0
        for _ in range(n):
            last += read_varint(b)
            ids.append(last)
        runs = [read_varint(b) for _ in range(n)]
        lengths = [read_varint(b) for _ in range(n)]
        offsets: list[int] = []
        for i in range(n):
            v = read_varint(b)
            if v == 0 and i == 0:
                raise TileError(f"{what}: the first entry has no offset")
            offsets.append(offsets[i - 1] + lengths[i - 1] if v == 0 else v - 1)
    except EOFError:
        raise TileError(f"{what}: a directory ends early") from None
    return list(zip(ids, runs, offsets, lengths, strict=True))


@dataclass(frozen=True)
class Unpacked:
    """Tiles unpacked earlier from a good archive: what a map keeps showing while a newer archive is refused."""

    info: CacheInfo
    source: str
    tile_format: str
    stamp: str  # which archive file (path, size, mtime) they came from


def unpacked(folder: Path) -> Unpacked | None:
    """The last good tiles in ``folder`` (``extract`` left a note of what they are), or None."""
    note = folder / ".archive"
    try:
        if folder.is_symlink() or note.is_symlink() or note.stat().st_size > 64 * 1024:
            return None
        d = json.loads(note.read_text(encoding="utf-8"))
        i = d["info"]
        info = CacheInfo(Path(i["path"]), cast(Bounds, tuple(i["bounds"])), int(i["min_zoom"]), int(i["max_zoom"]),
                         int(i["tiles"]), str(i["name"]), str(i["attribution"]), str(i["terms_url"]),
                         str(i["source_url"]), str(i["created"]), bool(i["simulated"]),
                         tuple(Band(int(b["min_zoom"]), int(b["max_zoom"]), cast(Bounds, tuple(b["bounds"])))
                               for b in i["bands"]))
        if d["format"] not in _TYPES:
            return None
        return Unpacked(info, str(d["source"]), str(d["format"]), str(d["stamp"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


_refused: set[str] = set()


def refused(path: Path, e: TileError) -> None:
    """One log line per refused archive (the daemon retries every few minutes; the log says it once)."""
    try:
        st = path.stat()
        key = f"{path}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        key = str(path)
    if key not in _refused:
        _refused.add(key)
        log.warning("tile archive refused (a map keeps its last good tiles)", extra=kv(path=str(path), reason=str(e)))


class TileCache:
    """A PMTiles archive of background tiles, read for the console and unpacked for map files."""

    def __init__(self, path: Path, limits: TileLimits = TileLimits()) -> None:
        self.path = Path(path)
        self.limits = limits
        try:
            self._f = self.path.open("rb")
        except OSError as e:
            raise TileError(f"{self.path}: {e.strerror or e}") from None
        try:
            self._size = os.fstat(self._f.fileno()).st_size
            self._get = MmapSource(self._f)
            self._header = deserialize_header(self._get(0, 127))
        except Exception as e:  # a truncated or foreign file: say so, never a traceback
            self._f.close()
            raise TileError(f"{self.path}: not a PMTiles tile archive ({e.__class__.__name__})") from None
        try:
            self._meta: dict[str, Any] = self._metadata()
            self._runs = self._walk()
        except TileError as e:
            self._f.close()
            raise TileError(f"{self.path}: {e}") from None
        except Exception as e:  # noqa: BLE001 - anything else a foreign file trips is still its fault
            self._f.close()
            raise TileError(f"{self.path}: not a usable PMTiles archive ({e.__class__.__name__})") from None
        self._ids = [r[0] for r in self._runs]
        self.tiles = sum(r[1] for r in self._runs)
        self.unpacked_bytes = sum(r[1] * r[3] for r in self._runs)

    def _region(self, offset: int, length: int, what: str) -> None:
        if offset < 0 or length < 0 or offset + length > self._size:
            raise TileError(f"{what} lies outside the file")

    def _metadata(self) -> dict[str, Any]:
        h = self._header
        self._region(h["metadata_offset"], h["metadata_length"], "the metadata")
        raw = _inflate(self._get(h["metadata_offset"], h["metadata_length"]), h["internal_compression"],
                       self.limits.metadata_bytes, "the metadata")
        meta = json.loads(raw) if raw.strip() else {}
        if not isinstance(meta, dict):
            raise TileError("the metadata is not a JSON object")
        return meta

    def _walk(self) -> list[_Run]:
        """Every tile run of the directory tree, sorted, after checking it against the limits."""
        h, lim = self._header, self.limits
        self._region(h["root_offset"], h["root_length"], "the root directory")
        self._region(h["leaf_directory_offset"], h["leaf_directory_length"], "the leaf directories")
        self._region(h["tile_data_offset"], h["tile_data_length"], "the tile data")
        todo = [(h["root_offset"], h["root_length"], 0)]
        seen: set[tuple[int, int]] = set()
        runs: list[_Run] = []
        tiles = total = inflated = 0
        while todo:
            offset, length, depth = todo.pop()
            if depth > lim.depth:
                raise TileError(f"directories nested deeper than {lim.depth}")
            if (offset, length) in seen:
                raise TileError("a leaf directory points back at one already read (a loop)")
            seen.add((offset, length))
            if len(seen) > lim.directories + 1:
                raise TileError(f"more than {lim.directories:,} leaf directories")
            if length > lim.directory_bytes:
                raise TileError(f"a {length:,}-byte directory (at most {lim.directory_bytes:,})")
            buf = _inflate(self._get(offset, length), h["internal_compression"], lim.directory_bytes, "a directory")
            inflated += len(buf)
            if inflated > lim.directories_bytes:
                raise TileError(f"more than {lim.directories_bytes:,} bytes of directories once inflated")
            for tile_id, run, off, n in _entries(buf, lim.directory_entries, "a directory"):
                if run == 0:
                    if off + n > h["leaf_directory_length"]:
                        raise TileError("a leaf directory lies outside the leaf section")
                    todo.append((h["leaf_directory_offset"] + off, n, depth + 1))
                    continue
                tiles += run
                if tiles > lim.tiles:
                    raise TileError(f"more than {lim.tiles:,} tiles")
                if n > lim.tile_bytes:
                    raise TileError(f"a {n:,}-byte tile (at most {lim.tile_bytes:,})")
                if off + n > h["tile_data_length"]:
                    raise TileError("a tile lies outside the tile data")
                total += run * n
                if total > lim.unpacked_bytes:
                    raise TileError(f"more than {lim.unpacked_bytes:,} bytes of tiles")
                if ((3 * (tile_id + run - 1) + 1).bit_length() - 1) // 2 > lim.max_zoom:
                    raise TileError(f"tiles beyond zoom {lim.max_zoom}")
                runs.append((tile_id, run, h["tile_data_offset"] + off, n))
        runs.sort()
        for a, b in zip(runs, runs[1:], strict=False):
            if a[0] + a[1] > b[0]:
                raise TileError("two entries claim the same tile")
        return runs

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
                         self.tiles, str(m.get("name", "")), str(m.get("attribution", "")),
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
        tile_id = zxy_to_tileid(z, x, y)
        i = bisect.bisect_right(self._ids, tile_id) - 1
        if i < 0 or tile_id >= self._runs[i][0] + self._runs[i][1]:
            return None
        _, _, offset, length = self._runs[i]
        return bytes(self._get(offset, length))

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
        every few minutes; the tiles change only when the archive does). The tiles go to a fresh private
        folder beside ``folder`` (never a fixed name someone could have put a link at), which then replaces
        ``folder`` with a rename: a map never sees half an archive, and a refused one leaves the old tiles.
        """
        last = unpacked(folder)
        if last is not None and last.stamp == self._stamp():
            return self.tiles
        fmt = self.tile_format
        folder.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder.parent).free
        if free - self.unpacked_bytes < self.limits.free_space_reserve:
            raise TileError(f"{self.path}: unpacking {self.unpacked_bytes:,} bytes would leave less than "
                            f"{self.limits.free_space_reserve:,} bytes free on {folder.parent}")
        for stale in folder.parent.glob(f".{folder.name}.*.part"):  # left by a crash mid-unpack
            stale.unlink() if stale.is_symlink() else shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
        old = tmp.with_name(tmp.name[:-5] + ".old")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            made: set[tuple[int, int]] = set()
            for tile_id, run, offset, length in self._runs:
                data = self._get(offset, length)
                for t in range(tile_id, tile_id + run):
                    z, x, y = tileid_to_zxy(t)
                    d = tmp / str(z) / str(x)
                    if (z, x) not in made:
                        d.mkdir(parents=True, exist_ok=True)
                        made.add((z, x))
                    fd = os.open(d / f"{y}.{fmt}", flags, 0o644)
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
            note = {"stamp": self._stamp(), "source": self.source, "format": fmt,
                    "info": {**asdict(self.info), "path": str(self.path)}}
            (tmp / ".archive").write_text(json.dumps(note, ensure_ascii=False), encoding="utf-8")
            tmp.chmod(0o755)  # mkdtemp makes it 0700; the map's reader may be another user
            if folder.is_symlink():
                folder.unlink()  # a link is replaced, never followed
            elif folder.exists():
                os.replace(folder, old)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return self.tiles


def describe(info: CacheInfo) -> str:
    """One line for people: what the archive holds and where it came from."""
    kind = "simulated stand-in / 実地図ではありません" if info.simulated else info.source_url
    bands = "; ".join(f"zoom {b.min_zoom}-{b.max_zoom} over {b.bounds[1]:.4f},{b.bounds[0]:.4f} .. "
                      f"{b.bounds[3]:.4f},{b.bounds[2]:.4f}" for b in info.bands)
    return (f"{info.path}: {info.tiles:,} tiles ({bands}); {info.name} ({kind}); created {info.created}; "
            f"terms {info.terms_url or '-'}; attribution: {info.attribution}")
