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


# -- binds are parsed (core/netbind.py), not matched by prefix -------------------------------------------
def test_ipv6_loopback_is_served() -> None:
    """``::1`` passes check-config, so the server must listen on it (the IPv4-only server raised here)."""
    assert HttpSettings(bind="::1").token is None
    srv = StatusServer("::1", 0, lambda: {"ok": True})
    srv.start()
    try:
        r = httpx.get(f"http://[::1]:{srv.port}/healthz", timeout=5)
        assert r.status_code == 200 and r.json() == {"ok": True}
    finally:
        srv.stop()


@pytest.mark.parametrize("bind", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"])
def test_loopback_binds_need_no_token(bind: str) -> None:
    assert HttpSettings(bind=bind).bind == bind


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "192.0.2.10", "fe80::1", "::ffff:192.0.2.1",
                                  "127.0.0.1.nip.io", "127.example.invalid"])
def test_non_loopback_binds_need_a_token(bind: str) -> None:
    with pytest.raises(ValidationError, match="token"):
        HttpSettings(bind=bind)
    assert HttpSettings(bind="0.0.0.0", token="env:WW_HTTP_TOKEN").bind == "0.0.0.0"


def test_a_name_that_resolves_to_loopback_is_still_not_loopback() -> None:
    """DNS decides what 127.0.0.1.nip.io is; only localhost (RFC 6761) is trusted, and only if it resolves so."""
    from core.netbind import check_bind, parse_bind

    def to_loopback(host: str) -> list[str]:
        return ["127.0.0.1"]

    def localhost_off_box(host: str) -> list[str]:
        return ["127.0.0.1", "192.0.2.7"]

    assert parse_bind("127.0.0.1.nip.io", to_loopback).loopback is False
    assert "requires 'token'" in (check_bind("127.0.0.1.nip.io", False, to_loopback) or "")
    assert check_bind("127.0.0.1.nip.io", True, to_loopback) is None
    assert parse_bind("localhost", localhost_off_box).loopback is False
    assert parse_bind("localhost", localhost_off_box).listen_host == "127.0.0.1"


def test_check_config_names_the_bind_line(tmp_path) -> None:
    from core.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"<c>:1: http: .*nip\.io.*requires 'token'"):
        parse_config('[http]\nbind = "127.0.0.1.nip.io"\n', "<c>")


def test_slow_clients_are_cut_off_and_do_not_starve_the_endpoint() -> None:
    """Clients that send half a request head and stall (slowloris) hold no thread each, /healthz still answers,
    and each is closed once its head is overdue (the former thread-per-connection server kept them forever)."""
    import socket
    import time

    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, header_timeout_s=1.0)
    srv.start()
    stalled = []
    try:
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5,  # 4 clients: each within its share
                                         source_address=(f"127.0.3.{len(stalled) % 4 + 1}", 0))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            stalled.append(s)
        t0 = time.perf_counter()
        with httpx.Client(timeout=10) as c:  # a keep-alive client making requests more than 1 s apart is fine
            assert c.get(f"http://127.0.0.1:{srv.port}/healthz").status_code == 200
            assert time.perf_counter() - t0 < 5
        for s in stalled:
            s.settimeout(5)
            assert s.recv(100) == b""  # closed by the server
    finally:
        for s in stalled:
            s.close()
        srv.stop()


def test_accepted_connections_send_without_nagle(server) -> None:
    """Issue 23.6: a listening socket made with protocol 0 left Nagle on for every accepted connection (asyncio
    sets TCP_NODELAY only when the socket says IPPROTO_TCP), so each kept-alive request after the first waited
    for the client's delayed ACK (44 ms). The server's own side of a kept-alive connection must have it off."""
    import socket

    srv, _ = server
    with httpx.Client(timeout=5) as c:
        for _ in range(2):
            assert c.get(f"http://127.0.0.1:{srv.port}/healthz").status_code == 200
        conns = list(srv.server.server_state.connections)
        assert conns, "the kept-alive connection is open"
        for proto in conns:
            sock = proto.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_trusted_proxy_has_no_per_address_share() -> None:
    """Behind a reverse proxy every client comes from the proxy's address: the share must not cap the proxy
    (it limits each client itself), while any other address keeps its share."""
    from collector.http import TOO_MANY_CONNECTIONS, Slots

    slots = Slots(per_address=2, exempt=("127.0.0.1", "10.0.0.0/8", "not-an-address"))
    assert [slots.take(("127.0.0.1", p)) for p in range(5)] == [None] * 5
    assert [slots.take(("10.1.2.3", p)) for p in range(3)] == [None] * 3
    assert [slots.take(("192.0.2.7", p)) for p in range(3)] == [None, None, TOO_MANY_CONNECTIONS]
    slots.give_back(("192.0.2.7", 0))
    assert slots.take(("192.0.2.7", 9)) is None and slots.total == 10


def test_the_deadline_is_for_what_the_client_owes_not_for_the_answer() -> None:
    """A request whose answer takes longer than the request deadline (a report, a big page) is not cut: only
    the head and body the client sends are timed."""
    import asyncio

    async def slow_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await asyncio.sleep(2.0)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"done"})

    srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=slow_app, header_timeout_s=0.5)
    srv.start()
    try:
        with httpx.Client(timeout=10) as c:
            for _ in range(2):  # and on the same kept-alive connection again
                r = c.get(f"http://127.0.0.1:{srv.port}/report")
                assert r.status_code == 200 and r.text == "done"
                assert r.headers["x-content-type-options"] == "nosniff"  # the server's own strict headers
    finally:
        srv.stop()


def test_log_budget_per_client_and_minute() -> None:
    """What one client can put in the log: a few lines a minute, then one line saying how many were dropped."""
    from collector.http import LogBudget

    b = LogBudget(per_min=3, max_clients=2)
    assert [b.allow("a", now=t)[0] for t in (0, 1, 2, 3, 4)] == [True, True, True, False, False]
    assert b.allow("b", now=5) == (True, 0)  # another client has its own budget
    assert b.allow("a", now=61) == (True, 2)  # next minute: allowed, and told 2 were suppressed
    b.allow("c", now=62)  # a third address: the table (2 addresses at most) starts over
    assert b.allow("a", now=63) == (True, 0)
