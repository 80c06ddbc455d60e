"""A real VictoriaMetrics started by a test with the flags of a rendered quadlet.

Loopback port and data dir of the test's own; every other flag as rendered. Helpers read back
what was stored: ``export`` (raw samples, as stored after deduplication) and ``query``.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Self

from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.checks.victoriametrics import healthy, runnable_flags
from sensor_bridge.local.tools import require_tool

START_TIMEOUT_S = 20.0


class VictoriaMetrics:
    """One server process; ``restart`` keeps its port and data."""

    def __init__(self, workdir: Path, unit_text: str, *, without: tuple[str, ...] = ()) -> None:
        """``without``: rendered flags (by name, e.g. ``-dedup.minScrapeInterval``) to leave out."""
        self.port = free_port()
        flags = runnable_flags(unit_text, self.port, workdir / "data")
        self.flags = [f for f in flags if f.partition("=")[0] not in without]
        self.url = f"http://127.0.0.1:{self.port}"
        self._service = Service([require_tool("victoria-metrics"), *self.flags], workdir / "vm.log")

    def start(self) -> Self:
        self._service.start()
        if not self._service.wait_until(lambda: healthy(self.port), START_TIMEOUT_S):
            output = self._service.output()[-2000:]
            self._service.stop()
            raise RuntimeError(f"victoria-metrics did not become healthy; log: {output}")
        return self

    def stop(self) -> None:
        self._service.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        """Make everything written so far searchable (a test-only endpoint)."""
        self._get("/internal/force_flush")

    def export(self, match: str) -> list[dict[str, Any]]:
        """Stored series matching ``match``: ``{"metric", "values", "timestamps"}`` each."""
        text = self._get("/api/v1/export", {"match[]": match})
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def query(self, query: str, at_ms: int) -> list[dict[str, Any]]:
        """An instant query at ``at_ms``: ``{"metric", "value": [time, "value"]}`` each."""
        body = json.loads(self._get("/api/v1/query", {"query": query, "time": str(at_ms / 1000)}))
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def _get(self, path: str, params: dict[str, str] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            text: str = response.read().decode()
            return text

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
