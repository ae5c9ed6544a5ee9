"""Console sessions over real HTTP on loopback (no browser): single sign-on, idle timeout, language, redirects,
a removed user, the report folder's boundary."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.http import StatusServer
from console.app import create_app
from console.context import open_context
from core.config import parse_config

PW = "a long password 1"
BASE = """
[snmp]
version = "2c"
community = "env:WW_TEST_COMMUNITY"
[store]
path = "{store}"
[reports]
dir = "{reports}"
[console]
{console}
[[sites]]
id = "s1"
name_ja = "中央公民館"
name_en = "Community Center"
kind = "public_facility"
lat = 35.9655
lon = 140.6335
[[sites.aps]]
id = "ap1"
host = "127.0.0.2"
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Any]]]:
    servers: list[StatusServer] = []

    def start(console: str = "") -> tuple[str, Any]:
        inv = parse_config(BASE.format(store=tmp_path / "s.sqlite3", reports=tmp_path / "reports", console=console),
                           "t.toml", {"generic"})
        ctx = open_context(inv, None)
        for name, role in (("tanaka", "viewer"), ("boss", "admin")):
            if ctx.users.get(name) is None:
                ctx.users.add(name, PW, role)
        srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
        srv.start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.port}", ctx

    yield start
    for s in servers:
        s.stop()


def login(url: str, user: str = "tanaka", next_: str = "/") -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=10)
    tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
    assert tok
    r = c.post("/login", data={"user": user, "password": PW, "_csrf_token": tok[1], "next": next_})
    assert r.status_code == 303, r.text[:300]
    c.csrf = tok[1]  # type: ignore[attr-defined]
    return c


def test_trusted_header_sso_only_from_a_trusted_proxy(serve: Callable[..., tuple[str, Any]]) -> None:
    url, ctx = serve('trusted_header = "X-Remote-User"\ntrusted_proxies = ["127.0.0.0/8"]')
    r = httpx.get(url + "/", headers={"X-Remote-User": "tanaka"}, timeout=10)
    assert r.status_code == 200 and "tanaka (閲覧者)" in r.text
    assert httpx.get(url + "/", headers={"X-Remote-User": "nobody"}, timeout=10).status_code == 303
    assert "login-sso" in [e.action for e in ctx.users.audit_log()]
    url2, _ = serve('trusted_header = "X-Remote-User"\ntrusted_proxies = ["192.0.2.1"]')
    assert httpx.get(url2 + "/", headers={"X-Remote-User": "tanaka"}, timeout=10).status_code == 303


def test_idle_session_ends(serve: Callable[..., tuple[str, Any]]) -> None:
    url, _ = serve("idle_timeout_min = 0.04")  # 2 s
    c = login(url)
    for _ in range(3):  # each request renews it: 2.4 s after login, still logged in
        time.sleep(0.8)
        assert c.get("/").status_code == 200
    time.sleep(3)
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_language_switch_open_redirect_and_removed_user(serve: Callable[..., tuple[str, Any]]) -> None:
    url, ctx = serve()
    c = login(url, next_="//evil.example/x")
    assert c.get("/login?next=//evil.example/").headers["location"] == "/"  # logged in: back home, not away
    assert "<h1>状況</h1>" in c.get("/").text
    r = c.post("/lang", data={"back": "https://evil.example/", "_csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "<h1>Status</h1>" in c.get("/").text and ctx.users.get("tanaka").lang == "en"
    ctx.users.remove("tanaka")
    assert c.get("/").status_code == 303


def test_reports_are_served_from_their_folder_only(serve: Callable[..., tuple[str, Any]], tmp_path: Path) -> None:
    url, _ = serve()
    (tmp_path / "reports" / "2026").mkdir(parents=True)
    (tmp_path / "reports" / "2026" / "monthly-2026-10-ja.csv").write_text("施設,稼働率\n", encoding="utf-8")
    (tmp_path / "secret.csv").write_text("not a report", encoding="utf-8")
    c = login(url)
    page = c.get("/reports").text
    assert "2026/monthly-2026-10-ja.csv" in page
    r = c.get("/reports/file/2026/monthly-2026-10-ja.csv")
    assert r.status_code == 200 and "稼働率" in r.text and "attachment" in r.headers["content-disposition"]
    for bad in ("../secret.csv", "%2e%2e/secret.csv", "2026/../../secret.csv"):
        assert c.get("/reports/file/" + bad).status_code == 404, bad
    sites = c.get("/reports/opendata/sites")
    assert sites.status_code == 200 and "中央公民館" in sites.content.decode("utf-8-sig")


def test_wifiwatch_web_serves_the_console_alone(tmp_path: Path) -> None:
    """`wifiwatch web` on an existing store: the contract (303 to a Japanese login form), security headers."""
    import os
    import socket
    import subprocess
    import sys

    from wifiwatch.sim.process import stop_process

    cfg = tmp_path / "c.toml"
    cfg.write_text(BASE.format(store=tmp_path / "s.sqlite3", reports=tmp_path / "r", console=""), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "web", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "WW_TEST_COMMUNITY": "x-community-1"})
    assert r.returncode == 2 and "no store" in r.stderr and "Traceback" not in r.stderr
    open_context(parse_config(cfg.read_text(encoding="utf-8"), str(cfg), {"generic"}), None).close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "web", "--config", str(cfg), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "WW_TEST_COMMUNITY": "x-community-1"})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                r2 = httpx.get(url + "/", timeout=5)
                break
            except httpx.ConnectError:
                assert time.time() < deadline and proc.poll() is None
                time.sleep(0.2)
        assert r2.status_code == 303 and r2.headers["location"] == "/login"
        form = httpx.get(url + "/login", timeout=5)
        assert form.status_code == 200 and "ログイン" in form.text
        assert "script-src 'self'" in form.headers["content-security-policy"]
        assert form.headers["x-frame-options"] == "SAMEORIGIN"
        h = httpx.get(url + "/healthz", timeout=5)  # no daemon has written this store: not healthy, and says why
        assert h.status_code == 503 and h.json()["mode"] == "web" and h.json()["monitor"] == "no_data", h.text
    finally:
        stop_process(proc, 5)
    assert b"wifiwatch users add" in (proc.stdout.read() if proc.stdout else b"")  # no user yet: says how


def test_login_limit_counts_each_client_behind_a_trusted_proxy(serve: Callable[..., tuple[str, Any]]) -> None:
    url, _ = serve("login_attempts_per_min = 3\ntrusted_proxies = [\"127.0.0.0/8\"]")
    c = httpx.Client(base_url=url, timeout=10)
    tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
    assert tok

    def attempt(client_ip: str) -> int:
        return c.post("/login", data={"user": "tanaka", "password": "", "_csrf_token": tok[1]},
                      headers={"X-Forwarded-For": f"203.0.113.9, {client_ip}"}).status_code

    assert [attempt("198.51.100.1") for _ in range(3)] == [401, 401, 401]
    assert attempt("198.51.100.1") == 429
    assert attempt("198.51.100.2") == 401  # another person behind the same proxy is not locked out
