"""The firmware bundle on CircuitPython's own VM (the virtual board's ``--engine vm``), against
a real Mosquitto started per test.

The VM and mpy-cross come from ``sensor_bridge.circuitpython_tools``; a missing one fails
the test with its one line (never a skip).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sensor_bridge import circuitpython_tools
from sensor_bridge.local.broker import Mosquitto
from tests.support.node import topic
from tests.support.recorder import Recorder


@pytest.fixture(autouse=True)
def circuitpython_vm() -> None:
    try:
        circuitpython_tools.require(circuitpython_tools.MCU_VM, circuitpython_tools.MPY_CROSS)
    except circuitpython_tools.CircuitPythonToolError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def recorder(broker: Mosquitto) -> Iterator[Recorder]:
    with Recorder(broker.port, [topic("+")]) as rec:
        yield rec
