"""Thermocouple faults are data: flagged on every reading, never a temperature, cleared.
Every fault on the CPython engine; on CircuitPython's VM one that voids the temperature and
one that does not (the driver and the debouncer on the VM's floats and integers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_protocol.fields import FAULT_BITS, FAULTS_INVALIDATING_TEMPERATURE
from sensor_protocol.payloads import decode_readings
from tests.integration.node.engines import pico_w
from tests.support.node import topic
from tests.support.recorder import Message, Recorder

DEBOUNCE = 2
BITS = dict(FAULT_BITS)


def _reading(message: Message) -> dict[str, Any]:
    reading: dict[str, Any] = decode_readings(message.payload)["readings"][0]
    return reading


INJECTED = {
    "open_tc": "open_tc",
    "voltage": "voltage",
    "tc_range": "tc_range",
    "cj_range": "cj_range",
    "no_conversion": "timeout",
    "cj_high": "cj_high",
}
"""The emulated chip's fault -> the flag the reading carries."""
CASES = [pytest.param(name, "cpython", id=name) for name in INJECTED] + [
    pytest.param(name, "vm", id=f"{name}-vm") for name in ("open_tc", "cj_high")
]


@pytest.mark.parametrize(("injected", "engine"), CASES)
def test_fault_is_flagged_without_a_temperature_then_recovers(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder, injected: str, engine: str
) -> None:
    flag = INJECTED[injected]
    bit = BITS[flag]
    board = pico_w(
        tmp_path, engine, broker.port, speed=5, SAMPLE_PERIOD_S=1, FAULT_DEBOUNCE=DEBOUNCE
    )
    telemetry = topic("telemetry")
    with board:
        recorder.wait_for(lambda m: m.topic == telemetry and _reading(m)["faults"] == 0, 30)
        start = len(recorder.messages)
        board.control.send({"cmd": "fault", "name": injected, "active": True})
        flagged = recorder.wait_for(
            lambda m: m.topic == telemetry and bool(_reading(m)["faults"] & bit), 30, after=start
        )
        board.wait_for(rf" fault_set fault=\S*{flag}", 10)
        during = len(recorder.messages)
        recorder.wait_for(lambda m: m.topic == telemetry, 10, after=during)
        board.control.send({"cmd": "fault", "name": injected, "active": False})
        cleared = recorder.wait_for(
            lambda m: m.topic == telemetry and _reading(m)["faults"] == 0, 30, after=during
        )
    # Before the debounce count is reached, a faulted conversion is already no temperature.
    for message in recorder.messages[start : recorder.messages.index(cleared)]:
        if message.topic != telemetry:
            continue
        reading = _reading(message)
        if bit & FAULTS_INVALIDATING_TEMPERATURE and int(reading["faults"]) & bit:
            assert reading["temp_c"] is None
    if bit & FAULTS_INVALIDATING_TEMPERATURE:
        assert _reading(flagged)["temp_c"] is None
    else:
        assert _reading(flagged)["temp_c"] is not None
    assert isinstance(_reading(cleared)["temp_c"], float)
