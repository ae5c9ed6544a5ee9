"""Where packaged data lives, so the CLI works from a checkout and from an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "collector" / "snmp" / "profiles"


def known_vendors(extra_dirs: list[Path] | None = None) -> set[str]:
    """Profile names are file stems; listing files keeps core free of collector imports.

    Extra folders come from ``$WIFIWATCH_PROFILES_DIR`` (``:``-separated), as the profile loader reads them.
    """
    env_dirs = [Path(p) for p in os.environ.get("WIFIWATCH_PROFILES_DIR", "").split(":") if p]
    names: set[str] = set()
    for d in [PROFILES_DIR, *env_dirs, *(extra_dirs or [])]:
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return names
