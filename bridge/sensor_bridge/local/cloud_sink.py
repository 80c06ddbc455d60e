"""The rendered ``grafana_cloud`` sink, for the forwarder: remote write through a disk buffer.

What it copies from the rendered sink (``render.vector_cloud``) and from Vector:

* every batch is first written to a ``DiskBuffer`` (``buffer.max_size``, ``buffer.when_full``)
  and sent from there, oldest first, one request in flight (``request.concurrency: 1``);
* a request that fails (no connection, or a status ``retryable`` says Vector retries) is sent
  again, after a backoff that starts at 1 s and grows along the Fibonacci sequence up to 30 s
  (the ``retry_initial_backoff_secs`` and ``retry_max_duration_secs`` defaults of
  ``TowerRequestConfigDefaults``, src/sinks/util/service.rs; Vector adds jitter), for ever
  (``RETRY_ATTEMPTS`` is isize::MAX there); any other status drops the request;
* HTTP basic auth with the user and password of the sink's ``auth``.
"""

from __future__ import annotations

import json
import threading
import urllib.error
from pathlib import Path
from typing import Any

from sensor_bridge.local import remote_write
from sensor_bridge.local.disk_buffer import DiskBuffer

RETRY_INITIAL_S = 1.0
RETRY_MAX_S = 30.0
_NOT_IMPLEMENTED = 501


def retryable(status: int) -> bool:
    """Whether Vector 0.57 sends a request answered with ``status`` again: its
    ``RetryStrategy::Default`` (src/sinks/util/http.rs, ``retry_action``; the sink's
    ``http_response_retry_logic``) retries 408, 429 and every 5xx but 501."""
    return status in (408, 429) or (500 <= status <= 599 and status != _NOT_IMPLEMENTED)


class CloudSink:
    """``sink`` (the rendered sink's config, secrets resolved) with its buffer in ``directory``."""

    def __init__(
        self,
        sink: dict[str, Any],
        directory: Path,
        *,
        endpoint: str | None = None,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        buffer = sink["buffer"]
        self.buffer = DiskBuffer(directory, buffer["max_size"], buffer["when_full"])
        self.endpoint = endpoint or sink["endpoint"]
        auth = sink["auth"]
        self._auth = (auth["user"], auth["password"])
        self._retry_max_s = retry_max_s
        self.sent_requests = 0
        self.rejected: list[int] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloud-sink", daemon=True)

    def start(self) -> CloudSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.buffer.close()
        self._thread.join(timeout=10)

    def send(self, series: list[remote_write.Series]) -> bool:
        """Buffer ``series`` for the cloud; False when the full buffer dropped them."""
        record = [{"labels": dict(s.labels), "samples": list(s.samples)} for s in series]
        return self.buffer.push(json.dumps(record).encode())

    def _run(self) -> None:
        delays = _fibonacci(RETRY_INITIAL_S, self._retry_max_s)
        while not self._stopping.is_set():
            record = self.buffer.oldest(timeout=0.2)
            if record is None:
                continue
            if self._deliver(record):
                self.buffer.ack()
                delays = _fibonacci(RETRY_INITIAL_S, self._retry_max_s)
            else:
                self._stopping.wait(next(delays))

    def _deliver(self, record: bytes) -> bool:
        """True when the record is done with (accepted, or refused for good)."""
        series = [
            remote_write.Series(item["labels"], [tuple(s) for s in item["samples"]])
            for item in json.loads(record)
        ]
        try:
            remote_write.write(self.endpoint, series, auth=self._auth)
        except urllib.error.HTTPError as error:
            if retryable(error.code):
                return False
            self.rejected.append(error.code)
            return True
        except OSError:
            return False
        self.sent_requests += 1
        return True


def _fibonacci(first: float, cap: float) -> Any:
    current, following = first, first
    while True:
        yield min(current, cap)
        current, following = following, current + following
