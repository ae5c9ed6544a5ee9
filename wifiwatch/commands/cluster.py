"""``wifiwatch cluster status``: the members of a collector group (``[cluster] redis``), their APs and leases.

Reads Redis only (never renews a lease): safe to run from any machine that reaches the group's Redis.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from wifiwatch.common import ConfigOpt, UserError, console, load_inventory, resolver_for
from wifiwatch.labels import check_lang

HEAD = {"ja": ("メンバー", "AP数", "リース経過(秒)", "状態", "収集グループ"),
        "en": ("member", "APs", "lease age (s)", "state", "collector group")}
STATE = {"ja": {True: "稼働中", False: "期限切れ"}, "en": {True: "live", False: "expired"}}


def group_members(config: Any) -> tuple[dict[str, Any], str]:
    """The contract document ``{"members": [...]}`` (live members) plus ``expired`` ones, and the Redis URL."""
    import redis

    from collector.cluster.membership import group_document

    inv = load_inventory(config)
    c = inv.cluster
    if c.redis is None:
        raise UserError("no [cluster] redis in the configuration: this collector runs alone "
                        "(cluster status lists the members of a group)")
    password = resolver_for(inv, config).resolve(c.password).reveal() if c.password else None
    try:
        return group_document(c, password), c.redis
    except (redis.RedisError, OSError) as e:
        raise UserError(f"cannot reach Redis at {c.redis}: {type(e).__name__}: {e}") from None


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Collector group through Redis / 収集グループ", no_args_is_help=True)
    app.add_typer(group, name="cluster")

    @group.command("status")
    def status(
        config: ConfigOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Each member of the group: its name, how many APs it polls, the age of its lease."""
        if fmt not in ("table", "json"):
            raise UserError(f"--format: '{fmt}' is not one of table, json")
        check_lang(lang)
        doc, url = group_members(config)
        if fmt == "json":
            console.print_json(json.dumps(doc, ensure_ascii=False))
            return
        h = HEAD[lang]
        table = Table(title=Text(f"{h[4]} ({url})"))
        for col in h[:4]:
            table.add_column(col, no_wrap=True)
        for live, rows in ((True, doc["members"]), (False, doc["expired"])):
            for r in rows:
                table.add_row(Text(r["name"]), Text(str(r["aps"])), Text(f"{r['lease_age_s']:.1f}"),
                              Text(STATE[lang][live]))
        console.print(table)
