"""Edits of the inventory file made from the console (alert thresholds and channels).

The file stays the one source of truth that SIGHUP and check-config read: an edit is applied with tomlkit
(comments and layout kept), the result is validated as a whole exactly as the daemon would load it, and only
then replaces the file atomically, the previous version kept beside it as ``NAME.bak``. A refused edit
leaves the file untouched. Secrets never pass through here as values: channel fields that hold one accept
only a reference (``env:NAME`` / ``file:KEY``), which the inventory model enforces.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from core.config import ConfigError, Problem, parse_config

#: [alerts] keys staff may change from the console, with their types
THRESHOLDS: dict[str, type] = {
    "down_after": int, "up_after": int, "flap_changes": int, "flap_window_min": float, "reminder_h": float,
    "degraded_loss_pct": float, "degraded_rtt_ms": float, "saturation_minutes": float,
}
#: channel keys the console edits; lists are typed one item per line
CHANNEL_KEYS: dict[str, type] = {
    "name": str, "type": str, "lang": str, "smtp_host": str, "smtp_port": int, "starttls": bool,
    "smtp_user": str, "smtp_password": str, "sender": str, "to": list, "url": str, "verify_tls": bool,
    "min_severity": str, "site_kinds": list,
}
SECRET_FIELDS = ("smtp_user", "smtp_password", "url")
MAX_FILE_BYTES = 4 * 1024 * 1024


class EditError(Exception):
    """An edit refused: ``problems`` says why, in the same form as check-config."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _edit(path: Path, change: Callable[[Any], None], known_vendors: set[str] | None) -> None:
    text = path.read_text(encoding="utf-8")
    if len(text) > MAX_FILE_BYTES:
        raise EditError([Problem(str(path), 1, "(file)", "the file is too large to edit here")])
    doc = tomlkit.parse(text)
    change(doc)
    new = tomlkit.dumps(doc)
    try:
        parse_config(new, str(path), known_vendors)
    except ConfigError as e:
        raise EditError(e.problems) from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        path.with_name(path.name + ".bak").write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _alerts(doc: Any) -> Table:
    if "alerts" not in doc:
        doc["alerts"] = tomlkit.table()
    return doc["alerts"]  # type: ignore[no-any-return]


def _typed(key: str, raw: str, kinds: dict[str, type]) -> Any:
    kind = kinds[key]
    raw = raw.strip()
    if kind is bool:
        return raw in {"1", "true", "on", "yes"}
    if kind is list:
        return [x.strip() for x in raw.replace(",", "\n").splitlines() if x.strip()]
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{key}: '{raw[:20]}' is not a whole number") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{key}: '{raw[:20]}' is not a number") from None
    return raw


def _field_problem(path: Path, key: str, e: ValueError) -> EditError:
    return EditError([Problem(str(path), 1, key, str(e).split(": ", 1)[-1])])


def set_thresholds(path: Path, values: dict[str, str], known_vendors: set[str] | None = None) -> dict[str, Any]:
    """Set the given [alerts] thresholds (form text); returns what changed, old and new."""
    changed: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for key, raw in values.items():
        if key in THRESHOLDS and raw.strip():
            try:
                typed[key] = _typed(key, raw, THRESHOLDS)
            except ValueError as e:
                raise _field_problem(path, f"alerts.{key}", e) from None

    def change(doc: Any) -> None:
        alerts = _alerts(doc)
        for key, value in typed.items():
            old = alerts.get(key)
            if old != value:
                alerts[key] = value
                changed[key] = (old, value)

    _edit(path, change, known_vendors)
    return changed


def upsert_channel(path: Path, values: dict[str, str], known_vendors: set[str] | None = None) -> bool:
    """Add the channel named in ``values`` or replace the console-editable keys of the one of that name;
    True when it is new. A secret field left empty keeps its current reference."""
    chan: dict[str, Any] = {}
    for key, raw in values.items():
        if key in CHANNEL_KEYS and (raw.strip() or key in {"to", "site_kinds"}):
            try:
                chan[key] = _typed(key, raw, CHANNEL_KEYS)
            except ValueError as e:
                raise _field_problem(path, f"alerts.channels.{key}", e) from None
    # a form leaves an unticked box out: the flag that belongs to the channel's type is then false
    flag = "starttls" if chan.get("type") == "email" else "verify_tls"
    chan[flag] = values.get(flag, "") in {"1", "true", "on", "yes"}
    chan.pop("verify_tls" if flag == "starttls" else "starttls", None)
    name = str(chan.get("name", ""))
    if not name:
        raise EditError([Problem(str(path), 1, "alerts.channels.name", "a channel needs a name")])
    created = False

    def change(doc: Any) -> None:
        nonlocal created
        alerts = _alerts(doc)
        if "channels" not in alerts:
            alerts["channels"] = tomlkit.aot()
        channels: AoT = alerts["channels"]
        for t in channels:
            if t.get("name") == name:
                for key in CHANNEL_KEYS:
                    if key in chan:
                        t[key] = chan[key]
                    elif key not in SECRET_FIELDS and key in t and key not in {"name"}:
                        del t[key]
                return
        created = True
        t = tomlkit.table()
        for key, value in chan.items():
            t[key] = value
        channels.append(t)

    _edit(path, change, known_vendors)
    return created


def remove_channel(path: Path, name: str, known_vendors: set[str] | None = None) -> None:
    """Remove a channel; refused (by validation) while escalation or the file still names it."""

    def change(doc: Any) -> None:
        alerts = _alerts(doc)
        channels = alerts.get("channels")
        keep = [t for t in (channels or []) if t.get("name") != name]
        if channels is None or len(keep) == len(channels):
            raise EditError([Problem(str(path), 1, "alerts.channels", f"no channel '{name[:60]}'")])
        if not keep:
            del alerts["channels"]
            return
        new = tomlkit.aot()
        for t in keep:
            new.append(t)
        alerts["channels"] = new

    _edit(path, change, known_vendors)
