"""Checkers: validate rendered files with the real tool each service uses.

A checker takes the rendered tree's root and its files and returns one ``CheckResult`` per
file it validated. A tool that is not installed gives ``NOT_CHECKED`` (``check --strict``
turns that into a failure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sensor_bridge.render import RenderedFile

OK = "ok"
FAILED = "failed"
NOT_CHECKED = "not checked"
UNAVAILABLE = "no binary here"
"""For tools that no package source of a test machine provides (Vector, Alloy): checked
whenever a binary exists, and always by the deploy on the Pi before a swap. ``--strict`` does
not fail on these; the other checks of the same files (the VRL run with vrl-python) still do."""


@dataclass(frozen=True)
class CheckResult:
    file: str
    tool: str
    version: str
    result: str
    detail: str = ""


Checker = Callable[[Path, Sequence[RenderedFile]], list[CheckResult]]


def checkers() -> dict[str, Checker]:
    """Checker by the name ``RenderedFile.check`` uses: each service's (named by the
    registry), then the quadlets' (every container service's unit)."""
    from sensor_bridge.checks import quadlet
    from sensor_bridge.registry import SERVICES

    found = {service.name: service.checker.load() for service in SERVICES}
    return {**found, quadlet.NAME: quadlet.check}
