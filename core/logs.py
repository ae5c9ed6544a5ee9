"""Structured, redacted logging: one line per event as ``key=value`` pairs, secrets masked."""

from __future__ import annotations

import json
import logging
import sys
import time

from core.secrets import REDACTOR, RedactingFilter


class KVFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg="..." key=value``: greppable, one event a line, secrets masked.

    Redaction happens here, on every part (message, ``extra=kv(...)`` values however nested, traceback),
    before JSON quoting, so a secret holding a quote or backslash is still found; the finished line gets
    one more pass for anything that only appears once the parts are joined.
    """

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [f"ts={ts}", f"level={record.levelname.lower()}", f"logger={record.name}",
                 f"msg={_dump(REDACTOR(record.getMessage()))}"]
        extra = getattr(record, "kv", None)
        if isinstance(extra, dict):
            for k, v in extra.items():
                parts.append(f"{REDACTOR(str(k))}={_dump(_redacted(v))}")
        if record.exc_info and record.levelno >= logging.ERROR:
            parts.append(f"exc={_dump(REDACTOR(self.formatException(record.exc_info)))}")
        if record.stack_info:
            parts.append(f"stack={_dump(REDACTOR(self.formatStack(record.stack_info)))}")
        return REDACTOR(" ".join(parts))


def _redacted(value: object) -> object:
    """``value`` with every string in it (keys, items, or the str() of any other object) redacted."""
    if isinstance(value, str):
        return REDACTOR(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {REDACTOR(str(k)): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    return REDACTOR(str(value))


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=lambda o: REDACTOR(str(o)))


def setup_logging(level: str = "info", stream=None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KVFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "urllib3", "asyncio", "httpx", "httpcore", "scapy.runtime"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def kv(**fields: object) -> dict[str, dict[str, object]]:
    """``log.info("polled", extra=kv(ap=..., ms=...))``."""
    return {"kv": fields}
