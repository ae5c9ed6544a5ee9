"""Device identifiers become HMAC-SHA-256 the moment they are read; the keys rotate and are destroyed.

Three keys, all random (32 bytes from :func:`secrets.token_bytes`), in one JSON file of mode 0600 beside the
store (``[visitors] key_file``):

- the **day key** (JST day): ``device`` of every session read that day. Distinct hashes within a day are
  exact unique devices; at JST midnight the key is replaced and the old one is gone, so nobody (the city
  included) can link a device's two days, nor test a known MAC against old rows.
- the **30-day key**, only when ``[visitors] returning = true``: ``device30``, for new vs returning over a
  30-day window (approximate: phones renew their random MAC). Turned off, it is deleted from the file.
- the **link keys** (today's and yesterday's): name an *open* session so its Stop or disassociation finds
  it; the store clears the link when the session closes. Yesterday's is kept one day for sessions that
  span midnight, then destroyed.

The file is rewritten whole (temporary file, fsync, rename) under an flock, so the daemon and a
``visitors import`` running at once agree on one key per day. A rewrite cannot scrub a flash disk's old
blocks: docs/privacy.md says so and what to do (an encrypted filesystem).

:class:`ImportKeys` gives an import run its own per-day keys, held in memory and dropped when it ends: the
days a CSV covers are past, their real day keys are already destroyed, and rows of different days must
not be linkable either.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.inventory import normalize_mac

JST_OFFSET_S = 9 * 3600
WINDOW_DAYS = 30
KEY_BYTES = 32


def jst_day(t: float) -> int:
    """Days since 1970-01-01 in Japan time: the unit of the day key and of every per-day figure."""
    return int((t + JST_OFFSET_S) // 86400)


def identity(raw: str) -> tuple[bytes, bool]:
    """The bytes hashed for a device id (a MAC in one canonical form, so every sender's spelling of the
    same address gives one hash; anything else, e.g. a User-Name, as given) and whether it is a locally
    administered (randomised) MAC."""
    mac = normalize_mac(raw)
    if mac is None:
        return raw.strip().encode("utf-8", "surrogateescape"), False
    return mac.encode(), bool(int(mac[:2], 16) & 0x02)


def _mac(key: bytes, msg: bytes) -> str:
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


class KeyRing:
    """The daemon's keys (see the module doc). Thread-safe; the file is read once a day, not per packet."""

    def __init__(self, path: str | os.PathLike[str], returning: bool = False):
        self.path = Path(path)
        self.returning = returning
        self._lock = threading.Lock()
        self._day = -1
        self._day_key = b""
        self._links: list[bytes] = []
        self._d30: bytes | None = None

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        if st.st_mode & 0o077:
            os.chmod(self.path, 0o600)  # keys are secrets: never group/world readable
        try:
            data = json.loads(self.path.read_text(encoding="ascii"))
        except (ValueError, UnicodeDecodeError):
            return {}  # a damaged file: new keys (old hashes become unlinkable, which is the safe side)
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _load(self, day: int) -> None:
        """Make ``day``'s keys current: read the file, rotate it if it is another day's, destroy the old."""
        with self._locked_file():
            data = self._read()
            window = day // WINDOW_DAYS
            changed = False
            if data.get("day") != day:
                prev = data.get("links", [])[:1] if data.get("day") == day - 1 else []
                data["links"] = [secrets.token_hex(KEY_BYTES), *prev]  # today's, and yesterday's for open sessions
                data["day_key"] = secrets.token_hex(KEY_BYTES)
                data["day"] = day
                changed = True
            if self.returning and data.get("window") != window:
                data["window"], data["d30_key"] = window, secrets.token_hex(KEY_BYTES)
                changed = True
            if not self.returning and "d30_key" in data:
                data.pop("d30_key"), data.pop("window", None)
                changed = True
            if changed:
                self._write(data)
        self._day = day
        self._day_key = bytes.fromhex(data["day_key"])
        self._links = [bytes.fromhex(k) for k in data["links"]]
        self._d30 = bytes.fromhex(data["d30_key"]) if self.returning else None

    def _current(self, now: float) -> None:
        day = jst_day(now)
        if day != self._day:
            self._load(day)

    def device(self, raw: str, now: float | None = None) -> tuple[str, str | None, bool]:
        """(day hash, 30-day hash or None, randomised) of a device id read at ``now``."""
        msg, randomized = identity(raw)
        with self._lock:
            self._current(time.time() if now is None else now)
            d30 = None if self._d30 is None else _mac(self._d30, msg)
            return _mac(self._day_key, msg), d30, randomized

    def links(self, *parts: str, now: float | None = None) -> list[str]:
        """What names an open session (sender, session id, device...) under today's and yesterday's link
        keys, current first. A MAC among ``parts`` is canonicalised first."""
        msg = b"\x1f".join(identity(p)[0] for p in parts)
        with self._lock:
            self._current(time.time() if now is None else now)
            return [_mac(k, msg) for k in self._links]

    def import_key(self) -> bytes:
        """The key of imported rows' idempotency keys (:func:`row_key`): kept, since de-duplication must
        outlive a day, but it names rows (time, spot, the export's session column), not devices."""
        with self._locked_file():
            data = self._read()
            if "import_key" not in data:
                data["import_key"] = secrets.token_hex(KEY_BYTES)
                self._write(data)
        return bytes.fromhex(data["import_key"])


class ImportKeys:
    """Per-day (and per-30-day window) keys that live only as long as one import run (module doc)."""

    def __init__(self, returning: bool = False):
        self.returning = returning
        self._days: dict[int, bytes] = {}
        self._windows: dict[int, bytes] = {}

    def device(self, raw: str, at: float) -> tuple[str, str | None, bool]:
        msg, randomized = identity(raw)
        day = jst_day(at)
        key = self._days.setdefault(day, secrets.token_bytes(KEY_BYTES))
        d30 = None
        if self.returning:
            d30 = _mac(self._windows.setdefault(day // WINDOW_DAYS, secrets.token_bytes(KEY_BYTES)), msg)
        return _mac(key, msg), d30, randomized




def row_key(key: bytes, *parts: str) -> str:
    """The store's ``ext`` of an imported row: a file imported twice stores each row once."""
    return _mac(key, b"\x1f".join(p.encode("utf-8", "surrogateescape") for p in parts))
