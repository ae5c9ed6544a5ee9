"""Every dashboard query, variable query and annotation, run against a real influxd 1.6 holding what the
real daemon wrote while polling the simulated fleet (with one AP unplugged), after substituting the
template variables and macros the way Grafana's InfluxDB datasource does."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import dashboards
from collector.icmp import raw_sockets_permitted
from core.schema import MEASUREMENTS
from core.secrets import SecretResolver
from core.store import Forwarder, SqliteStore
from core.store.influx_v1 import InfluxV1Sink
from tests.fixtures_influx import InfluxServer
from tests.test_daemon import fast_config
from wifiwatch.commands.collect import build_daemon
from wifiwatch.grafana.dashboards import build_all

DOWN_AP = "omachi-2"


def escape_regex(value: str) -> str:
    """@grafana/data escapeRegex: what the InfluxDB datasource applies to multi-value/All variables."""
    return re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\1", value)


def interpolate(query: str, variables: dict[str, tuple[list[str], bool]], frm_ms: int, to_ms: int,
                interval: str) -> str:
    """Grafana's substitution: macros first, then ``$name`` / ``${name}`` (longest names first).

    ``variables`` maps name -> (selected values, multi-or-includeAll). Like the InfluxDB datasource,
    a multi/All variable is regex-escaped and several values become ``(a|b)``; a single-select one is
    inserted as is.
    """
    q = query.replace("$timeFilter", f"time >= {frm_ms}ms and time <= {to_ms}ms")
    q = q.replace("$__interval", interval).replace("$interval", interval)
    for name in sorted(variables, key=len, reverse=True):
        values, multi = variables[name]
        if multi:
            esc = [escape_regex(v) for v in values]
            text = esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"
        else:
            text = values[0]
        q = q.replace("${" + name + "}", text).replace("$" + name, text)
    assert not re.search(r"\$\{?[A-Za-z_]", q), f"unsubstituted variable or macro in {q}"
    return q


def rows(server: InfluxServer, db: str, q: str) -> list[list[Any]]:
    res = server.query(q, db)["results"][0]
    assert "error" not in res, f"{q}\n-> {res['error']}"
    return [v for s in res.get("series", []) for v in s["values"]]


def min_interval() -> str:
    """The datasource's minimum interval from the provisioning file, as Grafana applies it to $__interval."""
    ds = yaml.safe_load((dashboards.PROVISIONING / "datasources" / "wifiwatch.yaml").read_text(encoding="utf-8"))
    return str(ds["datasources"][0]["jsonData"]["timeInterval"])


def identifiers_known(query: str) -> list[str]:
    """Double-quoted identifiers that are neither in core.schema nor aliases defined by the query."""
    known = set(MEASUREMENTS) | {n for tags, fields in MEASUREMENTS.values() for n in (*tags, *fields)}
    aliases = set(re.findall(r'AS "([^"]+)"', query))
    return [i for i in re.findall(r'"([^"]+)"', query) if i not in known | aliases]


@pytest.fixture
def fleet_in_influx(sim_fleet, influxd: InfluxServer, influx_db: str) -> tuple[InfluxServer, str, int, int]:  # type: ignore[no-untyped-def]
    """Run the real daemon (store + alerts + forwarder to influxd) ~11 s against the Kashima sim fleet."""
    h = sim_fleet(fast_config(f'\n[influxdb]\nurl = "{influxd.url}"\napi = "v1"\ndatabase = "{influx_db}"\n'))
    t0 = time.time_ns()

    def unplug() -> None:
        time.sleep(4.5)  # after two polls, so omachi-2 has traffic rates too
        h.fleet.down(DOWN_AP)

    threading.Thread(target=unplug, daemon=True).start()
    daemon = build_daemon(h.inventory, h.config_path, SecretResolver(), duration=11.0, http=False)
    assert daemon.run() == 0
    # what the forwarder had not sent yet when the daemon stopped
    store = SqliteStore(Path(h.inventory.store.path), h.inventory.store)
    r = Forwarder(store, InfluxV1Sink(influxd.url, influx_db)).drain()
    assert r.error is None and store.backlog() == 0
    store.close()
    assert influxd.count(influx_db, "ap_event", "state") >= 1, "the unplugged AP must have raised an alert"
    return influxd, influx_db, t0 // 10**6 - 1000, time.time_ns() // 10**6 + 1000


@pytest.mark.slow
@pytest.mark.skipif(not raw_sockets_permitted(), reason="unplugging an AP needs nftables (root)")
def test_every_panel_variable_and_annotation_query_returns_rows(fleet_in_influx) -> None:  # type: ignore[no-untyped-def]
    server, db, frm, to = fleet_in_influx
    interval = min_interval()
    problems: list[str] = []
    checked = 0
    for name, dash in build_all().items():
        if name == "visitors.json":  # visitor sessions, not polls: tests/test_visitors_report.py runs its queries
            continue
        # the variables first, in order, each query seeing the values chosen before it (Grafana's chaining)
        chosen: dict[str, tuple[list[str], bool]] = {}
        for var in dash["templating"]["list"]:
            got = [str(r[-1]) for r in rows(server, db, interpolate(var["query"], chosen, frm, to, interval))]
            checked += 1
            if not got:
                problems.append(f"{name}: variable ${var['name']}: no values")
                continue
            multi = bool(var["multi"] or var["includeAll"])
            # "All" where the variable allows it, else the site / AP with the outage
            pick = got if multi else ["omachi" if var["name"] == "site" else DOWN_AP]
            assert set(pick) <= set(got), (name, var["name"], pick, got)
            chosen[var["name"]] = (pick, multi)
        queries = [(f"panel {p['id']} {p['title']} {t['refId']}", t["query"]) for p in dash["panels"]
                   for t in p["targets"]]
        queries += [(f"annotation {a['name']}", a["target"]["query"]) for a in dash["annotations"]["list"]]
        for label, query in queries:
            checked += 1
            unknown = identifiers_known(query)
            if unknown:
                problems.append(f"{name}: {label}: not in core/schema.py: {unknown}")
            found = rows(server, db, interpolate(query, chosen, frm, to, interval))
            if not found:
                problems.append(f"{name}: {label}: no rows for {interpolate(query, chosen, frm, to, interval)}")
    assert not problems, "\n".join(problems)
    assert checked >= 30

    # the outage shows where the dashboards say it does, and nowhere else
    fleet = build_all()["fleet-overview.json"]
    everything = {"site": (["omachi", "chuo-kominkan"], True)}
    panels = {p["id"]: p["targets"][0]["query"] for p in fleet["panels"]}
    down = rows(server, db, interpolate(panels[2], everything, frm, to, interval))
    up = rows(server, db, interpolate(panels[1], everything, frm, to, interval))
    assert [r[1] for r in down] == [1] and [r[1] for r in up] == [3]  # 4 APs, omachi-2 unplugged
    outages = rows(server, db, interpolate(panels[5], everything, frm, to, interval))
    assert [r[3] for r in outages] == [DOWN_AP]
    # every device on the map has a location in the gazetteer the Geomap panel looks it up in
    keys = {g["key"] for g in json.loads(dashboards.GAZETTEER.read_text(encoding="utf-8"))}
    res = server.query(interpolate(panels[7], everything, frm, to, interval), db)["results"][0]
    assert {s["tags"]["ap"] for s in res["series"]} <= keys and len(res["series"]) == 5


def test_interpolation_follows_grafana_rules() -> None:
    q = 'SELECT 1 FROM "m" WHERE $timeFilter AND "site" =~ /^$site$/ AND "ap" =~ /^$ap$/ GROUP BY time($__interval)'
    out = interpolate(q, {"site": (["a.b", "c-d"], True), "ap": (["x/y"], False)}, 1000, 2000, "10s")
    assert out == ('SELECT 1 FROM "m" WHERE time >= 1000ms and time <= 2000ms AND "site" =~ /^(a\\.b|c-d)$/ '
                   'AND "ap" =~ /^x/y$/ GROUP BY time(10s)')
    assert identifiers_known('SELECT mean("clients") AS "n", "bogus" FROM "ap_status"') == ["bogus"]
