"""One SQLite file, several components: each with its own table namespace and its own schema version.

The measurement store (``store_*`` tables) and the alert store (``alert_*``) share the daemon's file. Until
schema 2 both created a table called ``dead_letter`` with different columns, so whichever opened the file
first won and the other crashed (``no such column``). Now every table carries its component's prefix,
:func:`check_namespace` refuses a DDL statement outside it, and each component records its version in
``wifiwatch_schema`` (one row per component) instead of the file-wide ``PRAGMA user_version``.

Migrations run at start, inside one ``BEGIN IMMEDIATE`` transaction per component, so two processes
opening an old file at once migrate it once; a failed migration leaves the file as it was.
``PRAGMA user_version`` is kept at :data:`FILE_FORMAT` so a wifiwatch older than the namespaces (which
refuses a user_version above its own) stops with a clear message instead of writing its old tables.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.logs import kv

log = logging.getLogger("wifiwatch.store")

VERSIONS_TABLE = "wifiwatch_schema"
FILE_FORMAT = 2  # PRAGMA user_version of a namespaced file (1: the first release, one unprefixed layout)


class SchemaError(RuntimeError):
    """The file was written by a newer wifiwatch, or a migration failed: the file is left unchanged."""


@dataclass(frozen=True)
class Migration:
    """Brings a component from ``version - 1`` (or from nothing) to ``version``; ``why`` goes to the log."""

    version: int
    why: str
    apply: Callable[[sqlite3.Connection], None]


_DDL_NAME = re.compile(r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


def statements(ddl: str) -> list[str]:
    """Split a DDL script (no ';' inside literals) into statements: ``executescript`` would commit the
    migration's transaction half-way."""
    return [s.strip() for s in ddl.split(";") if s.strip()]


def check_namespace(prefix: str, ddl: str) -> None:
    """Every table and index a component creates must start with its prefix (a programming error if not)."""
    for name in _DDL_NAME.findall(ddl):
        if not name.startswith(prefix):
            raise ValueError(f"{name}: outside the '{prefix}' namespace")


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection with the settings every component needs, whichever opens the file first."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    try:
        if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
            # Must precede the first table: lets prune/disk-full hand freed pages back to the filesystem.
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def adopt(conn: sqlite3.Connection, old: str, new: str, needs: set[str]) -> bool:
    """Rename a first-release table ``old`` to ``new`` if it exists, has the ``needs`` columns (so it is
    this component's, not another's of the same name) and ``new`` does not exist yet."""
    have = tables(conn)
    if old not in have or new in have or not needs <= columns(conn, old):
        return False
    conn.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')
    return True


def version(conn: sqlite3.Connection, component: str) -> int | None:
    if VERSIONS_TABLE not in tables(conn):
        return None
    row = conn.execute(f"SELECT version FROM {VERSIONS_TABLE} WHERE component=?", (component,)).fetchone()
    return None if row is None else int(row[0])


def migrate(
    conn: sqlite3.Connection, component: str, migrations: Sequence[Migration],
    legacy: Callable[[sqlite3.Connection], int], where: str,
) -> int:
    """Run the migrations ``component`` lacks; returns its version. ``legacy`` tells the version of a file
    without a row for the component (0: nothing of it there; 1: the first release's tables)."""
    latest = migrations[-1].version
    conn.execute("BEGIN IMMEDIATE")
    try:
        file_format = conn.execute("PRAGMA user_version").fetchone()[0]
        if file_format > FILE_FORMAT:
            raise SchemaError(f"{where} has file format {file_format}, newer than this wifiwatch ({FILE_FORMAT}):"
                              " upgrade wifiwatch or use another store path")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} "
                     "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        current = version(conn, component)
        if current is None:
            current = legacy(conn)
        if current > latest:
            raise SchemaError(f"{where}: the {component} tables have schema version {current}, newer than this"
                              f" wifiwatch ({latest}): upgrade wifiwatch or use another store path")
        for m in migrations:
            if m.version > current:
                m.apply(conn)
                if current:
                    log.info("store schema migrated", extra=kv(path=where, component=component,
                                                                from_version=current, to_version=m.version,
                                                                why=m.why))
                current = m.version
        conn.execute(f"INSERT OR REPLACE INTO {VERSIONS_TABLE} (component, version) VALUES (?, ?)",
                     (component, current))
        if file_format < FILE_FORMAT:
            conn.execute(f"PRAGMA user_version={FILE_FORMAT}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return current


def explain(e: sqlite3.Error, path: str) -> tuple[str, str]:
    """(reason, what to do) for an SQLite error of the store file: the operator's next step, in one line."""
    msg = str(e)
    low = msg.lower()
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return (f"the store file {path} is damaged ({msg})",
                f"stop wifiwatch, move {path} (and its -wal/-shm files) aside, keep them for recovery "
                f"(sqlite3 FILE .recover), then start wifiwatch again: it creates a new store; points already "
                f"forwarded to InfluxDB are safe")
    if "full" in low:
        return f"the disk holding {path} is full ({msg})", "free space on that filesystem"
    if "readonly" in low or "read-only" in low or "permission" in low or "unable to open" in low:
        return (f"cannot write the store file {path} ({msg})",
                "check the file's and its directory's owner and permissions")
    if "locked" in low:
        return f"the store file {path} is locked ({msg})", "check that no other program holds it open"
    return f"store error on {path} ({msg})", "see the SQLite message"
