"""The relabeling proxy between vmctl and VictoriaMetrics: vmctl's series names and tags in,
the contract's names and labels out.

vmctl names an InfluxDB series ``{measurement}{separator}{field}`` with every tag as a label
and cannot rename. The other ways to rename were worse: ``-relabelConfig`` on VictoriaMetrics
changes the live store's configuration (and its live ingestion) for a one-off job; importing
into a staging VictoriaMetrics and copying from there needs a second server and twice the
disk on the Pi. This proxy runs inside the command for the migration only, speaks the two
endpoints vmctl uses (``/health`` and ``/api/v1/import``, JSON lines), maps each series with the
same pure function the plan used (``NameMap.target``), and imports the batch into the store
(``Store.import_lines``) before answering vmctl, with an error when the store refused, so
vmctl's retries cover the real store. Fields with no mapping row (vmctl reads whole
measurements) are dropped here and counted; the plan lists them as not migrated. So are the
samples of a series at or after its first live sample (``Plan.live``): they would interleave
with the live pipeline's.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from sensor_bridge.migrate.mapping import LegacySeries, MappingError, NameMap, Target
from sensor_bridge.migrate.plan import NS_PER_MS
from sensor_bridge.migrate.vmctl import SEPARATOR
from sensor_bridge.store.client import Store, StoreError

IMPORT_PATH = "/api/v1/import"
"""Where vmctl sends its batches (``--vm-addr`` is the proxy's URL)."""
FORWARD_TIMEOUT_S = 120.0


class ImportRefused(Exception):
    """A line vmctl sent cannot be mapped or read; the message says which."""


def relabel_line(line: bytes, names: NameMap) -> tuple[dict[str, Any] | None, int]:
    """One JSON line of vmctl's import → (the line for VictoriaMetrics, or None when its field
    is not migrated; its sample count)."""
    try:
        series = json.loads(line)
        metric = dict(series["metric"])
        name = metric.pop("__name__")
        samples = len(series["timestamps"])
    except (ValueError, KeyError, TypeError) as error:
        raise ImportRefused(f"unreadable import line ({error}): {line[:200]!r}") from None
    measurement, separator, field = name.partition(SEPARATOR)
    if not separator:
        raise ImportRefused(f"series name {name!r} lacks the measurement-field separator")
    if names.row(measurement, field) is None:
        return None, samples
    try:
        target = names.target(LegacySeries.of(measurement, field, metric))
    except MappingError as error:
        raise ImportRefused(str(error)) from None
    out = {
        "metric": target.label_dict(),
        "values": series["values"],
        "timestamps": series["timestamps"],
    }
    return out, samples


Limits = Mapping[tuple[tuple[str, str], ...], int]
"""Label set (sorted, with ``__name__``) → the first time (ms) not to write."""


def limits_of(live: Mapping[Target, int]) -> Limits:
    """``Plan.live`` (ns) as the proxy applies it."""
    return {tuple(sorted(t.label_dict().items())): ns // NS_PER_MS for t, ns in live.items()}


def _before(out: dict[str, Any], limit_ms: int) -> int:
    """Keep only ``out``'s samples before ``limit_ms``; how many were taken out."""
    pairs = [(t, v) for t, v in zip(out["timestamps"], out["values"], strict=True) if t < limit_ms]
    held = len(out["timestamps"]) - len(pairs)
    out["timestamps"], out["values"] = [t for t, _ in pairs], [v for _, v in pairs]
    return held


def relabel_body(
    body: bytes, names: NameMap, limits: Limits | None = None
) -> tuple[bytes, int, int]:
    """A whole import request → (the body to forward, samples kept, samples dropped)."""
    lines: list[bytes] = []
    kept = dropped = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        out, samples = relabel_line(line, names)
        if out is None:
            dropped += samples
            continue
        limit = (limits or {}).get(tuple(sorted(out["metric"].items())))
        if limit is not None:
            held = _before(out, limit)
            dropped += held
            samples -= held
            if not out["timestamps"]:
                continue
        kept += samples
        lines.append(json.dumps(out, separators=(",", ":")).encode())
    return b"\n".join(lines) + (b"\n" if lines else b""), kept, dropped


class RelabelProxy:
    """The proxy on a free loopback port; ``samples``/``dropped`` count what went through since
    the last ``reset``; ``error`` holds the first refusal."""

    def __init__(self, names: NameMap, store: Store, limits: Limits | None = None) -> None:
        self.names = names
        self.limits = limits
        self.store = Store(store.urls, FORWARD_TIMEOUT_S)
        self.samples = 0
        self.dropped = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self) -> None:
        with self._lock:
            self.samples = self.dropped = 0
            self.error = None

    def handle_import(self, body: bytes) -> tuple[int, bytes]:
        """Relabel and forward one import request; (status for vmctl, its body)."""
        try:
            forward, kept, dropped = relabel_body(body, self.names, self.limits)
        except ImportRefused as error:
            self._note_error(str(error))
            return 400, str(error).encode()
        if kept:
            try:
                self.store.import_lines(forward)
            except StoreError as error:
                self._note_error(str(error))
                return 502, str(error).encode()
        with self._lock:
            self.samples += kept
            self.dropped += dropped
        return 204, b""

    def _note_error(self, message: str) -> None:
        with self._lock:
            if self.error is None:
                self.error = message

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """vmctl closes its idle keep-alive connections when it exits: not an error."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)


def _handler(proxy: RelabelProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.partition("?")[0] == "/health":
                self._reply(200, b"OK")
            else:
                self._reply(404, b"the migration proxy serves /health and /api/v1/import only")

        def do_POST(self) -> None:
            if self.path.partition("?")[0] != IMPORT_PATH:
                self._reply(404, b"the migration proxy serves /health and /api/v1/import only")
                return
            # vmctl runs with --vm-compress=false: the body is plain JSON lines.
            self._reply(*proxy.handle_import(self._body()))

        def _body(self) -> bytes:
            # vmctl streams its batches: chunked transfer encoding, no Content-Length.
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():
                            continue
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the command prints its own progress."""

    return Handler
