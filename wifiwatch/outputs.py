"""What the demo (and an operator) writes to a folder: the current status and the incident history.

Reads only the embedded store and the alert tables, so it works after the daemon has stopped.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.escape import spreadsheet_row
from core.inventory import Inventory


@dataclass(frozen=True)
class StatusRow:
    site: str
    site_name: str
    ap: str
    ap_name: str
    role: str
    state: str
    last_seen: float | None
    reachable: bool | None
    snmp_ok: bool | None
    rtt_ms: float | None
    clients: int | None
    vendor: str | None
    since: float | None = None
    last_heartbeat: float | None = None
    stale: bool = False
    reason: str = ""  # core.state reasons, comma-separated (maintenance:<id>, behind_uplink, stale, ...)
    age_s: float | None = None  # age of the newest heartbeat


def rows_of(doc: dict[str, Any]) -> list[StatusRow]:
    """The devices of a :func:`collector.snapshot.status_document` as rows (last seen: the last heartbeat,
    when it was answered)."""
    return [StatusRow(d["site"], d["site_name"], d["device"], d["name"], d["role"], d["state"],
                      d["last_heartbeat_ts"] if d["reachable"] else None, d["reachable"], d["snmp_ok"], d["rtt_ms"],
                      d["clients"], d["vendor"], d["since_ts"], d["last_heartbeat_ts"], d["stale"],
                      ",".join(d.get("reasons", ())), d.get("age_s"))
            for d in doc["devices"]]


def current_status(inv: Inventory, store: Any, alert_states: dict[str, Any], lang: str = "ja",
                   adhoc: Sequence[tuple[str, str, str, str, str]] = ()) -> list[StatusRow]:
    """Per device: the state every view shows (collector.snapshot) and the latest measurements."""
    from collector.status import read_status

    return rows_of(read_status(inv, store, alert_states, time.time(), lang, adhoc))


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel on Japanese Windows reads UTF-8
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(spreadsheet_row(r) for r in rows)


def write_outputs(inv: Inventory, out: Path, lang: str = "ja") -> list[tuple[str, Path]]:
    """Status and incidents as CSV and JSON; returns (label, path) pairs for the caller to print."""
    from collector.alerts.engine import fmt_duration, fmt_time
    from collector.alerts.store import AlertStore
    from core.store.sqlite_store import SqliteStore

    out.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(Path(inv.store.path), inv.store)
    alerts = AlertStore(Path(inv.store.path))
    written: list[tuple[str, Path]] = []
    try:
        rows = current_status(inv, store, alerts.load_states(), lang, alerts.maintenance())
        header = ["site", "site_name", "ap", "ap_name", "role", "state", "last_seen_jst", "reachable", "snmp_ok",
                  "rtt_ms", "clients", "vendor", "reason", "data_age_s"]
        _write_csv(out / "status.csv", header, [
            [r.site, r.site_name, r.ap, r.ap_name, r.role, r.state, fmt_time(r.last_seen), r.reachable, r.snmp_ok,
             None if r.rtt_ms is None else round(r.rtt_ms, 2), r.clients, r.vendor, r.reason,
             None if r.age_s is None else round(r.age_s)] for r in rows])
        written.append(("status (CSV)", out / "status.csv"))
        incidents = alerts.incidents()
        _write_csv(out / "incidents.csv",
                   ["id", "site", "device", "kind", "start_jst", "end_jst", "duration", "duration_s", "cause",
                    "notified", "suppressed_by"],
                   [[i.id, i.site, i.device, i.kind, fmt_time(i.start), fmt_time(i.end) if i.end else "",
                     fmt_duration(i.duration_s, lang) if i.duration_s is not None else "", i.duration_s, i.cause,
                     i.notified, i.suppressed_by or ""] for i in incidents])
        written.append(("incidents (CSV)", out / "incidents.csv"))
        (out / "status.json").write_text(json.dumps(
            {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "devices": [r.__dict__ for r in rows],
             "incidents": [i.__dict__ for i in incidents]}, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(("status and incidents (JSON)", out / "status.json"))
    finally:
        store.close()
        alerts.close()
    written += write_ranking(inv, out, lang)
    return written


def write_ranking(inv: Inventory, out: Path, lang: str) -> list[tuple[str, Path]]:
    from wifiwatch.planning import plan_for

    result = plan_for(inv, lang=lang)
    data = result.to_json()
    (out / "ranking.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    cols = ["rank", "id", "name_ja", "name_en", "selected", "round", "score", "newly_covered_visitors",
            "distance_to_nearest_ap_m", "cost_yen", "stable", "rationale"]
    _write_csv(out / "ranking.csv", cols, [[c[k] for k in cols] for c in data["candidates"]])
    return [("candidate ranking (JSON)", out / "ranking.json"), ("candidate ranking (CSV)", out / "ranking.csv")]



def status_table(rows: list[StatusRow], title: str, lang: str = "ja") -> Any:
    """Names come from the config and are printed as written (never read as rich markup)."""
    from rich.table import Table
    from rich.text import Text

    from collector.alerts.engine import fmt_time
    from core import state as st
    from wifiwatch.labels import labels

    table = Table(title=Text(title))
    for col in labels(("site", "ap", "state", "reason", "since", "last_heartbeat", "clients", "rtt_ms", "vendor"),
                      lang):
        table.add_column(col, no_wrap=True)
    for r in rows:
        reason = ", ".join(st.reason_label(x, lang) for x in r.reason.split(",") if x)
        beat = fmt_time(r.last_heartbeat) + (f" ({st.age_text(r.age_s, lang)})" if r.age_s is not None else "")
        table.add_row(Text(r.site_name), Text(r.ap_name), Text(st.label(r.state, lang),
                                                                style=st.TERM_COLORS.get(r.state, "white")),
                      Text(reason or "-"), fmt_time(r.since), beat,
                      "-" if r.clients is None else str(r.clients), "-" if r.rtt_ms is None else f"{r.rtt_ms:.1f}",
                      Text(r.vendor or "-"))
    return table
