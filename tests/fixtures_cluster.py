"""A redis-server for the collector group tests (tests/test_cluster*.py): loopback, a free port, a temp dir."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wifiwatch.sim.process import stop_process


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, timeout: float, step: float = 0.2) -> Any:
    end = time.time() + timeout
    while True:
        got = check()
        if got or time.time() > end:
            return got
        time.sleep(step)


class RedisServer:
    """redis-server on a free loopback port in a temp dir, with no persistence (it cannot take port 0)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)], stdout=(self.tmp / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        assert wait_for(self.answers, 10, 0.05), (self.tmp / "redis.log").read_text()

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        stop_process(self.proc, 5)
        self.proc = None



@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
