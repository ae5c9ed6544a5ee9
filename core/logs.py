"""Structured, redacted logging: one line per event as ``key=value`` pairs, secrets masked."""

from __future__ import annotations

import json
import logging
import sys
import time

from core.secrets import RedactingFilter


class KVFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg="..." key=value``: greppable, one event a line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        parts = [f"ts={ts}", f"level={record.levelname.lower()}", f"logger={record.name}",
                 f"msg={json.dumps(record.getMessage(), ensure_ascii=False)}"]
        extra = getattr(record, "kv", None)
        if isinstance(extra, dict):
            for k, v in extra.items():
                parts.append(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}")
        if record.exc_info and record.levelno >= logging.ERROR:
            parts.append(f"exc={json.dumps(self.formatException(record.exc_info), ensure_ascii=False)}")
        return " ".join(parts)


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
