"""Gather what the map shows from the store, the alert states, analytics and the planner, then draw it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.inventory import Inventory


def write_current_map(inv: Inventory, out: Path, lang: str = "ja", tiles: str | None = None,
                      store: Any | None = None, offline: bool = True, tile_file: Path | None = None,
                      plan: Any | None = None) -> Path:
    """The coverage map from the store and ``plan`` (a PlanResult; default: the default budget's plan).

    Maps are always offline now (vendored scripts; ``offline`` is kept for callers); the background is
    ``tiles``, else the inventory's [map] tiles (default ``auto``: the tile archive when there is one).
    """
    from collector.alerts.store import AlertStore
    from collector.snapshot import read_snapshot
    from core.store.sqlite_store import SqliteStore
    from maps.coverage_map import ApMapStatus, plan_markers, snapshot_note, snapshot_statuses, write_map
    from maps.figures import availability_30d, usage_heat
    from maps.tiles import default_tile_file
    from wifiwatch.planning import plan_for

    path = Path(inv.store.path)
    own = store is None
    statuses: dict[str, ApMapStatus] = {}
    heat: list[tuple[float, float, float]] = []
    note: str | None = None
    if path.exists() or not own:
        store = store or SqliteStore(path, inv.store)
        alerts = AlertStore(path)
        try:
            now = time.time()
            snap = read_snapshot(inv, store, alerts, now, lang)
            statuses = snapshot_statuses(snap, availability_30d(inv, store, now), lang)
            note = snapshot_note(snap, lang)
            heat = usage_heat(inv, store, now)
        finally:
            alerts.close()
            if own:
                store.close()
    cands, info = plan_markers(plan if plan is not None else plan_for(inv, lang=lang))
    return write_map(out, inv, statuses, heat, cands, lang, tiles or inv.map.tiles, tile_file or default_tile_file(inv),
                     info, data_note=note)
