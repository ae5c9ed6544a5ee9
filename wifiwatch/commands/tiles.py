"""``wifiwatch tiles``: the background map as one local file, for maps on a network with no internet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wifiwatch.common import ConfigOpt, UserError, console, err, load_inventory

FileOpt = Annotated[Path | None, typer.Option("--file", help="Tile archive (default: background.pmtiles beside the "
                                                           "store)")]


def register(app: typer.Typer) -> None:
    tiles = typer.Typer(help="Background map tiles kept in one local file (PMTiles) / 背景地図タイル",
                        no_args_is_help=True)
    app.add_typer(tiles, name="tiles")

    @tiles.command("fetch")
    def fetch(
        config: ConfigOpt = None,
        file: FileOpt = None,
        min_zoom: Annotated[int, typer.Option("--min-zoom", help="Coarsest zoom to keep")] = 11,
        max_zoom: Annotated[int, typer.Option("--max-zoom", help="Finest zoom to keep (GSI standard map: 18)")] = 17,
        detail_from: Annotated[int, typer.Option("--detail-from", help="First street-level zoom (kept only near "
                                                                      "the sites)")] = 15,
        margin_m: Annotated[float, typer.Option("--margin-m", help="Metres around the sites and candidates kept at "
                                                                 "street level")] = 400.0,
        overview_margin_m: Annotated[float, typer.Option("--overview-margin-m", help="Metres kept around them at "
                                                                                   "overview zooms")] = 5000.0,
        url: Annotated[str | None, typer.Option(
            "--url", help="A mirror of the GSI tiles ({z}/{x}/{y} template); a proxy is taken from HTTPS_PROXY")]
        = None,
        pause_s: Annotated[float, typer.Option("--pause", help="Seconds between requests (spare GSI's servers)")]
        = 0.05,
    ) -> None:
        """Download the 国土地理院 (GSI) tiles over the inventory's area; run where the internet is reachable.

        The archive notes GSI's attribution and terms; every map drawn from it credits 国土地理院.
        """
        from maps.tiles import (
            GSI_STD,
            TileCache,
            TileError,
            default_tile_file,
            describe,
            fetch_tiles,
            inventory_bands,
            tiles_covering,
        )

        if url is not None and not (url.startswith(("https://", "http://")) and
                                    all(k in url for k in ("{z}", "{x}", "{y}"))):
            raise UserError("--url must be an http(s):// URL template with {z}, {x} and {y}")
        if pause_s < 0:
            raise UserError("--pause must not be negative")
        inv = load_inventory(config)
        out = file or default_tile_file(inv)
        try:
            bands = inventory_bands(inv, min_zoom, max_zoom, detail_from, margin_m, overview_margin_m)
            err.print(f"fetching {len(tiles_covering(bands)):,} tiles of {GSI_STD.name_ja}, zoom {min_zoom}-{max_zoom} "
                      f"(terms: {GSI_STD.terms_url})", highlight=False)
            report = fetch_tiles(out, bands, url=url, pause_s=pause_s,
                                 progress=lambda i, n: err.print(f"  {i:,}/{n:,}", highlight=False)
                                 if i % 200 == 0 or i == n else None)
            with TileCache(out) as cache:
                console.print(describe(cache.info), highlight=False)
        except TileError as e:
            raise UserError(str(e)) from None
        err.print(f"{report.fetched:,} tiles ({report.bytes / 1e6:.1f} MB), {report.missing} not served by the "
                  "source (outside its coverage)", highlight=False)

    @tiles.command("demo")
    def demo(config: ConfigOpt = None, file: FileOpt = None) -> None:
        """Draw a stand-in background (graticule only, labelled デモ用簡易背景) where no tiles can be fetched."""
        from maps.demo_background import write_demo_background
        from maps.tiles import TileError, default_tile_file, inventory_bands

        inv = load_inventory(config)
        out = file or default_tile_file(inv)
        try:
            n = write_demo_background(out, inventory_bands(inv))
        except TileError as e:
            raise UserError(str(e)) from None
        console.print(f"{out}: {n} tiles of the demo background (not a real map)", highlight=False)

    @tiles.command("info")
    def info(config: ConfigOpt = None, file: FileOpt = None) -> None:
        """What a tile archive holds: area, zoom range, source, attribution, terms."""
        from maps.tiles import TileCache, TileError, default_tile_file, describe

        path = file or default_tile_file(load_inventory(config))
        try:
            with TileCache(path) as cache:
                console.print(describe(cache.info), highlight=False)
        except TileError as e:
            raise UserError(str(e)) from None
