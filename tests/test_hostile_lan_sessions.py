"""Issue 26 (N3, N8) on the real console over loopback HTTP: a session ends the moment its user's password or role
changes or the account goes (from the CLI on the store file or from 管理), a new account of an old name inherits
nothing, sessions have an absolute lifetime, survive a restart of the app on the same store (only a hash of the
token is stored, rows are signed), and a planner scenario on /map/view needs the planner role and is audited."""

from __future__ import annotations

import re
import sqlite3
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
Serve = Callable[..., tuple[str, Any]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(console_toml)`` starts the console on the test's store; a second call is a restart on that store."""
    running: list[StatusServer] = []

    def start(console: str = "") -> tuple[str, Any]:
        for s in running:  # a restart: the old app is gone (and with it anything it kept in memory)
            s.stop()
        running.clear()
        cfg = tmp_path / "c.toml"
        cfg.write_text(BASE.format(store=tmp_path / "s.sqlite3", reports=tmp_path / "reports", console=console),
                       encoding="utf-8")
        inv = parse_config(cfg.read_text(encoding="utf-8"), str(cfg), {"generic"})
        ctx = open_context(inv, None)
        for name, role in (("tanaka", "viewer"), ("boss", "admin"), ("sato", "planner")):
            if ctx.users.get(name) is None:
                ctx.users.add(name, PW, role)
        srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=create_app(ctx))
        srv.start()
        running.append(srv)
        return f"http://127.0.0.1:{srv.port}", ctx

    yield start
    for s in running:
        s.stop()


def login(url: str, user: str = "tanaka", password: str = PW) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=10)
    tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
    assert tok
    r = c.post("/login", data={"user": user, "password": password, "_csrf_token": tok[1]})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text[:300]
    c.csrf = tok[1]  # type: ignore[attr-defined]
    return c


def logged_out(c: httpx.Client, path: str = "/") -> bool:
    r = c.get(path)
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def cli(tmp_path: Path, *args: str, stdin: str = "") -> Any:
    """`wifiwatch users ...` on the store file while the console runs (in-process: fast)."""
    from typer.testing import CliRunner

    from wifiwatch.cli import app

    return CliRunner().invoke(app, ["users", *args, "--config", str(tmp_path / "c.toml")], input=stdin,
                              env={"WW_TEST_COMMUNITY": "x-community-1"})


def test_password_change_from_the_cli_ends_every_session_at_once(serve: Serve, tmp_path: Path) -> None:
    url, _ = serve()
    phone, desk, other = login(url), login(url), login(url, "sato")
    assert phone.get("/").status_code == 200 and desk.get("/").status_code == 200
    r = cli(tmp_path, "passwd", "tanaka", "--password-stdin", stdin="a new password 22\n")
    assert r.exit_code == 0, r.output
    assert logged_out(phone) and logged_out(desk)  # the very next request, both devices
    assert other.get("/").status_code == 200  # another user is untouched
    assert login(url, password="a new password 22").get("/").status_code == 200


def test_role_change_and_password_from_the_admin_page_end_sessions(serve: Serve) -> None:
    url, _ = serve()
    boss, tanaka = login(url, "boss"), login(url)
    r = boss.post("/admin/users/tanaka/role", data={"role": "operator", "_csrf_token": boss.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and "user_saved" in r.headers["location"]
    assert logged_out(tanaka)
    tanaka = login(url)
    assert "tanaka (運用担当)" in tanaka.get("/").text
    r = boss.post("/admin/users/tanaka/password", data={"password": "another password 3",  # type: ignore[attr-defined]
                                                        "_csrf_token": boss.csrf})
    assert r.status_code == 303 and logged_out(tanaka)


def test_admin_page_shows_and_ends_a_users_sessions(serve: Serve) -> None:
    url, ctx = serve()
    boss, tanaka = login(url, "boss"), login(url)
    page = boss.get("/admin").text
    row = re.search(r'<tr data-user="tanaka">.*?<td class="sessions">(\d+)', page, re.S)
    assert row and row[1] == "1" and "/admin/users/tanaka/sessions/revoke" in page
    r = boss.post("/admin/users/tanaka/sessions/revoke", data={"_csrf_token": boss.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303 and "sessions_ended" in r.headers["location"]
    assert logged_out(tanaka) and boss.get("/").status_code == 200
    assert ("boss", "session-revoke", "tanaka") in [(e.user, e.action, e.target) for e in ctx.users.audit_log()]
    viewer = login(url, "tanaka")
    r = viewer.post("/admin/users/boss/sessions/revoke", data={"_csrf_token": viewer.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 403 and boss.get("/").status_code == 200  # only an admin may


def test_removed_user_readded_with_the_same_name_does_not_inherit_the_old_session(serve: Serve,
                                                                                    tmp_path: Path) -> None:
    url, ctx = serve()
    old = login(url)
    assert old.get("/admin").status_code == 403
    assert cli(tmp_path, "remove", "tanaka").exit_code == 0
    r = cli(tmp_path, "add", "tanaka", "--role", "admin", "--password-stdin", stdin="the new tanaka 1\n")
    assert r.exit_code == 0, r.output
    assert logged_out(old, "/admin")  # was 200: the old viewer's session came back as an admin
    assert ctx.users.sessions("tanaka") == []


def test_sessions_have_an_absolute_lifetime_however_busy(serve: Serve) -> None:
    url, _ = serve("session_lifetime_h = 0.001\nidle_timeout_min = 30")  # 3.6 s
    c = login(url)
    for _ in range(3):  # busy: a request every second keeps the idle timeout far away
        assert c.get("/").status_code == 200
        time.sleep(1.0)
    time.sleep(1.2)
    assert logged_out(c)


def test_sessions_and_csrf_survive_a_restart_and_only_a_hash_is_stored(serve: Serve, tmp_path: Path) -> None:
    import hashlib

    url, _ = serve()
    c = login(url)
    token = c.cookies["wifiwatch_session"]
    url2, ctx2 = serve()  # the app restarts on the same store
    c.base_url = httpx.URL(url2)
    r = c.get("/")
    assert r.status_code == 200 and "tanaka (閲覧者)" in r.text
    r = c.post("/lang", data={"back": "/", "_csrf_token": c.csrf})  # type: ignore[attr-defined]  # the old page's form
    assert r.status_code == 303 and r.headers["location"] == "/"
    db = sqlite3.connect(tmp_path / "s.sqlite3")
    rows = db.execute("SELECT * FROM console_sessions").fetchall()
    assert rows and token not in repr(rows)
    assert [hashlib.sha256(token.encode()).hexdigest()] == [r[0] for r in rows]
    key = tmp_path / "s.sqlite3.console-key"
    assert key.stat().st_mode & 0o777 == 0o600
    # A row edited in the file (the viewer's session handed to the admin) no longer counts: it fails its signature.
    import json

    boss = ctx2.users.get("boss")
    data = json.loads(rows[0][8])
    data.update(uid=boss.id, ver=boss.cred_version)
    db.execute("UPDATE console_sessions SET user_id=?, data=?", (boss.id, json.dumps(data).encode()))
    db.commit()
    assert logged_out(c, "/admin")


def test_users_sessions_lists_without_the_token_and_revokes(serve: Serve, tmp_path: Path) -> None:
    url, _ = serve()
    c, d = login(url), login(url)
    r = cli(tmp_path, "sessions", "tanaka")
    assert r.exit_code == 0, r.output
    assert r.output.count("127.0.0.1") == 2
    for client in (c, d):
        assert client.cookies["wifiwatch_session"][:12] not in r.output
    r = cli(tmp_path, "sessions", "tanaka", "--revoke")
    assert r.exit_code == 0 and "2" in r.output
    assert logged_out(c) and logged_out(d)
    assert "127.0.0.1" not in cli(tmp_path, "sessions", "tanaka").output
    assert cli(tmp_path, "sessions", "nobody").exit_code != 0


def test_a_map_scenario_needs_the_planner_role_and_is_audited(serve: Serve) -> None:
    url, ctx = serve()
    scenario = "/map/view?a_budget=3000000&a_rounds=2029"
    viewer = login(url)
    assert viewer.get("/map/view").status_code == 200  # the default plan's map is for everyone
    assert viewer.get(scenario).status_code == 403
    assert login(url, "boss").get("/map/view?a_count=1").status_code == 200
    planner = login(url, "sato")
    assert planner.get(scenario).status_code == 200
    audited = [(e.user, e.target, e.detail) for e in ctx.users.audit_log() if e.action == "plan-scenario"]
    assert ("sato", "map", '{"a_budget": "3000000", "a_rounds": "2029"}') in audited
    assert [u for u, _, _ in audited] == ["sato", "boss"]  # the refused viewer ran nothing


def test_a_key_file_others_can_read_is_replaced(tmp_path: Path) -> None:
    from console.sessions import key_file, load_keys

    store = tmp_path / "s.sqlite3"
    first = load_keys(store)
    assert load_keys(store) == first and key_file(store).stat().st_mode & 0o777 == 0o600
    key_file(store).chmod(0o644)  # someone else may have read it: it must not keep signing sessions
    second = load_keys(store)
    assert second != first and key_file(store).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite3.console-key"]


def test_a_store_from_before_keeps_its_users_and_gains_ids(tmp_path: Path) -> None:
    """Schema 1 (names only) migrates in place: accounts, hashes and the audit log kept, ids given, sessions table."""
    from console.users import SCHEMA, UserStore
    from core.store import dbfile

    path = tmp_path / "old.sqlite3"
    conn = dbfile.connect(path)
    for stmt in dbfile.statements(SCHEMA):
        conn.execute(stmt)
    conn.execute(f"CREATE TABLE {dbfile.VERSIONS_TABLE} (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute(f"INSERT INTO {dbfile.VERSIONS_TABLE} VALUES ('console', 1)")
    conn.execute(f"PRAGMA user_version={dbfile.FILE_FORMAT}")
    from argon2 import PasswordHasher

    for i, name in enumerate(("suzuki", "abe")):
        conn.execute("INSERT INTO console_users VALUES (?,?,?,?,?)", (name, PasswordHasher().hash(PW), "operator",
                                                                       "ja", 1000.0 + i))
    conn.execute("INSERT INTO console_audit(at, user, action) VALUES (1, 'cli', 'user-add')")
    conn.close()
    users = UserStore(path)
    assert [(u.name, u.id, u.cred_version) for u in users.all()] == [("abe", 2, 1), ("suzuki", 1, 1)]
    assert users.verify("suzuki", PW) is not None and len(users.audit_log()) == 1
    assert dbfile.version(users._conn, "console") == 2 and users.sessions("abe") == []  # noqa: SLF001
    users.remove("abe")
    assert users.add("abe", PW, "viewer").id == 3  # a name removed and added again is a new account
