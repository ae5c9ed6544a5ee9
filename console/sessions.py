"""Console sessions kept in the store's SQLite file, so a daemon restart logs nobody out.

Litestar's server-side session middleware stays in charge of cookies, ids and rotation; this is the Litestar
``Store`` behind it. A row holds a SHA-256 of the session token (never the token), the user's id and credential
version, when it was made and last used, the address and both expiries, and an HMAC over all of that, keyed by
a secret in a 0600 file beside the store: someone who can write the SQLite file but not read the key file cannot
forge a session for another user (an inserted or edited row fails its signature and counts as absent).

The same file keeps the CSRF secret, so the forms of pages open across a restart still post. A session without
a user (every anonymous request has one) is never written: a flood of anonymous requests writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar.stores.base import Store

from console.users import UserStore, token_hash
from core.logs import kv

log = logging.getLogger("wifiwatch.console")

KEY_SUFFIX = ".console-key"
TOUCH_EVERY_S = 15.0  # last_seen/expiry are rewritten at most this often: a busy page is not a write per request
# The fields of the session dict (console/auth.py writes them at login).
UID, VER, AT, ADDR = "uid", "ver", "at", "addr"


@dataclass(frozen=True)
class ConsoleKeys:
    session: bytes  # signs session rows
    csrf: str  # Litestar's CSRF secret


def key_file(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + KEY_SUFFIX)


def load_keys(store_path: Path) -> ConsoleKeys:
    """The console's secrets from the 0600 file beside the store, made on first use. A file others can read is
    replaced by a new one (everyone logs in again): a key that may have leaked must not keep signing."""
    path = key_file(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st = path.lstat()  # a link is not our file
        if stat.S_IMODE(st.st_mode) & 0o077 or not stat.S_ISREG(st.st_mode):
            log.warning("console key file was readable by others (or not a file): replaced, every console user"
                        " logs in again",
                        extra=kv(path=str(path)))
            path.unlink()
    except FileNotFoundError:
        pass
    if not path.exists():  # written whole under a temporary name, then linked: a reader never sees half a key
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_bytes(32).hex() + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process (the daemon and `wifiwatch web`) made it first: use theirs
        finally:
            os.unlink(tmp)
    try:
        master = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:
        master = b""
    if len(master) < 32:
        raise ValueError(f"{path}: not a console key file (delete it to make a new one)")

    def derive(label: bytes) -> bytes:
        return hmac.new(master, label, hashlib.sha256).digest()

    return ConsoleKeys(session=derive(b"wifiwatch session rows"), csrf=derive(b"wifiwatch csrf").hex())


def _seconds(v: int | timedelta | None) -> float | None:
    return v.total_seconds() if isinstance(v, timedelta) else (None if v is None else float(v))


def _touch_every(idle_s: float | None) -> float:
    return TOUCH_EVERY_S if idle_s is None else min(TOUCH_EVERY_S, idle_s / 4)


class SqliteSessionStore(Store):
    """Litestar's session ``Store`` on the console_sessions table (console/users.py creates it)."""

    def __init__(self, users: UserStore, key: bytes, lifetime_s: float) -> None:
        self._users = users
        self._key = key
        self.lifetime_s = lifetime_s
        # token hash -> (data, last_seen) as this request's get() read it: the save at the end of a request that
        # changed nothing is then skipped without a thread or a query. Never consulted for reading.
        self._read: dict[str, tuple[bytes, float]] = {}

    def _sign(self, th: str, uid: int, ver: int, created: float, absolute: float, address: str, data: bytes) -> str:
        msg = json.dumps([th, uid, ver, repr(created), repr(absolute), address], ensure_ascii=True).encode() + data
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    # -- sync work, run in a worker thread (a busy store file never stalls the event loop) ----------------
    def _set(self, key: str, value: bytes, expires_in: float | None) -> None:
        th = token_hash(key)
        try:
            sess = json.loads(value)
            uid, ver, created = int(sess[UID]), int(sess[VER]), float(sess[AT])
            address = str(sess.get(ADDR, ""))[:64]
        except (ValueError, TypeError, KeyError):
            self._delete(key)  # no user in it (anonymous, logged out): nothing worth keeping
            return
        now = time.time()
        absolute = created + self.lifetime_s
        expires = min(now + expires_in, absolute) if expires_in is not None else absolute
        sql = self._users.sql
        rows = sql("SELECT data, last_seen FROM console_sessions WHERE token_hash=?", (th,))
        if rows and bytes(rows[0][0]) == value:
            if now - rows[0][1] >= _touch_every(expires_in):
                sql("UPDATE console_sessions SET last_seen=?, expires=? WHERE token_hash=?", (now, expires, th))
            return
        sig = self._sign(th, uid, ver, created, absolute, address, value)
        # Written only while the account still has this credential version: a request that was in flight when
        # the password changed cannot put its session back.
        sql(
            "INSERT OR REPLACE INTO console_sessions (token_hash, user_id, cred_version, created, last_seen,"
            " expires, absolute, address, data, sig) SELECT ?,?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM"
            " console_users WHERE id=? AND cred_version=?)",
            (th, uid, ver, created, now, expires, absolute, address, value, sig, uid, ver))

    def _get(self, key: str, renew_for: float | None) -> bytes | None:
        th = token_hash(key)
        rows = self._users.sql("SELECT user_id, cred_version, created, absolute, address, data, sig, expires,"
                               " last_seen FROM console_sessions WHERE token_hash=?", (th,))
        if not rows:
            return None
        uid, ver, created, absolute, address, data, sig, expires, last_seen = rows[0]
        data = bytes(data)
        now = time.time()
        if not hmac.compare_digest(self._sign(th, uid, ver, created, absolute, address, data), str(sig)):
            log.warning("console session row with a bad signature ignored and deleted (was the store file edited?)",
                        extra=kv(user_id=uid))
            self._delete(key)
            return None
        if now >= expires or now >= absolute or now >= created + self.lifetime_s:
            self._delete(key)
            return None
        if renew_for is not None and now - last_seen >= _touch_every(renew_for):
            self._users.sql("UPDATE console_sessions SET last_seen=?, expires=? WHERE token_hash=?",
                            (now, min(now + renew_for, absolute), th))
            last_seen = now
        if len(self._read) > 10_000:
            self._read.clear()
        self._read[th] = (data, last_seen)
        return data

    def _delete(self, key: str) -> None:
        self._read.pop(token_hash(key), None)
        self._users.sql("DELETE FROM console_sessions WHERE token_hash=?", (token_hash(key),))

    # -- the Store interface -----------------------------------------------------------------------
    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else bytes(value)
        if data.strip() == b"{}":  # an anonymous request's empty session: no thread, no SQL, nothing written
            return
        seen = self._read.pop(token_hash(key), None)
        if seen is not None and seen[0] == data and time.time() - seen[1] < _touch_every(_seconds(expires_in)):
            return  # unchanged and touched a moment ago (by get): nothing to write
        await anyio.to_thread.run_sync(self._set, key, data, _seconds(expires_in))

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await anyio.to_thread.run_sync(self._get, key, _seconds(renew_for))

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete, key)

    async def delete_all(self) -> None:
        await anyio.to_thread.run_sync(self._users.sql, "DELETE FROM console_sessions")

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        rows = await anyio.to_thread.run_sync(self._users.sql, "SELECT min(expires, absolute) FROM console_sessions"
                                              " WHERE token_hash=?", (token_hash(key),))
        return max(0, int(rows[0][0] - time.time())) if rows else None


def new_session(user: Any, address: str) -> dict[str, Any]:
    """The session dict of a fresh login: who (id and credential version), when and from where."""
    return {UID: user.id, VER: user.cred_version, AT: time.time(), ADDR: address[:64]}


def session_user(users: UserStore, session: Any, lifetime_s: float, now: float | None = None) -> Any:
    """The user a session belongs to, or None when it no longer counts: the account was removed (a new one of
    the same name has another id), its password or role changed since, or the absolute lifetime is over."""
    if not isinstance(session, dict) or UID not in session:
        return None
    try:
        uid, ver, at = int(session[UID]), int(session[VER]), float(session[AT])
    except (KeyError, TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    if now >= at + lifetime_s:
        return None
    user = users.by_id(uid)
    if user is None or user.cred_version != ver:
        return None
    return user
