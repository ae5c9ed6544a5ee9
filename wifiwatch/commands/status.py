"""``wifiwatch status``: the daemon's current view of every AP, read from its store file, without polling."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from wifiwatch.common import ConfigOpt, UserError, console, err, load_inventory, resolver_for
from wifiwatch.labels import check_lang, label


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        config: ConfigOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="table or json (the daemon's /status document)")] = "table",
        lang: Annotated[str, typer.Option("--lang", help="ja or en")] = "ja",
    ) -> None:
        """Every AP's state as the daemon last saw it (state and why, since when, last heartbeat and its age,
        clients); says so when the data is old (the daemon stopped)."""
        from collector.alerts.store import AlertStore
        from collector.status import read_status
        from core import state as st
        from core.store.sqlite_store import SqliteStore
        from wifiwatch.outputs import rows_of, status_table

        if fmt not in ("table", "json"):
            raise UserError(f"--format: '{fmt}' is not one of table, json")
        check_lang(lang)
        inv = load_inventory(config)
        path = Path(inv.store.path)
        if not path.exists():
            raise UserError(f"no store at {path} yet: the daemon (wifiwatch run) creates it and records what it sees")
        store, alerts = SqliteStore(path, inv.store, reserve_bytes=0), AlertStore(path)
        try:
            if inv.cluster.redis is not None:  # a member of a group: every AP of the group (collector/cluster)
                doc = _group_status(inv, config, store, alerts, lang)
            else:
                doc = read_status(inv, store, alerts.load_states(), time.time(), lang, alerts.maintenance())
        finally:
            store.close()
            alerts.close()
        if fmt == "json":
            console.print_json(json.dumps(doc, ensure_ascii=False))
            return
        city = inv.city_ja if lang == "ja" else inv.city_en
        console.print(status_table(rows_of(doc), f"{city}: {label('title_status', lang)}", lang))
        counts = ", ".join(f"{label(k, lang)} {v}" for k, v in doc["counts"].items() if v)
        uplinks = ", ".join(f"{label(k, lang)} {v}" for k, v in doc["uplinks"].items() if v)
        line = ("AP: " + (counts or "-")) + (f" / {label('uplink', lang)}: {uplinks}" if uplinks else "")
        console.print(line, highlight=False, markup=False)
        age = doc["data_age_s"]
        taken = ("データ取得" if lang == "ja" else "data taken") + f" {doc['data_at'] or '-'}" + (
            f" ({st.age_text(age, lang)})" if age is not None else "")
        if doc["monitor"] != "live":
            console.print(f"{st.monitor_label(doc['monitor'], lang)} · {taken}", style="bold", highlight=False,
                          markup=False)
        else:
            console.print(taken, highlight=False, markup=False)


GROUP_NOTE = {
    "influxdb": ("グループ全体: 測定値は共有ストア (InfluxDB)、状態は Redis の共有状態から",
                 "the whole group: measurements from the shared store (InfluxDB), states from Redis"),
    "local": ("グループ全体の状態は Redis から。測定値はこのメンバーのストアのみ "
              "([influxdb] がないため、他のメンバーの AP は測定値なし)",
              "states of the whole group from Redis; measurements from this member's store only "
              "(no [influxdb]: other members' APs show no measurements)"),
}


def _group_status(inv: Any, config: Any, store: Any, alerts: Any, lang: str) -> dict[str, Any]:
    from collector.cluster.view import group_states, shared_reader
    from collector.status import read_status
    from core.store.influxql import InfluxQLError

    resolver = resolver_for(inv, config)
    states, problem = group_states(inv, resolver, alerts.load_states())
    reader, source = shared_reader(inv, resolver), "influxdb"
    if reader is None:
        reader, source = store, "local"
    try:
        doc = read_status(inv, reader, states, time.time(), lang, alerts.maintenance())
    except InfluxQLError as e:
        problem = f"{problem + '; ' if problem else ''}{e}; measurements from this member's store only"
        doc, source = read_status(inv, store, states, time.time(), lang, alerts.maintenance()), "local"
    note = GROUP_NOTE[source][0 if lang == "ja" else 1]
    doc["cluster"] = {"member": inv.cluster.member, "source": source, "note": note, "problem": problem}
    err.print(note + (f" ({problem})" if problem else ""), highlight=False, markup=False)
    return doc
