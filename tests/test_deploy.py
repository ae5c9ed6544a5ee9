"""Deployment files, checked by parsing them (Docker cannot pull images on the development machines):
docker-compose.yml services, mounts and secrets; the Dockerfile's hardening; packaging of dashboards/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from wifiwatch.grafana.dashboards import DATASOURCE_UID, FOLDER_UID, GAZETTEER_PATH

ROOT = Path(__file__).resolve().parent.parent
SECRETISH = re.compile(r"PASSWORD|TOKEN|KEY|SECRET|COMMUNITY")
REF = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / "deploy" / "wifiwatch.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


def binds(service: dict[str, Any]) -> dict[str, str]:
    """container path -> host path of the service's bind mounts (named volumes have no ./ prefix)."""
    out = {}
    for v in service.get("volumes", []):
        src, dst = v.split(":")[:2]
        if src.startswith("./"):
            out[dst] = src
    return out


def test_compose_services_images_and_mounts() -> None:
    c = compose()
    svc = c["services"]
    assert set(svc) == {"influxdb", "grafana", "wifiwatch"}
    assert re.fullmatch(r"influxdb:2\.\d+", svc["influxdb"]["image"])
    assert svc["grafana"]["image"].startswith("grafana/grafana")
    assert svc["wifiwatch"]["build"] == "."
    # InfluxDB: first-run setup plus the init step that makes InfluxQL work (DBRP) and the v1 users
    influx = binds(svc["influxdb"])
    init = ROOT / influx["/docker-entrypoint-initdb.d"]
    script = (init / "wifiwatch-v1.sh").read_text(encoding="utf-8")
    assert "influx v1 dbrp create" in script and script.count("influx v1 auth create") == 2
    assert os.access(init / "wifiwatch-v1.sh", os.X_OK)
    assert svc["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert any(v.startswith("influxdb-data:") for v in svc["influxdb"]["volumes"])
    # Grafana: provisioning files, dashboards where the provider looks, gazetteer where the map panel looks
    g = binds(svc["grafana"])
    assert g["/etc/grafana/provisioning/datasources"] == "./dashboards/provisioning/datasources"
    assert g["/etc/grafana/provisioning/dashboards"] == "./dashboards/provisioning/dashboards"
    provider = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/wifiwatch.yaml").read_text("utf-8"))
    (prov,) = provider["providers"]
    assert g[prov["options"]["path"]] == "./dashboards/json" and prov["folderUid"] == FOLDER_UID
    assert g["/usr/share/grafana/" + GAZETTEER_PATH] == "./dashboards/gazetteer/wifiwatch-aps.json"
    for service in svc.values():
        for container, host in binds(service).items():
            if host not in ("./backups/influxdb", "./deploy/config"):  # created by the operator
                assert (ROOT / host).exists(), f"{host} mounted at {container} does not exist"
    # the datasource file's ${VARS} are all given to Grafana
    ds_text = (ROOT / "dashboards/provisioning/datasources/wifiwatch.yaml").read_text(encoding="utf-8")
    (ds,) = yaml.safe_load(ds_text)["datasources"]
    assert ds["uid"] == DATASOURCE_UID and ds["type"] == "influxdb"
    assert set(REF.findall(ds_text)) <= set(svc["grafana"]["environment"])
    # nothing but Grafana's UI and InfluxDB's API is published, and only on the host's loopback
    for service in svc.values():
        assert all(p.startswith("127.0.0.1:") for p in service.get("ports", []))


def test_no_secret_value_is_inline_and_every_reference_is_documented() -> None:
    c = compose()
    example = env_example()
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for name, service in c["services"].items():
        assert "env_file" not in service or all("example" not in f for f in service["env_file"])
        for key, value in (service.get("environment") or {}).items():
            if SECRETISH.search(key):
                assert REF.fullmatch(str(value)), f"{name}.{key} must be a ${{VAR}} reference, not a value"
    for var in REF.findall(text):
        assert var in example, f"${{{var}}} is used in docker-compose.yml but not in wifiwatch.env.example"
    for key, value in example.items():
        if SECRETISH.search(key) and key != "DOCKER_INFLUXDB_INIT_MODE":
            assert value.startswith("CHANGE_ME"), f"{key} in the example must be a placeholder"
            assert value not in text
    ds = (ROOT / "dashboards/provisioning/datasources/wifiwatch.yaml").read_text(encoding="utf-8")
    assert all(REF.fullmatch(str(v)) for v in yaml.safe_load(ds)["datasources"][0]["secureJsonData"].values())
    assert "deploy/wifiwatch.env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_wifiwatch_container_gets_net_raw_only_and_a_writable_data_volume() -> None:
    w = compose()["services"]["wifiwatch"]
    assert w["cap_drop"] == ["ALL"] and w["cap_add"] == ["NET_RAW"]
    assert not w.get("privileged") and "no-new-privileges:true" not in w.get("security_opt", [])
    assert w["read_only"] is True and any(v.startswith("wifiwatch-data:/var/lib/wifiwatch") for v in w["volumes"])
    assert binds(w)["/etc/wifiwatch"] == "./deploy/config" and w["volumes"][-1].endswith(":ro")


def test_dockerfile_is_slim_non_root_with_healthcheck_and_dashboards() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    hc = re.search(r"^HEALTHCHECK .*", text, re.M)
    assert hc and "/healthz" in hc.group(0)
    assert re.search(r"^COPY dashboards ", text, re.M)
    assert "cap_net_raw+ep" in text and "|| true" not in text


@pytest.mark.slow
def test_installed_package_carries_the_dashboards(tmp_path: Path) -> None:
    """setuptools' build of a clean copy puts dashboards/ (json, gazetteer, provisioning) into the package."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for d in ("core", "collector", "analytics", "maps", "wifiwatch", "dashboards"):
        shutil.copytree(ROOT / d, src / d, ignore=ignore)
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    lib = tmp_path / "lib"
    code = f"import sys; sys.argv = ['setup.py', '-q', 'build_py', '--build-lib', {str(lib)!r}]; " \
           "from setuptools import setup; setup()"
    subprocess.run([sys.executable, "-c", code], cwd=src, check=True, capture_output=True, timeout=120)
    built = sorted(str(p.relative_to(lib)) for p in (lib / "dashboards").rglob("*") if p.is_file())
    assert built == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "dashboards").rglob("*")
                           if p.is_file() and "__pycache__" not in p.parts)
    probe = ("import dashboards; from wifiwatch.grafana.push import load_dashboards; "
             "print(dashboards.DIR, len(load_dashboards(dashboards.JSON_DIR)))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(lib)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(lib / "dashboards"), str(len(list((ROOT / "dashboards" / "json").glob("*.json"))))]
