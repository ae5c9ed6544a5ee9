"""InfluxDB 2.x/3.x (and VictoriaMetrics) sink through influxdb-client's SYNCHRONOUS WriteApi.

We batch and retry ourselves from the SQLite cursor: the client's batching mode reports failures only
to a callback and drops batches after its own retries, which loses data the store already accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from core.store.errors import SinkError, classify_status

log = logging.getLogger("wifiwatch.store.influx")


class InfluxV2Sink:
    def __init__(
        self,
        url: str,
        bucket: str,
        *,
        org: str = "",
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        verify_tls: bool = True,
    ):
        self.url = url.rstrip("/")
        self.database = bucket
        self.org = org
        # retries=0: a dead server must surface at once so the forwarder backs off with the batch unsent.
        creds: dict[str, Any] = {"username": username, "password": password or ""} if username and not token else {}
        self._client = InfluxDBClient(
            url=self.url, token=token or "", org=org or "-", timeout=int(timeout_s * 1000), verify_ssl=verify_tls,
            retries=urllib3.Retry(total=0, redirect=0), enable_gzip=False, **creds,
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def send(self, lines: Sequence[str]) -> None:
        try:
            self._write.write(bucket=self.database, org=self.org or "-", record="\n".join(lines),
                              write_precision=WritePrecision.NS)  # type: ignore[arg-type]
        except ApiException as e:
            status = int(e.status or 0)
            if status == 0:
                raise SinkError(f"InfluxDB unreachable at {self.url}: {e.reason}", retryable=True,
                                cause="unreachable") from None
            raise classify_status(status, _body(e), self.url, self.database) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            kind = "timed out" if isinstance(e, urllib3.exceptions.TimeoutError) else "unreachable"
            raise SinkError(f"InfluxDB {kind} at {self.url}: {type(e).__name__}: {e}", retryable=True,
                            cause="timeout" if kind == "timed out" else "unreachable") from None

    def ping(self) -> str | None:
        try:
            return None if self._client.ping() else f"{self.url}/ping did not answer"
        except Exception as e:  # noqa: BLE001 - status shows any failure as text
            return f"unreachable at {self.url}: {type(e).__name__}"

    def close(self) -> None:
        self._write.close()
        self._client.close()


def _body(e: ApiException) -> str:
    body = e.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or e.reason or "")
    try:
        import json

        data = json.loads(text)
        if isinstance(data, dict):
            return str(data.get("message") or data.get("error") or text)
    except ValueError:
        pass
    return text
