"""A real VictoriaMetrics started by a test with the flags of a rendered quadlet.

Loopback port and data dir of the test's own; every other flag as rendered. It is a ``Store``
on that port: tests read back what was stored with the client the host uses (``export``: the
raw samples, as stored after deduplication; ``query``; ``flush``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Self

from sensor_bridge.checks.process import Service, free_port
from sensor_bridge.checks.victoriametrics import runnable_flags
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderContext
from sensor_bridge.store.client import Store
from sensor_bridge.store.urls import single_node

START_TIMEOUT_S = 20.0


class VictoriaMetrics(Store):
    """One server process; ``restart`` keeps its port and data."""

    def __init__(self, workdir: Path, unit_text: str, *, without: tuple[str, ...] = ()) -> None:
        """``without``: rendered flags (by name, e.g. ``-dedup.minScrapeInterval``) to leave out."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(single_node(self.url))
        flags = runnable_flags(unit_text, self.port, workdir / "data")
        self.flags = [f for f in flags if f.partition("=")[0] not in without]
        self._service = Service([require_tool("victoria-metrics"), *self.flags], workdir / "vm.log")

    def start(self) -> Self:
        self._service.start()
        if not self._service.wait_until(self.healthy, START_TIMEOUT_S):
            output = self._service.output()[-2000:]
            self._service.stop()
            raise RuntimeError(f"victoria-metrics did not become healthy; log: {output}")
        return self

    def stop(self) -> None:
        self._service.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def storing_in(context: RenderContext, url: str) -> RenderContext:
    """``context`` with its site's store the single node at ``url`` (a test's own): every
    configuration rendered from it reads and writes there."""
    site = context.site
    storage = site.storage.model_copy(update={"url": url, "insert_url": None, "select_url": None})
    return dataclasses.replace(context, site=site.model_copy(update={"storage": storage}))
