"""What every command module shares: consoles, the --config option, inventory loading, exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.config import ConfigError, config_path, load_config
from core.inventory import Inventory
from core.paths import known_vendors
from core.secrets import REDACTOR, SecretResolver

# Piped output (logs, files, tests) keeps whole rows instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Inventory file (default: $WIFIWATCH_CONFIG or config/sites.toml)"),
]


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback, exit 2."""


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {REDACTOR(message)}", highlight=False, markup=True)
    return typer.Exit(code)


def load_inventory(path: Path | None) -> Inventory:
    """Load and validate, or exit 2 listing every problem."""
    try:
        return load_config(path, known_vendors())
    except ConfigError as e:
        for p in e.problems:
            err.print(str(p), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def resolver_for(inv: Inventory, path: Path | None) -> SecretResolver:
    return SecretResolver(inv.secrets_file, base_dir=config_path(path).resolve().parent)
