"""``/status`` and ``wifiwatch status``: the JSON form of the fleet snapshot (collector.snapshot).

Kept as the entry point the daemon, the CLI and the outputs call; every decision is in core.state, every read in
collector.snapshot, so the daemon's HTTP endpoint, the web console and the CLI (which reads the same state from
the store file, without polling anything) show the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from collector.snapshot import build_snapshot, status_document
from core.inventory import Inventory


def read_status(inv: Inventory, store: Any, states: Mapping[str, Any], now: float, lang: str = "ja",
                adhoc: Sequence[tuple[str, str, str, str, str]] = ()) -> dict[str, Any]:
    """The status document from a store (the daemon's own, or the file it writes); ``adhoc``: the maintenance
    windows added at run time (the alert store's ``maintenance()`` rows)."""
    return status_document(build_snapshot(inv, store, states, now, lang, adhoc))
