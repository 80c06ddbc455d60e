"""The real firmware on the virtual board, against a real Mosquitto started per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sensor_bridge.local.broker import Mosquitto
from tests.support.node import topic
from tests.support.recorder import Recorder


@pytest.fixture
def recorder(broker: Mosquitto) -> Iterator[Recorder]:
    # A persistent session: what the node publishes while the recorder is still
    # reconnecting after a broker restart is queued for it, not lost.
    with Recorder(broker.port, [topic("+")], clean_session=False) as rec:
        yield rec
