"""Issue 26 (N4): tile archives are untrusted input. Hostile PMTiles archives, written byte by byte here (the
pmtiles library's own header and directory encoders), are refused before anything is unpacked, with one log line,
and the map keeps its last good tiles: a tile-count bomb, an oversized tile, directory and metadata gzip bombs, a
leaf directory that loops, nesting too deep, tiles beyond any zoom, and a link planted where the old code
unpacked to."""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from pathlib import Path

import pytest
from pmtiles.tile import Compression, Entry, TileType, serialize_directory, serialize_header, zxy_to_tileid

from core.config import parse_config
from maps.coverage_map import tiles_folder, write_map
from maps.tiles import Band, TileCache, TileError, write_archive

ROOT = Path(__file__).resolve().parent.parent
META = {"format": "png", "name": "hostile", "attribution": "x", "simulated": True}


def archive(path: Path, root: bytes, leaves: bytes = b"", data: bytes = b"\x89PNG tile",
            meta: bytes | None = None) -> Path:
    """A PMTiles v3 file laid out as writers do: header, root directory, metadata, leaf directories, tile data."""
    meta = gzip.compress(json.dumps(META).encode()) if meta is None else meta
    root_at = 127
    meta_at = root_at + len(root)
    leaves_at = meta_at + len(meta)
    data_at = leaves_at + len(leaves)
    header = serialize_header({
        "root_offset": root_at, "root_length": len(root), "metadata_offset": meta_at, "metadata_length": len(meta),
        "leaf_directory_offset": leaves_at, "leaf_directory_length": len(leaves), "tile_data_offset": data_at,
        "tile_data_length": len(data), "addressed_tiles_count": 1, "tile_entries_count": 1, "tile_contents_count": 1,
        "clustered": True, "internal_compression": Compression.GZIP, "tile_compression": Compression.NONE,
        "tile_type": TileType.PNG, "min_zoom": 0, "max_zoom": 14})  # type: ignore[typeddict-item]
    path.write_bytes(header + root + meta + leaves + data)
    return path


def tiles(*entries: tuple[int, int, int, int]) -> bytes:
    """A directory of (tile id, run length, offset, length) entries; run length 0 is a leaf directory."""
    return serialize_directory([Entry(t, off, n, run) for t, run, off, n in entries])


def self_loop() -> bytes:
    """A leaf directory whose only entry is itself (its length is in its own bytes: iterate to a fixed point)."""
    n = 20
    while len(d := tiles((0, 0, 0, n))) != n:
        n = len(d)
    return d


def chain(levels: int) -> tuple[bytes, bytes]:
    """A root and ``levels`` leaf directories, each pointing at the one before, the first holding a tile."""
    layout, offsets = [tiles((0, 1, 0, 9))], [0]
    for _ in range(levels - 1):
        offsets.append(offsets[-1] + len(layout[-1]))
        layout.append(tiles((0, 0, offsets[-2], len(layout[-1]))))
    return tiles((0, 0, offsets[-1], len(layout[-1]))), b"".join(layout)


HOSTILE = {
    # 270 bytes addressing a billion tiles: the old code wrote every one of them as a file
    "a tile-count bomb": lambda p: archive(p, tiles((0, 1_000_000_000, 0, 9))),
    "an oversized tile": lambda p: archive(p, tiles((0, 1, 0, 3_000_000)), data=bytes(3_000_000)),
    # a few KB of gzip that inflate to a directory of half a million entries
    "a directory gzip bomb": lambda p: archive(p, gzip.compress(b"\x80\xa1\x1f" + bytes(2_000_000))),
    # metadata that inflates to 8 MB of JSON (the 522 KB archive took 1.1 GB to open)
    "a metadata gzip bomb": lambda p: archive(p, tiles((0, 1, 0, 9)),
                                               meta=gzip.compress(b'{"name": "' + b"a" * 8_000_000 + b'"}')),
    "a leaf directory that loops": lambda p: archive(p, tiles((0, 0, 0, len(self_loop()))), self_loop()),
    "directories nested too deep": lambda p: archive(p, *chain(6)),
    "tiles beyond any zoom": lambda p: archive(p, tiles((zxy_to_tileid(30, 5, 5), 1, 0, 9))),
    "an entry outside the file": lambda p: archive(p, tiles((0, 1, 10**12, 9))),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_archives_are_refused_before_anything_is_unpacked(kind: str, tmp_path: Path) -> None:
    bad = HOSTILE[kind](tmp_path / "bad.pmtiles")
    assert bad.stat().st_size < 3_200_000
    with pytest.raises(TileError) as e, TileCache(bad) as cache:
        cache.extract(tmp_path / "out")
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.pmtiles"]


def test_a_refused_archive_is_one_log_line_and_the_map_keeps_its_last_good_tiles(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inv = parse_config((ROOT / "config" / "sites.toml").read_text(encoding="utf-8"), "sites.toml")
    bg = tmp_path / "bg.pmtiles"
    write_archive(bg, [(z, 0, 0, b"\x89PNG good %d" % z) for z in range(3)], [Band(0, 2, (139, 35, 141, 37))],
                  {**META, "name": "good"})
    out = tmp_path / "map.html"
    write_map(out, inv, {}, tile_file=bg)
    folder = tiles_folder(out)
    good = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png"))
    assert good == ["0/0/0.png", "1/0/0.png", "2/0/0.png"]
    HOSTILE["a tile-count bomb"](bg)
    os.utime(bg, ns=(time.time_ns(), time.time_ns() + 10**9))
    with caplog.at_level(logging.WARNING, logger="wifiwatch.maps"):
        for _ in range(3):  # the daemon redraws every 5 minutes: one line, not one per redraw
            write_map(out, inv, {}, tile_file=bg)
    lines = [r for r in caplog.records if r.name == "wifiwatch.maps"]
    assert len(lines) == 1 and "refused" in lines[0].getMessage()
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png")) == good
    assert f"{folder.name}/{{z}}/{{x}}/{{y}}.png" in out.read_text(encoding="utf-8")  # the map still shows them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.pmtiles", "map.html", folder.name]


def test_unpacking_never_follows_a_planted_link(tmp_path: Path) -> None:
    """The old code unpacked into ``<folder>.part``, a fixed name: a link planted there sent the tiles elsewhere."""
    bg = tmp_path / "bg.pmtiles"
    write_archive(bg, [(0, 0, 0, b"\x89PNG")], [Band(0, 0, (0, 0, 1, 1))], META)
    outside = tmp_path / "outside"
    outside.mkdir()
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "map_tiles.part").symlink_to(outside)
    with TileCache(bg) as cache:
        assert cache.extract(maps / "map_tiles") == 1
    assert list(outside.iterdir()) == []
    assert (maps / "map_tiles" / "0" / "0" / "0.png").read_bytes() == b"\x89PNG"
    # the tiles folder itself a link to elsewhere: replaced by a real folder, the target untouched
    (maps / "other").symlink_to(outside)
    with TileCache(bg) as cache:
        cache.extract(maps / "other")
    assert not (maps / "other").is_symlink() and list(outside.iterdir()) == []


def test_limits_on_total_size_and_count_hold_at_their_edge(tmp_path: Path) -> None:
    from maps.tiles import TileLimits

    bg = tmp_path / "bg.pmtiles"
    write_archive(bg, [(2, x, y, bytes([x, y]) * 500) for x in range(4) for y in range(4)],
                  [Band(2, 2, (0, 0, 1, 1))], META)
    with TileCache(bg, TileLimits(tiles=16, unpacked_bytes=16_000)) as cache:
        assert cache.tiles == 16 and cache.get(2, 3, 1) == bytes([3, 1]) * 500
    with pytest.raises(TileError, match="more than 15 tiles"):
        TileCache(bg, TileLimits(tiles=15))
    with pytest.raises(TileError, match="bytes of tiles"):
        TileCache(bg, TileLimits(unpacked_bytes=15_999))


def test_the_daemons_map_job_with_tiles_required_logs_one_line_and_draws_without(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """[map] tiles = "cache" and a refused archive with nothing unpacked before: no traceback every 5 minutes."""
    from wifiwatch.commands.collect import _write_map

    text = (ROOT / "config" / "sites.toml").read_text(encoding="utf-8")
    text += f'\n[map]\ntiles = "cache"\ntile_file = "{tmp_path / "bg.pmtiles"}"\n'
    inv = parse_config(text, "sites.toml")
    HOSTILE["a leaf directory that loops"](tmp_path / "bg.pmtiles")
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            _write_map(inv, tmp_path / "map.html", None)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "tile archive refused (a map keeps its last good tiles)"]
    assert not any(r.exc_info for r in caplog.records)
    assert "{z}/{x}/{y}" not in (tmp_path / "map.html").read_text(encoding="utf-8")
