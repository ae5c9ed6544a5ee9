"""Fixtures for a simulated fleet: real snmpsim agents on fresh loopback addresses and free ports."""

from __future__ import annotations

import random
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from core.config import parse_config
from core.inventory import Inventory
from core.paths import known_vendors
from core.secrets import SecretResolver
from wifiwatch.sim.fleet import Fleet

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "config" / "sites.toml"
SECRET_ENV = ("WIFIWATCH_SNMP_AUTH_KEY", "WIFIWATCH_SNMP_PRIV_KEY", "WIFIWATCH_SNMP_COMMUNITY")


@dataclass
class SimHandle:
    inventory: Inventory
    config_path: Path
    fleet: Fleet
    env: dict[str, str]


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def readdress(text: str, tmp: Path, store_path: Path | None = None) -> str:
    """Move every device onto its own fresh 127.x.y.z address and a free port; store and HTTP into tmp."""
    doc = tomlkit.parse(text)
    block = (random.randint(64, 250), random.randint(0, 250))
    n = 0

    def place(dev: dict) -> None:  # type: ignore[type-arg]
        nonlocal n
        n += 1
        host = f"127.{block[0]}.{block[1]}.{n}"
        dev["host"] = host
        dev["port"] = _free_udp_port(host)

    for site in doc.get("sites", []):
        if "uplink" in site:
            place(site["uplink"])
        for ap in site.get("aps", []):
            place(ap)
    doc.setdefault("store", tomlkit.table())["path"] = str(store_path or tmp / "store.sqlite3")  # type: ignore[index]
    doc.setdefault("http", tomlkit.table())["port"] = 0  # type: ignore[index]
    return tomlkit.dumps(doc)


@pytest.fixture
def sim_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SimHandle]]:
    """``make(config_text=None)`` starts the fleet for that config (default: the Kashima sample)."""
    started: list[Fleet] = []
    env = {k: secrets.token_hex(10) for k in SECRET_ENV}
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    def make(config_text: str | None = None, name: str = "sites") -> SimHandle:
        text = readdress(config_text if config_text is not None else SAMPLE.read_text(encoding="utf-8"), tmp_path)
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        inv = parse_config(text, str(path), known_vendors())
        fleet = Fleet(inv, SecretResolver(), tmp_path / f"sim-{name}")
        started.append(fleet)
        fleet.start()
        return SimHandle(inv, path, fleet, env)

    yield make
    for f in started:
        f.stop()


@pytest.fixture
def kashima_fleet(sim_fleet: Callable[..., SimHandle]) -> SimHandle:
    return sim_fleet()
