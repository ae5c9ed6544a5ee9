"""Console accounts and the audit log, in the embedded store's SQLite file.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106); there is no default account and no
default password: the first admin is made with ``wifiwatch users add``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.store import dbfile

ROLES = ("viewer", "operator", "planner", "admin")
# What each role may do; every role may look.
CAN: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "operator": frozenset({"ack", "maintenance"}),
    "planner": frozenset({"plan"}),
    "admin": frozenset({"ack", "maintenance", "plan", "users"}),
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps a login request's work bounded

COMPONENT, PREFIX = "console", "console_"  # its own namespace in the store's file (core.store.dbfile)
SCHEMA = """
CREATE TABLE IF NOT EXISTS console_users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL,
  lang TEXT NOT NULL DEFAULT 'ja', created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS console_audit (id INTEGER PRIMARY KEY, at REAL NOT NULL, user TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');
"""
dbfile.check_namespace(PREFIX, SCHEMA)


def _create(c: sqlite3.Connection) -> None:
    for stmt in dbfile.statements(SCHEMA):
        c.execute(stmt)


MIGRATIONS = (dbfile.Migration(1, "console users and audit log", _create),)
_HASHER = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password (no user enumeration).
_DUMMY = _HASHER.hash("not-a-password-of-anyone")


class UserError(ValueError):
    """A bad name, role or password; the message says which and why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    lang: str
    created: float

    def can(self, action: str) -> bool:
        return action in CAN.get(self.role, frozenset())


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    user: str
    action: str
    target: str
    detail: str


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError("user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password: at most {MAX_PASSWORD} characters")
    return password


class UserStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = dbfile.connect(path)
        self._lock = threading.RLock()
        dbfile.migrate(self._conn, COMPONENT, MIGRATIONS, lambda _c: 0, str(path))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _one(self, q: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._conn.execute(q, args).fetchone()

    # -- accounts --------------------------------------------------------------------------------
    def get(self, name: str) -> User | None:
        row = self._one("SELECT name, role, lang, created FROM console_users WHERE name=?", (name,))
        return User(*row) if row else None

    def all(self) -> list[User]:
        with self._lock:
            return [User(*r) for r in self._conn.execute(
                "SELECT name, role, lang, created FROM console_users ORDER BY name")]

    def count_admins(self) -> int:
        return int(self._one("SELECT count(*) FROM console_users WHERE role='admin'", ())[0])

    def add(self, name: str, password: str, role: str, lang: str = "ja") -> User:
        check_name(name), check_role(role), check_password(password)
        if lang not in ("ja", "en"):
            raise UserError("lang must be ja or en")
        try:
            with self._lock:
                self._conn.execute("INSERT INTO console_users(name, hash, role, lang, created) VALUES (?,?,?,?,?)",
                                   (name, _HASHER.hash(password), role, lang, time.time()))
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists (use passwd to change the password)") from None
        return User(name, role, lang, time.time())

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        with self._lock:
            if self._conn.execute("UPDATE console_users SET hash=? WHERE name=?",
                                  (_HASHER.hash(password), name)).rowcount != 1:
                raise UserError(f"no user {name!r}")

    def set_role(self, name: str, role: str) -> None:
        check_role(role)
        user = self.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        if user.role == "admin" and role != "admin" and self.count_admins() <= 1:
            raise UserError("the last admin cannot lose the admin role")
        with self._lock:
            self._conn.execute("UPDATE console_users SET role=? WHERE name=?", (role, name))

    def set_lang(self, name: str, lang: str) -> None:
        if lang not in ("ja", "en"):
            raise UserError("lang must be ja or en")
        with self._lock:
            self._conn.execute("UPDATE console_users SET lang=? WHERE name=?", (lang, name))

    def remove(self, name: str) -> None:
        user = self.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        if user.role == "admin" and self.count_admins() <= 1:
            raise UserError("the last admin cannot be removed (add another admin first)")
        with self._lock:
            self._conn.execute("DELETE FROM console_users WHERE name=?", (name,))

    def verify(self, name: str, password: str) -> User | None:
        """The user when the password is right; None otherwise, in about the same time either way."""
        row = self._one("SELECT hash FROM console_users WHERE name=?", (name,)) if NAME.fullmatch(name) else None
        stored = row[0] if row else _DUMMY
        try:
            _HASHER.verify(stored, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(stored):
            with self._lock:
                self._conn.execute("UPDATE console_users SET hash=? WHERE name=?", (_HASHER.hash(password), name))
        return self.get(name)

    # -- audit -----------------------------------------------------------------------------------
    def audit(self, user: str, action: str, target: str = "", detail: str = "") -> None:
        with self._lock:
            self._conn.execute("INSERT INTO console_audit(at, user, action, target, detail) VALUES (?,?,?,?,?)",
                               (time.time(), user, action, target[:200], detail[:2000]))

    def audit_log(self, limit: int = 500) -> list[AuditEntry]:
        with self._lock:
            return [AuditEntry(*r) for r in self._conn.execute(
                "SELECT id, at, user, action, target, detail FROM console_audit ORDER BY id DESC LIMIT ?", (limit,))]
