"""Resets of a board on CircuitPython's VM: ``microcontroller.reset()`` reboots it with reset
reason SOFTWARE and its nvm kept; a program that stops feeding the watchdog is reset with
reason WATCHDOG, the host enforcing the timeout the program set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from tests.integration.vm.vm_node import ROOMY_FREE_HEAP, vm_board, vm_drive
from tests.support.node import FEATHER_S3, PICO_W

BOARDS = [
    pytest.param(PICO_W, ROOMY_FREE_HEAP, id="pico_w-roomy-heap"),
    pytest.param(FEATHER_S3, None, id="feather_s3"),
]


def _field(line: str, key: str) -> str:
    found = re.search(rf"\b{key}=(\S+)", line)
    assert found is not None, line
    return found.group(1)


@pytest.mark.parametrize(("board_id", "free_heap"), BOARDS)
def test_software_reset_keeps_nvm(
    tmp_path: Path, broker: Mosquitto, board_id: str, free_heap: int | None
) -> None:
    drive = vm_drive(tmp_path / "drive", board_id, broker.port)
    safe_mode = ["--safe-mode", "BROWNOUT"]
    with vm_board(drive, board_id, free_heap=free_heap, extra_args=safe_mode) as board:
        # safemode.py records the safe mode in nvm, then calls microcontroller.reset().
        first = board.wait_for(r" INFO boot ", 60)
        board.wait_for(r" INFO settings_ok ", 30)
        mark = board.mark()
        board.control.send({"cmd": "reset"})
        second = board.wait_for(r" INFO boot ", 30, since=mark)
    assert _field(first, "reset_reason") == "SOFTWARE"
    assert _field(first, "safe_mode_reason") == "BROWNOUT"
    assert _field(second, "reset_reason") == "RESET_PIN"
    assert int(_field(second, "boot")) == int(_field(first, "boot")) + 1


@pytest.mark.parametrize(("board_id", "free_heap"), BOARDS)
def test_hung_program_is_reset_by_the_watchdog(
    tmp_path: Path, broker: Mosquitto, board_id: str, free_heap: int | None
) -> None:
    drive = vm_drive(tmp_path / "drive", board_id, broker.port)
    with vm_board(drive, board_id, free_heap=free_heap) as board:
        board.wait_for(r" INFO mqtt_connected ", 60)
        timeout = board.status()["watchdog"]["timeout"]
        assert board.control.send({"cmd": "hang"})["ok"]
        mark = board.mark()
        line = board.wait_for(r" INFO boot ", timeout + 30, since=mark)
        expired = board.wait_for(r"VIRTUAL watchdog expired", 1, stderr=True)
    assert _field(line, "reset_reason") == "WATCHDOG"
    assert f"timeout {timeout:g} s" in expired
