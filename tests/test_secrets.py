"""Secrets come from the environment or a 0600 file, and never reach a log line."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from core.logs import setup_logging
from core.secrets import REDACTOR, SecretError, SecretResolver, load_secrets_file


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WW_TEST_SECRET", "env-secret-value-1")
    s = SecretResolver().resolve("env:WW_TEST_SECRET")
    assert s.reveal() == "env-secret-value-1"
    assert "env-secret-value-1" not in repr(s) and "env-secret-value-1" not in str(s)


def test_missing_env_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WW_TEST_UNSET", raising=False)
    with pytest.raises(SecretError, match="WW_TEST_UNSET"):
        SecretResolver().resolve("env:WW_TEST_UNSET")


def test_world_readable_secrets_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "secrets.toml"
    f.write_text('snmp_auth = "file-secret-value-2"\n')
    os.chmod(f, 0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        load_secrets_file(f)
    os.chmod(f, 0o600)
    assert SecretResolver(str(f)).resolve("file:snmp_auth").reveal() == "file-secret-value-2"
    with pytest.raises(SecretError, match="'nope'"):
        SecretResolver(str(f)).resolve("file:nope")


def test_logs_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WW_TEST_LOGGED", "very-secret-community-3")
    SecretResolver().resolve("env:WW_TEST_LOGGED")
    buf = io.StringIO()
    setup_logging("info", stream=buf)
    logging.getLogger("t").error("auth failed with %s", "very-secret-community-3")
    out = buf.getvalue()
    assert "very-secret-community-3" not in out and REDACTOR.MASK in out
