"""The unmodified bundle on CircuitPython's VM with each board's heap: boot, MQTT over real
TCP to a real Mosquitto, readings through the firmware's MAX31856 driver and the
register-level chip, and the errno a refused connection shows on each port family."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_bridge.virtual.pins import board_spec
from sensor_bridge.virtual.vm.heapsize import CLOSE
from sensor_protocol.payloads import decode_readings
from tests.integration.vm.vm_node import ROOMY_FREE_HEAP, family, vm_board, vm_drive
from tests.support.node import FEATHER_S3, PICO_W
from tests.support.recorder import Message, Recorder

FURNACE_C = 612.5
"""A temperature the furnace model does not reach by itself: a reading near it came through
the chain (furnace model -> MAX31856 registers -> SPI -> sensor_node.max31856 on the VM)."""
TOLERANCE_C = 4.0
"""Turbulence (~0.8 C), chip noise and the furnace's drift between sample and check."""
TELEMETRY_WAIT_S = 30.0

BOARDS = [
    pytest.param(PICO_W, ROOMY_FREE_HEAP, id="pico_w-roomy-heap"),
    pytest.param(FEATHER_S3, None, id="feather_s3"),
]


def _temperature(message: Message) -> float | None:
    (reading,) = decode_readings(message.payload)["readings"]
    value = reading["temp_c"]
    return None if value is None else float(value)


def _telemetry(
    board: VirtualBoardProcess, recorder: Recorder, wanted: Callable[[Message], bool], after: int
) -> Message:
    """The first telemetry message from ``after`` on that ``wanted`` accepts; fails at once
    when the firmware resets the board instead."""
    mark = board.mark()
    deadline = time.monotonic() + TELEMETRY_WAIT_S
    while True:
        try:
            return recorder.wait_for(
                lambda m: m.channel == "telemetry" and wanted(m), 1, after=after
            )
        except TimeoutError:
            resets = [line for line in board.lines[mark:] if " ERROR reset " in line]
            assert not resets, "\n".join(board.lines[-15:])
            if time.monotonic() > deadline:
                raise


def _telemetry_follows_the_furnace(board: VirtualBoardProcess, recorder: Recorder) -> None:
    line = board.wait_for(r" INFO birth_published | ERROR reset ", 60)
    assert "birth_published" in line, "\n".join(board.lines[-15:])
    board.control.send({"cmd": "furnace", "temp_c": FURNACE_C})

    def near_the_set_value(message: Message) -> bool:
        value = _temperature(message)
        return value is not None and abs(value - FURNACE_C) < 3 * TOLERANCE_C

    message = _telemetry(board, recorder, near_the_set_value, len(recorder.messages))
    for _ in range(3):
        message = _telemetry(board, recorder, bool, recorder.messages.index(message) + 1)
        model_c = board.status()["furnace"]["temp_c"]
        assert _temperature(message) == pytest.approx(model_c, abs=TOLERANCE_C), model_c


@pytest.mark.parametrize(("board_id", "free_heap"), BOARDS)
def test_bundle_publishes_the_furnace_temperature(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder, board_id: str, free_heap: int | None
) -> None:
    drive = vm_drive(tmp_path / "drive", board_id, broker.port, SAMPLE_PERIOD_S=1)
    with vm_board(drive, board_id, free_heap=free_heap) as board:
        _telemetry_follows_the_furnace(board, recorder)
        vm = board.status()["vm"]
    target = free_heap or board_spec(board_id).free_heap_bytes
    # The firmware starts with the board's free heap, as the VM's own gc.mem_free() reads it,
    # to the calibration's step: the VM's start is not byte-for-byte the same from run to run.
    assert abs(target - vm["free_at_start"]) < CLOSE, vm
    print(f"{board_id}: {vm}")


def test_pico_w_publishes_with_its_own_heap(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S=1)
    with vm_board(drive, PICO_W) as board:
        _telemetry_follows_the_furnace(board, recorder)


@pytest.mark.parametrize(("board_id", "free_heap"), BOARDS)
def test_refused_broker_shows_the_port_errno(
    tmp_path: Path, board_id: str, free_heap: int | None
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    drive = vm_drive(tmp_path / "drive", board_id, closed_port)
    expected = family(board_id).reset_errno
    with vm_board(drive, board_id, free_heap=free_heap) as board:
        line = board.wait_for(r" WARN mqtt_connect_failed ", 60)
    # lwIP turns the RST that answers the SYN into ERR_RST: ECONNRESET, never ECONNREFUSED.
    assert expected in line, line
    assert "ECONNREFUSED" not in line, line
