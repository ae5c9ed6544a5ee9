"""``wifiwatch map``: the coverage map as one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory


def register(app: typer.Typer) -> None:
    @app.command("map")
    def map_(
        config: ConfigOpt = None,
        out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("var/map.html"),
        tiles: Annotated[str, typer.Option("--tiles", help="gsi (国土地理院), osm, or a tile URL template")] = "gsi",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        offline: Annotated[bool, typer.Option("--offline", help="Scripts and styles inside the HTML (no CDN)")]
        = False,
    ) -> None:
        """Coverage map: AP state, coverage, usage heat and ranked candidate sites."""
        from wifiwatch.views import write_current_map

        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        if tiles not in ("gsi", "osm") and not (tiles.startswith("https://") and "{z}" in tiles):
            raise UserError("--tiles must be gsi, osm, or an https:// URL template with {z}/{x}/{y}")
        inv = load_inventory(config)
        console.print(str(write_current_map(inv, out, lang, tiles, offline=offline)))
