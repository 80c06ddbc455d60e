"""A webhook receiver on loopback: records what Alertmanager posts, per URL path.

It stands in for Grafana IRM: the rendered config's IRM URLs point at ``url(name)``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Notified:
    """One alert of one webhook body: where it went, when, firing or resolved, its labels."""

    path: str
    at: float
    """time.monotonic() when the body arrived."""
    status: str
    labels: dict[str, str]


class WebhookReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: list[tuple[str, float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver._lock:
                    receiver._bodies.append((self.path, time.monotonic(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest shows the assertions, not an access log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        """The URL a receiver named ``name`` posts to (IRM's have a trailing slash)."""
        return f"http://127.0.0.1:{self.port}/{name}/"

    def bodies(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for path, _, body in self._bodies if path == f"/{name}/"]

    def notified(self) -> list[Notified]:
        """Every alert of every body, in arrival order."""
        with self._lock:
            return [
                Notified(path.strip("/"), at, alert["status"], alert["labels"])
                for path, at, body in self._bodies
                for alert in body["alerts"]
            ]

    def wait_for(self, found: Callable[[list[Notified]], bool], timeout: float) -> bool:
        """Poll until ``found`` holds for what arrived so far; False when time is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found(self.notified()):
                return True
            time.sleep(0.1)
        return found(self.notified())

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
