"""The committed dashboards are what the generator builds, and their structure is what Grafana needs."""

from __future__ import annotations

import json

import dashboards
from core.config import load_config
from core.paths import known_vendors
from tests.fixtures_sim import SAMPLE
from wifiwatch.grafana.dashboards import DATASOURCE_UID, build_all, gazetteer


def test_committed_json_is_current() -> None:
    built = build_all()
    committed = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in dashboards.JSON_DIR.glob("*.json")}
    assert committed == built, "run: wifiwatch grafana build --out dashboards"
    inv = load_config(SAMPLE, known_vendors())
    assert json.loads(dashboards.GAZETTEER.read_text(encoding="utf-8")) == gazetteer(inv)


def test_structure_uids_datasources_and_variables() -> None:
    built = build_all()
    uids = [d["uid"] for d in built.values()]
    assert len(set(uids)) == 4 and all(u.startswith("wifiwatch-") for u in uids)
    for d in built.values():
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))
        for p in d["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24 and p["targets"]
            assert all(t["datasource"]["uid"] == DATASOURCE_UID and t["rawQuery"] for t in p["targets"])
            assert all("Flux" not in t["query"] and t["query"].startswith("SELECT") for t in p["targets"])
        names = [v["name"] for v in d["templating"]["list"]]
        assert names[0] == "site" and set(names) <= {"site", "ap"}
        used = json.dumps([d["panels"], [v["query"] for v in d["templating"]["list"]]])
        assert all(f"${n}" in used for n in names), "every variable filters a panel or another variable"
    kinds = {p["type"] for d in built.values() for p in d["panels"]}
    assert {"geomap", "stat", "timeseries", "table"} <= kinds


def test_gazetteer_places_every_device_of_the_sample() -> None:
    inv = load_config(SAMPLE, known_vendors())
    g = {e["key"]: e for e in gazetteer(inv)}
    devices = {ap.id for _, ap in inv.aps()} | {s.uplink.id for s in inv.sites if s.uplink}
    assert set(g) == devices
    kominkan = inv.site("chuo-kominkan")  # its AP has no coordinates of its own: placed at the site
    assert (g["kominkan-1"]["latitude"], g["kominkan-1"]["longitude"]) == (kominkan.lat, kominkan.lon)
