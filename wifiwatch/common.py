"""What every command module shares: consoles, the --config option, inventory loading, exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from core.config import ConfigError, config_path, load_config
from core.inventory import Inventory
from core.paths import known_vendors
from core.secrets import REDACTOR, SecretResolver

# Piped output (logs, files, tests) keeps whole rows instead of rich's 80-column default. markup=False: text
# from configs, devices and stores ("[influxdb]", "[bold]x[/]") prints as written; styling uses Text objects
# or an explicit markup=True around escaped values (error_line).
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Inventory file (default: $WIFIWATCH_CONFIG or config/sites.toml)"),
]


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback, exit 2."""


def error_line(message: str, label: str = "error") -> None:
    """One line on stderr; the message is escaped, so "[influxdb]" or "[bold]" in it print as written."""
    color = "red" if label == "error" else "yellow"
    err.print(f"[{color}]{escape(label)}:[/{color}] {escape(REDACTOR(message))}", highlight=False, soft_wrap=True,
              markup=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    error_line(message)
    return typer.Exit(code)


# The store file of the configuration loaded by this command: named when a store error ends the command.
CURRENT_STORE: list[str] = []


def load_inventory(path: Path | None, lang: str = "ja") -> Inventory:
    """Load and validate, or exit 2 listing every problem (``FILE:LINE: field: message``, in ``lang``)."""
    try:
        inv = load_config(path, known_vendors())
    except ConfigError as e:
        for p in e.problems:
            err.print(REDACTOR(p.text(lang)), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    CURRENT_STORE[:] = [inv.store.path]
    return inv


def resolver_for(inv: Inventory, path: Path | None) -> SecretResolver:
    return SecretResolver(inv.secrets_file, base_dir=config_path(path).resolve().parent)


def no_data(message: str) -> typer.Exit:
    """One line on stderr and the documented exit code for a period without data (every report command)."""
    from analytics.coverage import NO_DATA_EXIT

    err.print(message, highlight=False, markup=False)
    return typer.Exit(NO_DATA_EXIT)


def with_store_windows(inv: Inventory) -> Inventory:
    """The inventory with the maintenance windows added at run time (``maintenance add``, the console) when its
    store exists: reports then set aside the same windows as alerts and the live views (core.maintenance)."""
    path = Path(inv.store.path)
    if not path.exists():
        return inv
    from collector.alerts.store import AlertStore
    from core.maintenance import with_added_windows

    alerts = AlertStore(path)
    try:
        return with_added_windows(inv, alerts.maintenance())
    finally:
        alerts.close()
