"""The Pico W on its own free heap (126,112 bytes at code.py start) keeps at least 40 kB free
(issue 12, item 4), read as the VM's own ``gc.mem_free()`` after a collection (the control
socket's ``heap``): online, while the broker refuses and readings pile up, and during the
backfill that follows.

The buffer is one ``bytearray`` of its whole capacity, allocated at boot (sensor_node.
ring_buffer), so a full buffer takes no more heap than an empty one; what an outage adds is the
offline path and the backfill's payloads, which this test runs. Filling the default 760 readings
takes 6 minutes at the shortest period and the 10,000 iterations under faults 17 more: those
figures are the benchmark's (tests/bench/firmware_heap.py, docs/benchmarks.md)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.node import PICO_W
from tests.support.recorder import Recorder

MIN_FREE = 40 * 1024
OUTAGE_S = 15.0
SAMPLE_EVERY_S = 1.0


def _free(board: VirtualBoardProcess) -> int:
    reply = board.control.send({"cmd": "heap"})
    assert reply.get("ok"), reply
    return int(reply["mem_free"])


def _lowest_free(board: VirtualBoardProcess, seconds: float) -> int:
    readings = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        readings.append(_free(board))
        time.sleep(SAMPLE_EVERY_S)
    return min(readings)


def _lowest_free_until(board: VirtualBoardProcess, text: str, since: int, timeout: float) -> int:
    readings = [_free(board)]
    deadline = time.monotonic() + timeout
    while not any(text in line for line in board.lines[since:]):
        assert time.monotonic() < deadline, f"no{text}in {timeout} s"
        readings.append(_free(board))
        time.sleep(SAMPLE_EVERY_S / 4)
    return min(readings)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 12 item 4: the Pico W keeps 31.1 kB free on the VM engine (25.4 kB in the "
    "backfill); the VM's qstr pool tables take 5.8 kB a board would not (docs/firmware-memory.md),"
    " so about 37 kB (31 kB) on a board, not 40 kB; remove this mark once it keeps 40 kB",
)
def test_pico_w_keeps_40_kb_free_online_in_an_outage_and_in_the_backfill(
    tmp_path: Path, broker: Mosquitto, recorder: Recorder
) -> None:
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port, SAMPLE_PERIOD_S="0.5")
    with vm_board(drive, PICO_W) as board:
        line = board.wait_for(r" INFO birth_published | ERROR reset ", 60)
        assert "birth_published" in line, "\n".join(board.lines[-15:])
        settings_ok = board.wait_for(r" INFO settings_ok ", 1)
        assert " buffer_capacity=760" in settings_ok, settings_ok
        recorder.wait_for(lambda m: m.channel == "telemetry", 15)
        online = _lowest_free(board, 5)
        board.control.send({"cmd": "net", "state": "refuse"})
        outage = _lowest_free(board, OUTAGE_S)
        mark = board.mark()
        board.control.send({"cmd": "net", "state": "up"})
        backfill = _lowest_free_until(board, " INFO backfill_done ", mark, 60)
        assert any(" INFO backfill_start " in line for line in board.lines[mark:])
        after = _lowest_free(board, 3)
        resets = [line for line in board.lines if " ERROR reset " in line]
    figures = {"online": online, "outage": outage, "backfill": backfill, "after": after}
    print(f"Pico W free heap: {figures}")
    assert not resets, resets
    assert min(figures.values()) >= MIN_FREE, figures
