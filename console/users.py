"""Console accounts and the audit log, in the embedded store's SQLite file.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106); there is no default account and no
default password: the first admin is made with ``wifiwatch users add``.

Every account has an id that is never reused (AUTOINCREMENT: a name removed and added again is another
account) and a credential version that changing the password or the role bumps. A console session records
both (``console_sessions``, console/sessions.py) and counts only while they still match, so a change made
here, from the CLI on the store file while the daemon runs or from the 管理 page, ends that user's sessions
at their next request; the rows are deleted in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
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
# Schema 2: ids never reused, credential versions, sessions that survive a restart (only a hash of each token).
SCHEMA_2 = """
CREATE TABLE console_users_v2 (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL, role TEXT NOT NULL, lang TEXT NOT NULL DEFAULT 'ja', created REAL NOT NULL,
  cred_version INTEGER NOT NULL DEFAULT 1);
INSERT INTO console_users_v2 (name, hash, role, lang, created) SELECT name, hash, role, lang, created
  FROM console_users ORDER BY created;
DROP TABLE console_users;
ALTER TABLE console_users_v2 RENAME TO console_users;
CREATE TABLE IF NOT EXISTS console_sessions (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL,
  cred_version INTEGER NOT NULL, created REAL NOT NULL, last_seen REAL NOT NULL, expires REAL NOT NULL,
  absolute REAL NOT NULL, address TEXT NOT NULL DEFAULT '', data BLOB NOT NULL, sig TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS console_sessions_user ON console_sessions (user_id);
"""
dbfile.check_namespace(PREFIX, SCHEMA)
dbfile.check_namespace(PREFIX, SCHEMA_2)


def _create(c: sqlite3.Connection) -> None:
    for stmt in dbfile.statements(SCHEMA):
        c.execute(stmt)


def _ids_and_sessions(c: sqlite3.Connection) -> None:
    for stmt in dbfile.statements(SCHEMA_2):
        c.execute(stmt)


MIGRATIONS = (dbfile.Migration(1, "console users and audit log", _create),
              dbfile.Migration(2, "user ids and credential versions; sessions kept in the store", _ids_and_sessions))
_USER_COLS = "name, role, lang, created, id, cred_version"
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
    id: int = 0  # never reused, so a session of a removed account never fits a new one of the same name
    cred_version: int = 1  # bumped by a password or role change: sessions made before it no longer count

    def can(self, action: str) -> bool:
        return action in CAN.get(self.role, frozenset())


@dataclass(frozen=True)
class SessionInfo:
    """One open session, as ``wifiwatch users sessions`` shows it: never the token (only its hash is stored)."""

    ref: str  # the first characters of the token's hash: names the session, reveals nothing
    user: str
    created: float
    last_seen: float
    address: str
    expires: float  # the idle expiry or the absolute one, whichever comes first


def token_hash(token: str) -> str:
    """What the store keeps of a session token: a stolen store file (or backup) holds no usable session."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


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
        row = self._one(f"SELECT {_USER_COLS} FROM console_users WHERE name=?", (name,))
        return User(*row) if row else None

    def by_id(self, user_id: int) -> User | None:
        row = self._one(f"SELECT {_USER_COLS} FROM console_users WHERE id=?", (user_id,))
        return User(*row) if row else None

    def all(self) -> list[User]:
        with self._lock:
            return [User(*r) for r in self._conn.execute(
                f"SELECT {_USER_COLS} FROM console_users ORDER BY name")]

    def count_admins(self) -> int:
        return int(self._one("SELECT count(*) FROM console_users WHERE role='admin'", ())[0])

    def add(self, name: str, password: str, role: str, lang: str = "ja") -> User:
        check_name(name), check_role(role), check_password(password)
        if lang not in ("ja", "en"):
            raise UserError("lang must be ja or en")
        hashed = _HASHER.hash(password)
        try:
            with self._lock:
                self._conn.execute("INSERT INTO console_users(name, hash, role, lang, created) VALUES (?,?,?,?,?)",
                                   (name, hashed, role, lang, time.time()))
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists (use passwd to change the password)") from None
        user = self.get(name)
        assert user is not None
        return user

    def _change(self, name: str, sql: str, args: tuple[Any, ...]) -> None:
        """Apply a credential change, bump the version and end every session of ``name``, all at once."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT id FROM console_users WHERE name=?", (name,)).fetchone()
                if row is None:
                    raise UserError(f"no user {name!r}")
                self._conn.execute(sql, (*args, row[0]))
                self._conn.execute("DELETE FROM console_sessions WHERE user_id=?", (row[0],))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        self._change(name, "UPDATE console_users SET hash=?, cred_version=cred_version+1 WHERE id=?",
                     (_HASHER.hash(password),))

    def set_role(self, name: str, role: str) -> None:
        check_role(role)
        user = self.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        if user.role == "admin" and role != "admin" and self.count_admins() <= 1:
            raise UserError("the last admin cannot lose the admin role")
        if role != user.role:
            self._change(name, "UPDATE console_users SET role=?, cred_version=cred_version+1 WHERE id=?", (role,))

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
        self._change(name, "DELETE FROM console_users WHERE id=?", ())

    # -- sessions (the rows console/sessions.py writes) ---------------------------------------------
    def sql(self, q: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """One statement on this store's connection, under its lock (console/sessions.py's row work)."""
        with self._lock:
            return self._conn.execute(q, args).fetchall()

    def sessions(self, name: str, now: float | None = None) -> list[SessionInfo]:
        """``name``'s sessions that still count (right credential version, not expired), newest first."""
        now = time.time() if now is None else now
        with self._lock:
            return [SessionInfo(r[0][:12], name, r[1], r[2], r[3], min(r[4], r[5])) for r in self._conn.execute(
                "SELECT s.token_hash, s.created, s.last_seen, s.address, s.expires, s.absolute"
                " FROM console_sessions s JOIN console_users u ON u.id = s.user_id"
                " WHERE u.name=? AND s.cred_version = u.cred_version AND s.expires > ? AND s.absolute > ?"
                " ORDER BY s.created DESC", (name, now, now))]

    def session_counts(self, now: float | None = None) -> dict[str, int]:
        """How many sessions that still count each user has (the 管理 page)."""
        now = time.time() if now is None else now
        with self._lock:
            return {r[0]: int(r[1]) for r in self._conn.execute(
                "SELECT u.name, count(*) FROM console_sessions s JOIN console_users u ON u.id = s.user_id"
                " WHERE s.cred_version = u.cred_version AND s.expires > ? AND s.absolute > ? GROUP BY u.name",
                (now, now))}

    def revoke_sessions(self, name: str) -> int:
        """End every session of ``name`` now; returns how many there were."""
        user = self.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        with self._lock:
            return int(self._conn.execute("DELETE FROM console_sessions WHERE user_id=?", (user.id,)).rowcount)

    def prune_sessions(self, now: float | None = None) -> int:
        """Delete expired sessions and those of an old credential version or a removed account."""
        now = time.time() if now is None else now
        with self._lock:
            return int(self._conn.execute(
                "DELETE FROM console_sessions WHERE expires <= ? OR absolute <= ? OR NOT EXISTS (SELECT 1 FROM"
                " console_users u WHERE u.id = user_id AND u.cred_version = console_sessions.cred_version)",
                (now, now)).rowcount)

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
