"""Alloy's part in the local stack: ``up{job}`` for each service, written to the store.

On the Pi, Alloy scrapes the services and probes the broker and Vector, and the "service down"
rules read the ``up`` series it writes (``render.alloy``). Locally there is no Alloy: this
prober asks each service the question Alloy's job asks (a TCP connect for the broker, the
health endpoint for the others) and writes the answer under the same job name, so the rules
see a service that is really down, and nothing else. ``alloy`` itself is reported up: the
prober is the one doing its job.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Self

from sensor_bridge.registry import ALLOY
from sensor_bridge.render import alloy
from sensor_bridge.store.client import Store, StoreError

INTERVAL_S = 5.0
Check = Callable[[], bool]


def http_ok(url: str) -> Check:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return 200 <= response.status < 300
        except OSError:
            return False

    return check


def always() -> bool:
    return True


class Prober:
    """Every ``INTERVAL_S``: each job's check, as ``up{job, studio}`` 1 or 0 in ``store``."""

    def __init__(self, store: Store, studio: str, checks: dict[str, Check]) -> None:
        unknown = set(checks) - set(alloy.JOBS)
        if unknown:
            raise ValueError(f"jobs Alloy does not have: {sorted(unknown)}")
        self._store = store
        self._studio = studio
        self._checks = {**checks, ALLOY.name: always}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def _run(self) -> None:
        while True:
            self.probe_once()
            if self._stop.wait(INTERVAL_S):
                return

    def probe_once(self) -> None:
        now_ms = int(time.time() * 1000)
        lines = [
            {
                "metric": {"__name__": "up", "job": job, "studio": self._studio},
                "values": [1.0 if check() else 0.0],
                "timestamps": [now_ms],
            }
            for job, check in self._checks.items()
        ]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        try:
            self._store.import_lines(body)
        except StoreError:
            # VictoriaMetrics itself is down (or restarting): nothing to write to, as for Alloy.
            pass

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
