"""Thermocouple faults are data: flagged on every reading, never a temperature, cleared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_protocol.fields import FAULT_BITS, FAULTS_INVALIDATING_TEMPERATURE
from sensor_protocol.payloads import decode_readings
from tests.support.node import PICO_W, make_drive, topic
from tests.support.recorder import Message, Recorder

DEBOUNCE = 2
BITS = dict(FAULT_BITS)


def _reading(message: Message) -> dict[str, Any]:
    reading: dict[str, Any] = decode_readings(message.payload)["readings"][0]
    return reading


@pytest.mark.parametrize(
    ("injected", "flag"),
    [
        ("open_tc", "open_tc"),
        ("voltage", "voltage"),
        ("tc_range", "tc_range"),
        ("cj_range", "cj_range"),
        ("no_conversion", "timeout"),
        ("cj_high", "cj_high"),
    ],
)
def test_fault_is_flagged_without_a_temperature_then_recovers(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder, injected: str, flag: str
) -> None:
    bit = BITS[flag]
    drive = make_drive(
        tmp_path / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=1, FAULT_DEBOUNCE=DEBOUNCE
    )
    telemetry = topic("telemetry")
    with VirtualBoardProcess(drive, speed=5) as board:
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
