"""One running daemon (console included) on the simulated Kashima fleet, shared by a test module.

A short heartbeat (1 s) so state changes show within seconds; a webhook receiver as the duty phone; one
console user per role with a fresh random password; the hostile site and AP names of a careless import.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomlkit

from core.config import parse_config
from core.inventory import Inventory
from core.paths import known_vendors
from core.secrets import SecretResolver
from wifiwatch.sim.fleet import Fleet
from wifiwatch.sim.process import stop_process
from wifiwatch.sim.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_SITE = '<img src=x onerror="window.__xss=1">${7*7} 鹿嶋'
HOSTILE_AP = "<script>window.__xss=2</script>{{7*7}} ${document.cookie}"
ROLES = ("viewer", "operator", "planner", "admin")
HOOK_ENV = "WIFIWATCH_TEST_CONSOLE_HOOK"  # webhook URLs are secrets: given by reference


@dataclass
class ConsoleRun:
    url: str
    inventory: Inventory
    config_path: Path
    fleet: Fleet
    hook: WebhookReceiver
    passwords: dict[str, str]  # user name (= role) -> password
    proc: subprocess.Popen[bytes]
    log: Path

    def login(self, page: Any, role: str = "admin") -> None:
        """Log ``page`` in through the form, as a person would."""
        page.goto(self.url + "/login")
        page.fill("input[name=user]", role)
        page.fill("input[name=password]", self.passwords[role])
        page.click("button[type=submit]")
        page.wait_for_url(self.url + "/")

    def messages(self, device: str) -> list[dict[str, Any]]:
        """What the duty phone received about ``device``: the webhook bodies, in order."""
        return [b for b in self.hook.bodies if isinstance(b, dict) and b.get("device_id") == device]

    def client(self, role: str | None = "admin") -> httpx.Client:
        """An HTTP client, logged in as ``role`` (None: anonymous), that sends the form's CSRF token."""
        import re

        c = httpx.Client(base_url=self.url, timeout=10)
        if role is not None:
            form = c.get("/login").text
            tok = re.search(r'name="_csrf_token" value="([^"]+)"', form)
            assert tok, form[:500]
            r = c.post("/login", data={"user": role, "password": self.passwords[role], "_csrf_token": tok[1]})
            assert r.status_code == 303, r.text[:500]
            page = c.get("/").text
            tok = re.search(r'name="_csrf_token" value="([^"]+)"', page)
            assert tok
            c.csrf = tok[1]  # type: ignore[attr-defined]
        return c


def _free_tcp_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def console_config(tmp: Path, hook_url: str, port: int, host: str) -> str:
    from tests.fixtures_sim import SAMPLE, readdress  # imported late: pytest loads fixtures_sim as a plugin after us

    doc = tomlkit.parse(readdress(SAMPLE.read_text(encoding="utf-8"), tmp))
    doc["defaults"].update({"heartbeat_s": 1.0, "interval_s": 3.0, "timeout_s": 0.5})  # type: ignore[union-attr]
    doc["http"].update({"bind": host, "port": port})  # type: ignore[union-attr]
    doc["reports"]["dir"] = str(tmp / "reports")  # type: ignore[index]
    doc["console"] = {"login_attempts_per_min": 40}  # every test logs in; test_rate_limit goes past it
    alerts = doc["alerts"]
    alerts.update({"reminder_h": 0.004, "escalate_after_min": 0.2,  # type: ignore[union-attr]
                   "escalate_channel": "duty-phone"})
    chan = tomlkit.aot()
    chan.append(tomlkit.item({"name": "duty-phone", "type": "webhook", "url": f"env:{HOOK_ENV}",
                              "min_severity": "info"}))
    alerts["channels"] = chan  # type: ignore[index]
    doc.pop("maintenance", None)
    sites = doc["sites"]
    sites[-1]["name_ja"] = HOSTILE_SITE  # type: ignore[index]
    sites[-1]["aps"][0]["name_ja"] = HOSTILE_AP  # type: ignore[index]
    return tomlkit.dumps(doc)


def wait_for(check: Any, timeout: float, step: float = 0.2) -> Any:
    end = time.time() + timeout
    while True:
        got = check()
        if got or time.time() > end:
            return got
        time.sleep(step)


@pytest.fixture(scope="module")
def console_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleRun]:
    from console.users import UserStore
    from tests.fixtures_sim import SECRET_ENV

    tmp = tmp_path_factory.mktemp("console")
    hook = WebhookReceiver()
    env = {**os.environ, **{k: secrets.token_hex(10) for k in SECRET_ENV}, HOOK_ENV: hook.url}
    saved = {k: os.environ.get(k) for k in SECRET_ENV}
    os.environ.update({k: env[k] for k in SECRET_ENV})  # the fleet reads the keys from this process's env
    host = f"127.{secrets.randbelow(180) + 64}.{secrets.randbelow(250)}.250"
    port = _free_tcp_port(host)
    cfg = tmp / "sites.toml"
    cfg.write_text(console_config(tmp, hook.url, port, host), encoding="utf-8")
    inv = parse_config(cfg.read_text(encoding="utf-8"), str(cfg), known_vendors())
    users = UserStore(Path(inv.store.path))
    passwords = {}
    for role in ROLES:
        passwords[role] = secrets.token_urlsafe(14)
        users.add(role, passwords[role], role)
    users.close()
    fleet = Fleet(inv, SecretResolver(), tmp / "sim")
    fleet.start()
    log = tmp / "daemon.log"
    proc = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config", str(cfg)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://{host}:{port}"
    try:
        ok = wait_for(lambda: _answers(url + "/healthz"), 30)
        assert ok, log.read_text(errors="replace")[-3000:]
        yield ConsoleRun(url, inv, cfg, fleet, hook, passwords, proc, log)
    finally:
        stop_process(proc, 10)
        fleet.stop()
        hook.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


class ServedConsole:
    """The console of ``ctx`` served as the daemon serves it (Litestar on uvicorn, a real loopback socket), with an
    httpx client logged in as a viewer. A context manager: the server stops on exit."""

    PASSWORD = "served-console-password-0123"

    def __init__(self, ctx: Any) -> None:
        from collector.http import StatusServer
        from console.app import create_app

        if ctx.users.get("viewer") is None:
            ctx.users.add("viewer", self.PASSWORD, "viewer")
        self.srv = StatusServer("127.0.0.1", 0, ctx.health or (lambda: {"ok": True}), app=create_app(ctx))

    def __enter__(self) -> httpx.Client:
        import re

        self.srv.start()
        c = httpx.Client(base_url=f"http://127.0.0.1:{self.srv.port}", timeout=30)
        tok = None
        for _ in range(100):
            try:
                tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert tok
        r = c.post("/login", data={"user": "viewer", "password": self.PASSWORD, "_csrf_token": tok[1]})
        assert r.status_code == 303, r.text[:300]
        self.client = c
        return c

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.srv.stop()
