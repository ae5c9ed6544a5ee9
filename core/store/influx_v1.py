"""InfluxDB 1.x sink: POST /write?db=…&precision=ns with line protocol (also served by 2.x/3.x compat)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

from core.store.errors import SinkError, classify_status

log = logging.getLogger("wifiwatch.store.influx")


class InfluxV1Sink:
    """Writes batches with explicit ns timestamps, so re-sending one after a crash overwrites, never duplicates."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
        verify_tls: bool = True,
    ):
        self.url = url.rstrip("/")
        self.database = database
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        auth: httpx.BasicAuth | None = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username is not None:
            auth = httpx.BasicAuth(username, password or "")
        self._client = httpx.Client(timeout=timeout_s, verify=verify_tls, headers=headers, auth=auth)

    def send(self, lines: Sequence[str]) -> None:
        body = "\n".join(lines).encode("utf-8")
        try:
            r = self._client.post(f"{self.url}/write", params={"db": self.database, "precision": "ns"}, content=body)
        except httpx.TimeoutException as e:
            raise SinkError(f"InfluxDB at {self.url} timed out: {type(e).__name__}", retryable=True,
                            cause="timeout") from None
        except httpx.HTTPError as e:
            raise SinkError(f"InfluxDB unreachable at {self.url}: {e}", retryable=True, cause="unreachable") from None
        if r.status_code >= 300:
            raise classify_status(r.status_code, _error_text(r), self.url, self.database)

    def ping(self) -> str | None:
        """None when the server answers /ping, else why not."""
        try:
            r = self._client.get(f"{self.url}/ping")
        except httpx.HTTPError as e:
            return f"unreachable at {self.url}: {e}"
        return None if r.status_code < 300 else f"{self.url}/ping answered {r.status_code}"

    def close(self) -> None:
        self._client.close()


def _error_text(r: httpx.Response) -> str:
    try:
        data = r.json()
        if isinstance(data, dict) and "error" in data:
            return str(data["error"])
        if isinstance(data, dict) and "message" in data:
            return str(data["message"])
    except ValueError:
        pass
    return r.text
