"""Resolve secret references (``env:NAME``, ``file:KEY``) and keep resolved values out of output.

Every resolved value is registered with :data:`REDACTOR`; the log filter and the report/map writers
pass text through it, so a community string that leaks into an exception message is still masked.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import tomllib
from pathlib import Path


class SecretError(Exception):
    """A reference that cannot be resolved; the message names the reference, never a value."""


class Secret:
    """A resolved secret whose repr and str never show the value."""

    __slots__ = ("_value", "ref")

    def __init__(self, value: str, ref: str):
        self._value = value
        self.ref = ref
        REDACTOR.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.ref!r})"

    __str__ = __repr__


class Redactor:
    MASK = "***"

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        # Very short values would mask ordinary words; they are weak secrets anyway (check-config warns).
        if len(value) >= 4:
            with self._lock:
                self._values.add(value)

    def __call__(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for v in values:
            if v in text:
                text = text.replace(v, self.MASK)
        # Secrets nobody registered: credentials inside a URL, and HTTP authorization header values.
        text = _URL_USERINFO.sub(rf"\1{self.MASK}@", text)
        return _AUTH_HEADER.sub(rf"\1{self.MASK}", text)


# scheme://user:password@host -> scheme://***@host (the user may be a secret too: InfluxDB 1.x names)
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")
_AUTH_HEADER = re.compile(
    r"((?:Authorization|authorization)['\"]?\s*[:=]\s*['\"]?(?:Bearer|Token|Basic)\s+)[^\s'\",}]+")


def url_credentials(url: str) -> bool:
    """True when ``url`` carries a user or password (``scheme://user:pass@host``) or a credential parameter."""
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(url.strip())
        has_user = parts.username is not None or parts.password is not None
    except ValueError:
        return False
    params = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return has_user or bool(params & {"u", "p", "password", "token", "access_token", "apikey", "api_key"})


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = REDACTOR(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def load_secrets_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a TOML secrets file, refusing one that other users can read."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise SecretError(f"secrets file {p} not found") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"secrets file {p} is readable by other users (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run: chmod 600 {p}"
        )
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SecretError(f"secrets file {p} is not valid TOML: {e}") from None
    out = {str(k): str(v) for k, v in data.items() if not isinstance(v, dict)}
    for v in out.values():
        REDACTOR.add(v)
    return out


class SecretResolver:
    def __init__(self, secrets_file: str | os.PathLike[str] | None = None, base_dir: Path | None = None):
        env_file = os.environ.get("WIFIWATCH_SECRETS_FILE")
        chosen = env_file or secrets_file
        self._file: Path | None = None
        if chosen:
            p = Path(chosen)
            self._file = p if p.is_absolute() or base_dir is None or env_file else base_dir / p
        self._cache: dict[str, str] | None = None

    def _file_values(self) -> dict[str, str]:
        if self._cache is None:
            if self._file is None:
                raise SecretError("a 'file:' secret is used but no secrets_file is configured")
            self._cache = load_secrets_file(self._file)
        return self._cache

    def resolve(self, ref: str) -> Secret:
        kind, _, name = ref.partition(":")
        if kind == "env":
            value = os.environ.get(name)
            if value is None:
                raise SecretError(f"environment variable {name} (from '{ref}') is not set")
            return Secret(value, ref)
        if kind == "file":
            values = self._file_values()
            if name not in values:
                raise SecretError(f"key '{name}' (from '{ref}') is not in secrets file {self._file}")
            return Secret(values[name], ref)
        raise SecretError(f"'{ref}' is not a secret reference (use env:NAME or file:KEY)")

    def resolve_optional(self, ref: str | None) -> Secret | None:
        return None if ref is None else self.resolve(ref)
