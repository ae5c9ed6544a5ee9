"""Console accounts: argon2 hashes, no password on the command line, the last admin kept, the audit log."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from console.users import UserError, UserStore

ROOT = Path(__file__).resolve().parent.parent


def test_hash_is_argon2id_and_verify(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "s.sqlite3")
    users.add("tanaka", "long enough pw 1", "operator")
    stored = sqlite3.connect(tmp_path / "s.sqlite3").execute("SELECT hash FROM console_users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "long enough" not in stored
    assert users.verify("tanaka", "long enough pw 1") is not None
    assert users.verify("tanaka", "long enough pw 2") is None
    assert users.verify("nobody", "long enough pw 1") is None
    assert users.verify("<script>", "x" * 5000) is None
    with pytest.raises(UserError, match="at least"):
        users.add("suzuki", "short", "viewer")
    with pytest.raises(UserError, match="role must be"):
        users.add("suzuki", "long enough pw 1", "root")
    with pytest.raises(UserError, match="already exists"):
        users.add("tanaka", "long enough pw 1", "viewer")


def test_last_admin_is_kept(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "s.sqlite3")
    users.add("boss", "long enough pw 1", "admin")
    with pytest.raises(UserError, match="last admin"):
        users.remove("boss")
    with pytest.raises(UserError, match="last admin"):
        users.set_role("boss", "viewer")
    users.add("boss2", "long enough pw 1", "admin")
    users.remove("boss")
    assert [u.name for u in users.all()] == ["boss2"]


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path / "s.sqlite3"}"\n', encoding="utf-8")
    return cfg


def _cli(tmp_path: Path, *args: str, stdin: str = "") -> Any:
    """In-process (fast); a UserError surfaces as the result's exception, which main() prints and exits 2 on."""
    from typer.testing import CliRunner

    from wifiwatch.cli import app

    return CliRunner().invoke(app, ["users", *args, "--config", str(_config(tmp_path))], input=stdin)


def test_cli_add_passwd_list_remove(tmp_path: Path) -> None:
    from wifiwatch.common import UserError as CliError

    r = _cli(tmp_path, "add", "tanaka", "--role", "admin", "--password-stdin", stdin="first password 1\n")
    assert r.exit_code == 0, r.output
    r = _cli(tmp_path, "passwd", "tanaka", "--password-stdin", stdin="second password 2\n")
    assert r.exit_code == 0, r.output
    users = UserStore(tmp_path / "s.sqlite3")
    assert users.verify("tanaka", "second password 2") is not None
    assert "tanaka" in _cli(tmp_path, "list").output
    r = _cli(tmp_path, "remove", "tanaka")
    assert isinstance(r.exception, CliError) and "last admin" in str(r.exception)
    assert [e.action for e in users.audit_log()] == ["user-passwd", "user-add"]


def test_cli_refuses_to_prompt_without_a_terminal(tmp_path: Path) -> None:
    """No terminal and no --password-stdin: a clear error and exit 2, never a password taken from argv."""
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "users", "add", "suzuki", "--config",
                        str(_config(tmp_path))], input="", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "--password-stdin" in r.stderr and "Traceback" not in r.stderr
