"""A webhook receiver on loopback that keeps what the daemon sends: the demo's and the soak bench's duty phone."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Every POST body is kept with its arrival time (``{"at", "body"}``); bodies that are not JSON as text."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    outer.messages.append({"at": time.time(), "body": json.loads(body)})
                except ValueError:
                    outer.messages.append({"at": time.time(), "body": body.decode("utf-8", "replace")})
                self.send_response(200)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def bodies(self) -> list[Any]:
        return [m["body"] for m in list(self.messages)]

    def close(self) -> None:
        self.httpd.shutdown()
