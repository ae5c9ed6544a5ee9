"""Real InfluxDB 1.6 and VictoriaMetrics servers for the store tests: loopback, free ports, data in tmp dirs.

``influxd`` is session-scoped and can be stopped/restarted (same ports and data) for outage tests;
``influx_db`` gives each test a fresh database. Skips only when a binary is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from wifiwatch.sim.process import stop_process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, ok: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=0.5).status_code == ok:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer {ok} within {timeout}s: {log.read_text()[-2000:]}")


@dataclass
class InfluxServer:
    """influxd 1.6 under test control."""

    root: Path
    port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ)
        env.update({
            "INFLUXDB_HTTP_BIND_ADDRESS": f"127.0.0.1:{self.port}",
            "INFLUXDB_BIND_ADDRESS": f"127.0.0.1:{self.rpc_port}",
            "INFLUXDB_DATA_DIR": str(self.root / "data"),
            "INFLUXDB_DATA_WAL_DIR": str(self.root / "wal"),
            "INFLUXDB_META_DIR": str(self.root / "meta"),
            "INFLUXDB_REPORTING_DISABLED": "true",
            "INFLUXDB_MONITOR_STORE_ENABLED": "false",
            "INFLUXDB_DATA_QUERY_LOG_ENABLED": "false",
            "INFLUXDB_HTTP_LOG_ENABLED": "false",
        })
        log = self.root / "influxd.log"
        self.proc = subprocess.Popen(["influxd", "run", "-config", "/dev/null"], env=env,
                                     stdout=log.open("ab"), stderr=subprocess.STDOUT)
        _wait(f"{self.url}/ping", 204, self.proc, log)

    def stop(self) -> None:
        stop_process(self.proc, 10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def query(self, q: str, db: str | None = None) -> dict:
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        r = httpx.post(f"{self.url}/query", data=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def create_db(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def count(self, db: str, measurement: str, fld: str) -> int:
        res = self.query(f'SELECT COUNT("{fld}") FROM "{measurement}"', db)["results"][0]
        series = res.get("series")
        return int(series[0]["values"][0][1]) if series else 0


@dataclass
class VictoriaServer:
    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.root / "vm.log"
        self.proc = subprocess.Popen(
            ["victoria-metrics", f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={self.root / 'data'}",
             "-retentionPeriod=100y"],
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )
        _wait(f"{self.url}/health", 200, self.proc, log)

    def stop(self) -> None:
        stop_process(self.proc, 10)
        self.proc = None

    def export(self, match: str) -> list[dict]:
        """Series matching ``match`` as VictoriaMetrics' JSON-lines export, after flushing recent writes."""
        import json

        httpx.get(f"{self.url}/internal/force_flush", timeout=10)
        r = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match, "start": "0"}, timeout=10)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.split("\n") if line.strip()]


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (apt-get install influxdb victoria-metrics)")


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    _need("influxd")
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def influx_db(influxd: InfluxServer) -> Iterator[str]:
    """A fresh, created database on the session influxd (restarted first if a test left it stopped)."""
    if influxd.proc is None or influxd.proc.poll() is not None:
        influxd.start()
    name = "t_" + uuid.uuid4().hex[:12]
    influxd.create_db(name)
    yield name
    if influxd.proc is not None and influxd.proc.poll() is None:
        influxd.query(f'DROP DATABASE "{name}"')


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaServer]:
    _need("victoria-metrics")
    server = VictoriaServer(tmp_path_factory.mktemp("victoria"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
