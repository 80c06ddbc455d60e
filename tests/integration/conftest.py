"""Fixtures shared by the integration tests that run the firmware against a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free loopback port, in the test's temp dir, stopped after it."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    with Mosquitto(workdir) as mosquitto:
        yield mosquitto
