"""Load and validate the inventory file, reporting every problem as ``FILE:LINE: field: message``.

TOML parsers do not keep positions, so :func:`key_lines` re-reads the text to map a field path such as
``sites[1].aps[0].vendor`` to the line that set it. It understands what config files use: tables,
arrays of tables, dotted keys and inline tables on one line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from core import config_checks
from core.config_ja import message_ja, pydantic_ja
from core.inventory import Inventory

DEFAULT_CONFIG = "config/sites.toml"
CONFIG_ENV = "WIFIWATCH_CONFIG"

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str
    ja: str = ""  # the message in Japanese (check-config's default language); English when empty

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"

    def text(self, lang: str = "en") -> str:
        """``FILE:LINE: field: message`` in ``lang`` (ja, or en)."""
        msg = (self.ja or message_ja(self.message)) if lang == "ja" else self.message
        return f"{self.file}:{self.line}: {self.field}: {msg}"


class ConfigError(Exception):
    """Raised with every problem found; its message lists them one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(file)"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")


def _split_key(key: str) -> list[str]:
    return [k.strip().strip('"').strip("'") for k in key.split(".")]


def key_lines(text: str) -> dict[Path_, int]:
    """Map each table and key path to the 1-based line that defines it."""
    lines: dict[Path_, int] = {}
    counts: dict[Path_, int] = {}
    current: Path_ = ()
    in_multiline = False
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_multiline:
            if '"""' in line or "'''" in line:
                in_multiline = False
            continue
        if not line or line.startswith("#"):
            continue
        m = _HEADER.match(line)
        if m and not _KEY.match(line):
            names = _split_key(m[2])
            # Resolve parent arrays to their latest element: [[sites.aps]] lives in the last [[sites]].
            resolved: list[str | int] = []
            for name in names:
                resolved.append(name)
                prefix = tuple(resolved)
                if prefix in counts and len(resolved) < len(names):
                    resolved.append(counts[prefix] - 1)
            path = tuple(resolved)
            if m[1] == "[[":
                idx = counts.get(path, 0)
                counts[path] = idx + 1
                lines.setdefault(path, no)
                path = path + (idx,)
            lines[path] = no
            current = path
            continue
        km = _KEY.match(line)
        if km:
            kpath = current + tuple(_split_key(km[1]))
            lines[kpath] = no
            rest = line[km.end() :]
            if rest.count('"""') == 1 or rest.count("'''") == 1:
                in_multiline = True
            # Inline table: record its keys on the same line.
            inline = re.match(r"\s*\{(.*)\}\s*(#.*)?$", rest)
            if inline:
                for sub in re.finditer(r"([A-Za-z0-9_\-]+)\s*=", inline[1]):
                    lines[kpath + (sub[1],)] = no
    return lines


def line_for(lines: dict[Path_, int], path: Path_) -> int:
    """The line of the longest known prefix of ``path`` (a missing key points at its table)."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return 1


def _clean_msg(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _pydantic_problems(file: str, lines: dict[Path_, int], err: ValidationError) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = _clean_msg(e["msg"])
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check its spelling)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        out.append(Problem(file, line_for(lines, loc), format_path(loc), msg,
                           pydantic_ja(e["type"], e.get("ctx"), msg)))
    return out


def _cross_checks(
    file: str, lines: dict[Path_, int], inv: Inventory, known_vendors: set[str] | None
) -> list[Problem]:
    """What needs the validated inventory; the checks that can run on the raw data (ids, vendors, addresses,
    SNMP settings, maintenance targets, channel names) are in core.config_checks, so they report with any
    schema error."""
    return []


def parse_config(
    text: str, file: str = "<config>", known_vendors: set[str] | None = None
) -> Inventory:
    """Validate config text; raises :class:`ConfigError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        line = int(m[1]) if m else 1
        raise ConfigError([Problem(file, line, "(syntax)", f"malformed TOML: {e}")]) from None
    except RecursionError:
        raise ConfigError([_too_deep(file)]) from None
    lines = key_lines(text)
    try:
        # Checks across the file run on the raw data, so they report together with any schema error.
        problems = [Problem(file, line_for(lines, where), format_path(where), en, ja)
                    for where, en, ja in config_checks.check(data, known_vendors)]
        try:
            inv = Inventory.model_validate(data)
        except ValidationError as e:
            raise ConfigError(_ordered(_pydantic_problems(file, lines, e) + problems)) from None
    except RecursionError:
        raise ConfigError([_too_deep(file)]) from None
    problems += _cross_checks(file, lines, inv, known_vendors)
    if problems:
        raise ConfigError(_ordered(problems))
    return inv


def _too_deep(file: str) -> Problem:
    return Problem(file, 1, "(syntax)", "nested too deeply to read (arrays or tables inside one another)")


def _ordered(problems: list[Problem]) -> list[Problem]:
    """By line, each once: a reader fixes the file top to bottom."""
    return sorted(dict.fromkeys(problems), key=lambda p: p.line)


def load_config(path: str | os.PathLike[str] | None = None, known_vendors: set[str] | None = None) -> Inventory:
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(p), 1, "(file)", "file not found")]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([Problem(str(p), 1, "(file)", f"not UTF-8 text: {e.reason}")]) from None
    except OSError as e:
        raise ConfigError([Problem(str(p), 1, "(file)", f"cannot read: {e.strerror}")]) from None
    return parse_config(text, str(p), known_vendors)
