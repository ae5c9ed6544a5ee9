"""`wifiwatch grafana push` against a recording Grafana stand-in on loopback (no Grafana can be installed here).

The stand-in keeps folders and dashboards like Grafana's HTTP API does (GET/POST /api/folders, POST
/api/dashboards/db), so idempotency is observed on its state, not assumed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import dashboards
from wifiwatch.grafana.dashboards import DATASOURCE_UID, FOLDER_UID, build_all

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "glsa_TEST-token-5e1f0c2b9d"


@dataclass
class FakeGrafana:
    """Loopback HTTP server speaking the parts of Grafana's API that push uses; records every request."""

    prefix: str = ""
    status: int | None = None  # answer everything with this status (401, 500) when set
    requests: list[dict[str, Any]] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self) -> None:
        fake = self

        class H(BaseHTTPRequestHandler):
            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else None
                fake.requests.append({"method": self.command, "path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                if fake.status is not None:  # like Grafana, echo what it did not accept
                    return self._reply(fake.status, {"message": f"rejected {self.headers.get('Authorization')}"})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, {"message": "Unauthorized"})
                path = self.path.removeprefix(fake.prefix)
                if self.command == "GET" and path.startswith("/api/folders/"):
                    uid = path.rsplit("/", 1)[1]
                    if uid in fake.folders:
                        return self._reply(200, {"uid": uid, "title": fake.folders[uid]})
                    return self._reply(404, {"message": "folder not found"})
                if self.command == "POST" and path == "/api/folders":
                    if body["uid"] in fake.folders:
                        return self._reply(409, {"message": "a folder with the same uid already exists"})
                    fake.folders[body["uid"]] = body["title"]
                    return self._reply(200, {"uid": body["uid"], "title": body["title"]})
                if self.command == "POST" and path == "/api/dashboards/db":
                    uid = body["dashboard"]["uid"]
                    if body["folderUid"] not in fake.folders:
                        return self._reply(400, {"message": "folder not found"})
                    if uid in fake.dashboards and not body.get("overwrite"):
                        return self._reply(412, {"message": "version-mismatch"})
                    fake.dashboards[uid] = body
                    return self._reply(200, {"status": "success", "uid": uid})
                return self._reply(404, {"message": "not found"})

            do_GET = do_POST = do_PUT = _handle  # noqa: N815

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.prefix}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    g = FakeGrafana()
    g.start()
    yield g
    g.stop()


def push(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRAFANA_")}
    return subprocess.run([sys.executable, "-m", "wifiwatch.cli", "grafana", "push", *args], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_push_creates_folder_once_and_overwrites_dashboards(grafana: FakeGrafana) -> None:
    env = {"GRAFANA_URL": grafana.url, "GRAFANA_TOKEN": TOKEN}
    first = push(env)
    assert first.returncode == 0, first.stderr
    uids = [d["uid"] for d in build_all().values()]
    assert f"フォルダ {FOLDER_UID} 作成" in first.stdout and all(u in first.stdout for u in uids)
    posted = [r for r in grafana.requests if r["path"] == "/api/dashboards/db"]
    assert [r["body"]["dashboard"]["uid"] for r in posted] == [d["uid"] for _, d in sorted(build_all().items())]
    assert all(r["body"]["overwrite"] is True and r["body"]["folderUid"] == FOLDER_UID for r in posted)
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in grafana.requests)
    # what was posted is the committed JSON, datasource uid untouched
    committed = {json.loads(p.read_text(encoding="utf-8"))["uid"]: json.loads(p.read_text(encoding="utf-8"))
                 for p in dashboards.JSON_DIR.glob("*.json")}
    for r in posted:
        d = r["body"]["dashboard"]
        assert d["id"] is None and {k: v for k, v in d.items() if k != "id"} == committed[d["uid"]]

    n_before = len(grafana.requests)
    second = push(env, "--lang", "en")
    assert second.returncode == 0, second.stderr
    assert f"folder {FOLDER_UID} already there; {len(uids)} dashboards updated" in second.stdout
    again = grafana.requests[n_before:]
    assert [r["method"] + " " + r["path"] for r in again if "folders" in r["path"]] == [
        f"GET /api/folders/{FOLDER_UID}"]
    assert len(grafana.folders) == 1 and sorted(grafana.dashboards) == sorted(uids)
    assert len([r for r in again if r["path"] == "/api/dashboards/db"]) == len(uids)


def test_push_under_a_sub_path_with_another_datasource_uid() -> None:
    g = FakeGrafana(prefix="/grafana")
    g.start()
    try:
        r = push({"GRAFANA_URL": g.url + "/", "GRAFANA_TOKEN": TOKEN}, "--datasource-uid", "their-influx")
    finally:
        g.stop()
    assert r.returncode == 0, r.stderr
    assert all(req["path"].startswith("/grafana/api/") for req in g.requests)
    text = json.dumps(list(g.dashboards.values()))
    assert DATASOURCE_UID not in text and text.count('"uid": "their-influx"') > 20


@pytest.mark.parametrize(("env", "needle"), [
    ({"GRAFANA_TOKEN": TOKEN}, "GRAFANA_URL"),
    ({"GRAFANA_URL": "http://127.0.0.1:9"}, "GRAFANA_TOKEN"),
    ({"GRAFANA_URL": "127.0.0.1:3000", "GRAFANA_TOKEN": TOKEN}, "http://"),
])
def test_missing_or_bad_settings_are_one_line_errors(env: dict[str, str], needle: str) -> None:
    r = push(env)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:"), r.stderr
    assert TOKEN not in r.stderr


@pytest.mark.parametrize("status", [401, 500])
def test_rejected_token_or_server_error_never_prints_the_token(status: int) -> None:
    g = FakeGrafana(status=status)
    g.start()
    try:
        r = push({"GRAFANA_URL": g.url, "GRAFANA_TOKEN": TOKEN}, "--lang", "en")
    finally:
        g.stop()
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"HTTP {status}" in lines[0] and g.url in lines[0], r.stderr
    assert "GRAFANA_TOKEN" in lines[0] if status == 401 else "***" in lines[0]  # the 500 body echoed it: masked
    assert TOKEN not in r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_unreachable_grafana_and_broken_dashboard_file(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    r = push({"GRAFANA_URL": f"http://admin:pw-in-url@127.0.0.1:{port}", "GRAFANA_TOKEN": TOKEN})
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], r.stderr
    assert "pw-in-url" not in r.stderr and TOKEN not in r.stderr

    (tmp_path / "a.json").write_text('{"uid": "x",\n "title": oops}\n', encoding="utf-8")
    r = push({"GRAFANA_URL": f"http://127.0.0.1:{port}", "GRAFANA_TOKEN": TOKEN}, "--dir", str(tmp_path))
    assert r.returncode == 2 and f"{tmp_path / 'a.json'}:2:" in r.stderr and len(r.stderr.strip().splitlines()) == 1
