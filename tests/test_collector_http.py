"""The daemon's /healthz and /metrics over real HTTP on loopback; a token guards it when configured."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from collector import metrics
from collector.http import StatusServer
from core.inventory import HttpSettings


@pytest.fixture
def server():
    state = {"ok": True}
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": state["ok"], "devices": 4})
    srv.start()
    yield srv, state
    srv.stop()


def test_healthz_reflects_health(server) -> None:
    srv, state = server
    r = httpx.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"ok": True, "devices": 4}
    state["ok"] = False
    assert httpx.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=5).status_code == 503


def test_metrics_exposes_counters(server) -> None:
    srv, _ = server
    metrics.POLL_ERRORS.labels("ap-metrics-test", "timeout").inc()
    body = httpx.get(f"http://127.0.0.1:{srv.port}/metrics", timeout=5).text
    assert 'wifiwatch_poll_errors_total{ap="ap-metrics-test",kind="timeout"} 1.0' in body
    assert "wifiwatch_poll_cycle_seconds_bucket" in body
    assert httpx.get(f"http://127.0.0.1:{srv.port}/nope", timeout=5).status_code == 404


def test_token_required_when_set() -> None:
    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, token="s3cret-token-value")
    srv.start()
    try:
        url = f"http://127.0.0.1:{srv.port}/healthz"
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer s3cret-token-value"}, timeout=5).status_code == 200
    finally:
        srv.stop()


def test_binding_off_loopback_needs_a_token() -> None:
    with pytest.raises(ValidationError, match="requires 'token'"):
        HttpSettings(bind="0.0.0.0")
    assert HttpSettings(bind="0.0.0.0", token="env:WW_HTTP_TOKEN").token == "env:WW_HTTP_TOKEN"
