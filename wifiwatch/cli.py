"""The ``wifiwatch`` command: a thin layer that parses arguments and calls the packages below it.

User mistakes (bad config, unknown AP, unreachable server) end with a clear message and exit 2,
never a traceback; each area's commands live in ``wifiwatch.commands.<area>``.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from typing import Annotated

import typer

from core.config import config_path
from core.logs import setup_logging
from core.secrets import SecretError
from core.store.dbfile import SchemaError, explain
from wifiwatch.common import CURRENT_STORE, ConfigOpt, UserError, console, error_line, load_inventory, resolver_for

app = typer.Typer(
    name="wifiwatch",
    help="Monitoring and usage analytics for free public Wi-Fi / 公衆無線LAN監視",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
@app.callback()
def _main(
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")] = "warning",
) -> None:
    setup_logging(os.environ.get("WIFIWATCH_LOG_LEVEL", log_level))


_DEFAULT_COMMUNITIES = {"public", "private"}


@app.command("check-config")
def check_config(
    config: ConfigOpt = None,
    lang: Annotated[str, typer.Option("--lang", help="ja (default) or en")] = "ja",
) -> None:
    """Validate the inventory: exit 0 with a summary, or 2 listing every problem as FILE:LINE: field: message."""
    from wifiwatch.labels import check_lang

    check_lang(lang)
    inv = load_inventory(config, lang)
    warnings: list[str] = []
    ja = lang == "ja"
    resolver = resolver_for(inv, config)
    for site, ap in inv.aps():
        snmp = inv.snmp_for(site, ap)
        if snmp is not None and snmp.version == "2c":
            warnings.append(f"{ap.id}: SNMP v2c はコミュニティ名を平文で送ります。v3 authPriv を推奨します" if ja
                            else f"{ap.id}: SNMP v2c sends the community in clear text; prefer v3 authPriv")
        if snmp is not None:
            for ref in (snmp.community, snmp.auth_key, snmp.priv_key):
                if ref is None:
                    continue
                try:
                    secret = resolver.resolve(ref)
                except SecretError as e:
                    need = "ポーリング時に必要です" if ja else "needed when polling"
                    warnings.append(f"{ap.id}: {e} ({need})")
                    continue
                if ref == snmp.community and secret.reveal().lower() in _DEFAULT_COMMUNITIES:
                    # Named by reference only: the value is masked in every output, which would hide the word.
                    warnings.append(
                        f"{ap.id}: '{ref}' のコミュニティ名は誰でも推測できる出荷時の値です。"
                        "長いランダムな値にしてください (または v3 authPriv)" if ja else
                        f"{ap.id}: the community from '{ref}' is a factory default anyone can guess; "
                        "set a long random one (or use v3 authPriv)")
    from collector.visitors.checks import visitor_warnings  # issue 24: settings that would do nothing

    warnings += visitor_warnings(inv, resolver, ja)
    for w in dict.fromkeys(warnings):
        error_line(w, "注意" if lang == "ja" else "warning")
    n_aps = len(inv.aps())
    if lang == "ja":
        summary = (f"{config_path(config)}: OK: 拠点 {len(inv.sites)}、アクセスポイント {n_aps}、"
                   f"候補地 {len(inv.candidates)}、保守時間帯 {len(inv.maintenance)}")
    else:
        summary = (f"{config_path(config)}: OK: {len(inv.sites)} sites, {n_aps} access points, "
                   f"{len(inv.candidates)} candidate sites, {len(inv.maintenance)} maintenance windows")
    console.print(summary, highlight=False, markup=False)


# Each area registers its commands on import; a missing module means that area is not built yet.
_AREAS = ["collect", "sim", "store", "alerts", "report", "plan", "map", "tiles", "grafana", "demo", "opendata",
          "status", "detect", "web", "visitors", "cluster"]
for _area in _AREAS:
    try:
        _mod = importlib.import_module(f"wifiwatch.commands.{_area}")
    except ModuleNotFoundError as _e:
        if _e.name != f"wifiwatch.commands.{_area}":
            raise
        continue
    _mod.register(app)


def _plain_help(t: typer.Typer) -> None:
    """Help texts name TOML sections ("[[sites]]", "[influxdb]"): print them as written, not as rich markup."""
    t.rich_markup_mode = None
    for group in t.registered_groups:
        if group.typer_instance is not None:
            _plain_help(group.typer_instance)


_plain_help(app)


def main() -> None:
    try:
        app()
    except (UserError, SecretError, SchemaError) as e:
        error_line(str(e))
        sys.exit(2)
    except sqlite3.Error as e:  # a damaged, locked or unreadable store: what is wrong and what to do, one line
        reason, advice = explain(e, CURRENT_STORE[0] if CURRENT_STORE else "the store file")
        error_line(f"{reason}; {advice}")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
