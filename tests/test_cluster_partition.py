"""A member cut off from Redis but not from the APs or its peers (issue 25 point 5): it must stop polling the APs
the others took over within one lease period, while Redis down for everyone keeps everyone polling (fail static,
tests/test_cluster.py). Two `wifiwatch run` processes on the simulated fleet; member B reaches Redis through a
loopback forwarder that the test cuts and mends."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomlkit

from collector.cluster.assignment import devices_by_member
from core.config import parse_config
from core.paths import known_vendors
from core.secrets import SecretResolver
from tests.fixtures_cluster import CutProxy, RedisServer, free_port, wait_for
from wifiwatch.sim.fleet import Fleet
from wifiwatch.sim.process import stop_process

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 3.0

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _health(url: str) -> dict[str, Any]:
    try:
        return dict(httpx.get(url + "/healthz", timeout=2).json())
    except (httpx.HTTPError, ValueError):
        return {}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.fixtures_sim import SAMPLE, SECRET_ENV, readdress

    tmp = tmp_path_factory.mktemp("partition")
    env = {**os.environ, **{k: secrets.token_hex(10) for k in SECRET_ENV}}
    saved = {k: os.environ.get(k) for k in SECRET_ENV}
    os.environ.update({k: env[k] for k in SECRET_ENV})
    doc = tomlkit.parse(readdress(SAMPLE.read_text(encoding="utf-8"), tmp))
    doc["defaults"].update({"heartbeat_s": 1.0, "interval_s": 3.0, "timeout_s": 0.3,  # type: ignore[union-attr]
                            "retries": 0})
    doc.pop("maintenance", None)
    base = tomlkit.dumps(doc)
    inv = parse_config(base, str(tmp / "base.toml"), known_vendors())
    fleet = Fleet(inv, SecretResolver(), tmp / "sim")
    redis_server = RedisServer(tmp)
    procs: list[subprocess.Popen[bytes]] = []
    proxy: CutProxy | None = None
    try:
        fleet.start()
        redis_server.start()
        proxy = CutProxy(redis_server.port)
        names = next([f"wwp{i}-a", f"wwp{i}-b"] for i in range(500)
                     if all(devices_by_member(inv, [f"wwp{i}-a", f"wwp{i}-b"]).values()))
        urls = {}
        for name, redis_url in ((names[0], redis_server.url), (names[1], proxy.url)):
            d = tomlkit.parse(base)
            port = free_port()
            d["store"]["path"] = str(tmp / f"{name}.sqlite3")  # type: ignore[index]
            d["http"].update({"bind": "127.0.0.1", "port": port})  # type: ignore[union-attr]
            d["console"] = {"enabled": False}
            d["cluster"] = {"redis": redis_url, "name": name, "lease_s": LEASE_S}
            cfg = tmp / f"{name}.toml"
            cfg.write_text(tomlkit.dumps(d), encoding="utf-8")
            urls[name] = f"http://127.0.0.1:{port}"
            procs.append(subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run",
                                           "--config", str(cfg)], stdout=(tmp / f"{name}.log").open("ab"),
                                          stderr=subprocess.STDOUT, env=env, cwd=ROOT))
        share = {n: len(d) for n, d in devices_by_member(inv, names).items()}
        yield {"a": urls[names[0]], "b": urls[names[1]], "share": share, "names": names, "proxy": proxy,
               "total": sum(share.values()), "logs": lambda: "\n".join(
                   (tmp / f"{n}.log").read_text(errors="replace")[-2000:] for n in names)}
    finally:
        for p in procs:
            stop_process(p, 10)
        if proxy is not None:
            proxy.close()
        redis_server.stop()
        fleet.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_partitioned_member_stops_polling_what_the_others_took(pair: dict[str, Any]) -> None:
    a, b, names = pair["a"], pair["b"], pair["names"]

    def polled() -> tuple[int, int]:
        return int(_health(a).get("devices", -1)), int(_health(b).get("devices", -1))

    want = (pair["share"][names[0]], pair["share"][names[1]])
    assert wait_for(lambda: polled() == want, 40, 0.3), (polled(), want, pair["logs"]())
    cut_at = time.monotonic()
    pair["proxy"].cut()
    # B is counted lost after 2/3 of a lease and notices as soon; A takes every device, B polls none and says why
    # (a bound of a few leases: the machine running the suite may be loaded; bench_cluster measures the time)
    assert wait_for(lambda: polled() == (pair["total"], 0), LEASE_S * 4, 0.2), (polled(), pair["logs"]())
    print(f"partition handled in {time.monotonic() - cut_at:.1f} s (lease {LEASE_S} s)")
    reason = _health(b).get("failing", {}).get("cluster", "")
    assert "cut off from Redis" in reason, reason
    assert "cluster" not in _health(a).get("failing", {})
    pair["proxy"].mend()
    assert wait_for(lambda: polled() == want, LEASE_S * 4, 0.2), (polled(), pair["logs"]())
    assert "cluster" not in _health(b).get("failing", {})
