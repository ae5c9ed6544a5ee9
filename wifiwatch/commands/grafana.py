"""``wifiwatch grafana build`` (dashboards and AP locations as files) and ``grafana push`` (to a Grafana)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory


def _lang(lang: str) -> str:
    if lang not in ("ja", "en"):
        raise UserError("--lang must be ja or en")
    return lang


def register(app: typer.Typer) -> None:
    grafana = typer.Typer(help="Grafana dashboards / Grafana ダッシュボード", no_args_is_help=True)
    app.add_typer(grafana, name="grafana")

    @grafana.command("build")
    def build(
        config: ConfigOpt = None,
        out: Annotated[Path, typer.Option("--out", help="Directory to write json/ and gazetteer/ into")]
        = Path("dashboards"),
    ) -> None:
        """Write the dashboards (json/) and the AP locations for the map panel (gazetteer/) from the inventory."""
        from wifiwatch.grafana.dashboards import build_all, gazetteer

        inv = load_inventory(config)
        written = []
        for sub, files in (("json", build_all()), ("gazetteer", {"wifiwatch-aps.json": gazetteer(inv)})):
            (out / sub).mkdir(parents=True, exist_ok=True)
            for name, model in files.items():
                path = out / sub / name
                path.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
                written.append(path)
        for path in written:
            console.print(str(path), highlight=False)

    @grafana.command("push")
    def push_cmd(
        directory: Annotated[Path | None, typer.Option("--dir", help="Dashboard JSON directory (default: built in)")]
        = None,
        datasource_uid: Annotated[str | None, typer.Option(
            "--datasource-uid", help="uid of the InfluxDB (InfluxQL) datasource in that Grafana")] = None,
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Create the folder (once) and create or update every dashboard; GRAFANA_URL and GRAFANA_TOKEN."""
        import dashboards
        from wifiwatch.grafana.dashboards import DATASOURCE_UID, FOLDER_UID
        from wifiwatch.grafana.push import load_dashboards, push, target_from_env

        lang = _lang(lang)
        target = target_from_env(os.environ, lang)
        models = load_dashboards(directory or dashboards.JSON_DIR, lang)
        result = push(target, models, lang, datasource_uid or DATASOURCE_UID)
        if lang == "en":
            folder = "created" if result.folder_created else "already there"
            console.print(f"{target.shown}: folder {FOLDER_UID} {folder}; {len(result.dashboards)} dashboards "
                          f"updated: {', '.join(result.dashboards)}", highlight=False)
        else:
            folder = "作成" if result.folder_created else "既存"
            console.print(f"{target.shown}: フォルダ {FOLDER_UID} {folder}、ダッシュボード "
                          f"{len(result.dashboards)} 件を更新: {', '.join(result.dashboards)}", highlight=False)
