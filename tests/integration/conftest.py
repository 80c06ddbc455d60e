"""Fixtures shared by the integration tests: a real broker, the rendered VictoriaMetrics unit and
a real VictoriaMetrics started from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.local.examples import example_context
from sensor_bridge.local.victoriametrics import VictoriaMetrics
from sensor_bridge.render import RenderedFile, victoriametrics


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free loopback port, in the test's temp dir, stopped after it."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    with Mosquitto(workdir) as mosquitto:
        yield mosquitto


@pytest.fixture
def unit(tmp_path: Path) -> RenderedFile:
    """VictoriaMetrics' quadlet as the example site renders it."""
    (unit,) = victoriametrics.render(example_context(tmp_path / "site"))
    return unit


@pytest.fixture
def server(tmp_path: Path, unit: RenderedFile) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics on the rendered flags, in the test's temp dir, stopped after it."""
    (tmp_path / "vm").mkdir()
    with VictoriaMetrics(tmp_path / "vm", unit.text) as running:
        yield running
