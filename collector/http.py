"""``/healthz``, ``/status`` (collector.status) and ``/metrics`` for the daemon, on 127.0.0.1 unless configured
otherwise.

Off loopback a bearer token is required (the config refuses a non-loopback bind without one), since
the metrics name every AP and its error counts.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.metrics import REGISTRY
from core.netbind import parse_bind

log = logging.getLogger(__name__)


class StatusServer:
    def __init__(self, bind: str, port: int, health: Callable[[], dict[str, object]], token: str | None = None,
                 status: Callable[[], dict[str, object]] | None = None):
        self._health = health
        self._status = status
        self._token = token
        handler = self._handler()
        where = parse_bind(bind)  # the same parsing as check-config; an IPv6 address gets an IPv6 socket
        server_cls = type("Server", (ThreadingHTTPServer,), {"address_family": where.family})
        self.httpd = server_cls((where.listen_host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                log.debug("http %s", format % args)

            def _authorized(self) -> bool:
                if outer._token is None:
                    return True
                got = self.headers.get("Authorization", "")
                return hmac.compare_digest(got.encode(), f"Bearer {outer._token}".encode())

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if not self._authorized():
                    self._send(401, b"unauthorized\n", "text/plain")
                    return
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    status = outer._health()
                    code = 200 if status.get("ok") else 503
                    self._send(code, json.dumps(status, ensure_ascii=False).encode(), "application/json")
                elif path == "/status" and outer._status is not None:
                    try:
                        body, code = outer._status(), 200
                    except Exception as e:  # noqa: BLE001 - e.g. a damaged store: say so, /healthz says more
                        log.warning("status unavailable: %s", e)
                        body, code = {"error": f"status unavailable: {type(e).__name__}: {e}"}, 503
                    self._send(code, json.dumps(body, ensure_ascii=False).encode(), "application/json")
                elif path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

        return Handler
