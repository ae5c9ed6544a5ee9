"""The one error sinks raise, classified so the forwarder knows whether to wait or to dead-letter."""

from __future__ import annotations

from core.secrets import REDACTOR


class SinkError(Exception):
    """A failed write. ``retryable``: the server may accept the same batch later (down, timeout, 5xx, 429).

    Otherwise it is permanent for this batch (4xx): ``status`` and the server's ``message`` (redacted)
    say why; ``cause`` is a short human label for logs (wrong token, missing database, ...).
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None, cause: str = ""):
        self.message = REDACTOR(message)
        self.retryable = retryable
        self.status = status
        self.cause = cause or ("unreachable" if status is None else f"HTTP {status}")
        super().__init__(self.message)

    @property
    def bisectable(self) -> bool:
        """One bad line fails the whole batch (parse error, type conflict, too large): splitting finds it.
        Wrong credentials or a missing database fail every line alike, so splitting would only add requests."""
        return not self.retryable and self.status in (400, 413, 422)


def classify_status(status: int, body: str, url: str, database: str) -> SinkError:
    """Map an HTTP error answer from /write to a SinkError naming the cause."""
    text = body.strip()[:500] or f"HTTP {status}"
    if status in (401, 403):
        return SinkError(f"InfluxDB at {url} rejected the credentials (wrong token or user/password): {text}",
                         retryable=False, status=status, cause="wrong credentials")
    if status == 404:
        cause = "missing database" if "database" in text.lower() or "bucket" in text.lower() else "not found"
        return SinkError(f"InfluxDB at {url}: database/bucket '{database}' not found: {text}",
                         retryable=False, status=status, cause=cause)
    if status == 429 or status >= 500:
        return SinkError(f"InfluxDB at {url} answered {status}: {text}", retryable=True, status=status,
                         cause="server busy" if status in (429, 503) else "server error")
    cause = "type conflict" if "conflict" in text else "unparsable line" if "parse" in text else f"HTTP {status}"
    return SinkError(f"InfluxDB at {url} refused the batch ({status}): {text}", retryable=False, status=status,
                     cause=cause)
