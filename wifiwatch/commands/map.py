"""``wifiwatch map``: the coverage map as one HTML file (plus its background tiles beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory

TILES_HELP = ("auto (the tile archive if there is one, else no background), cache (require it), none, "
              "or an online service: gsi (国土地理院), osm, an https:// URL template")


def plan_options(budget: int | None, count: int | None, rounds: str | None, budget_per_round: int | None,
                 demand_csv: Path | None) -> dict[str, Any]:
    """rank's planning options, checked the same way, as keyword arguments for plan_for."""
    years: list[int] | None = None
    if rounds:
        try:
            years = [int(y) for y in rounds.split(",") if y.strip()]
        except ValueError:
            raise UserError(f"--rounds: '{rounds}' is not a comma-separated list of years") from None
        if budget_per_round is None:
            raise UserError("--rounds needs --budget-per-round")
    return {"budget": budget, "count": count, "rounds": years, "budget_per_round": budget_per_round,
            "demand_csv": demand_csv}


def check_tiles(tiles: str) -> None:
    if tiles not in ("auto", "cache", "none", "gsi", "osm") and not (
            tiles.startswith("https://") and all(k in tiles for k in ("{z}", "{x}", "{y}"))):
        raise UserError("--tiles must be auto, cache, none, gsi, osm, or an https:// URL template with {z}/{x}/{y}")


def register(app: typer.Typer) -> None:
    @app.command("map")
    def map_(
        config: ConfigOpt = None,
        out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("var/map.html"),
        tiles: Annotated[str, typer.Option("--tiles", help=TILES_HELP)] = "auto",
        tile_file: Annotated[Path | None, typer.Option(
            "--tile-file", help="Tile archive from `wifiwatch tiles fetch` (default: background.pmtiles beside "
                                "the store)")] = None,
        budget: Annotated[int | None, typer.Option("--budget", help="Yen for one round (default 5,000,000)")] = None,
        count: Annotated[int | None, typer.Option("--count", help="At most K sites per round")] = None,
        rounds: Annotated[str | None, typer.Option("--rounds", help="Years, e.g. 2029,2031")] = None,
        budget_per_round: Annotated[int | None, typer.Option("--budget-per-round", help="Yen per round")] = None,
        demand_csv: Annotated[Path | None, typer.Option("--demand-csv", help="Extra demand: lat,lon,weight,label")]
        = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
        offline: Annotated[bool, typer.Option("--offline", hidden=True,
                                              help="Kept for old scripts: every map is offline now")] = True,
    ) -> None:
        """Coverage map: AP state, coverage, usage heat and the candidate sites of a plan (rank's options)."""
        from maps.assets import UnvendoredAsset
        from maps.tiles import TileError
        from wifiwatch.views import write_current_map

        if lang not in ("ja", "en"):
            raise UserError("--lang must be ja or en")
        check_tiles(tiles)
        opts = plan_options(budget, count, rounds, budget_per_round, demand_csv)
        inv = load_inventory(config)
        try:
            console.print(str(write_current_map(inv, out, lang, tiles, tile_file=tile_file, plan_options=opts)))
        except (TileError, UnvendoredAsset) as e:
            raise UserError(str(e)) from None
