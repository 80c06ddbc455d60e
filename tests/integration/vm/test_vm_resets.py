"""Resets of a board on CircuitPython's VM: ``microcontroller.reset()`` reboots it with reset
reason SOFTWARE and its nvm kept; a program that stops feeding the watchdog is reset with
reason WATCHDOG, the host enforcing the timeout the program set; a start after a streak of
early nvm writes waits before it writes again (finding 9); libraries that take longer than
the watchdog's timeout to import cost no reset (finding 10)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from sensor_bridge.local.broker import Mosquitto
from sensor_node import persist
from tests.integration.vm.vm_node import ROOMY_FREE_HEAP, vm_board, vm_drive
from tests.support.node import FEATHER_S3, PICO_W
from tests.support.waiting import stays_true

SLOW_IMPORT_S = 12
"""An import longer than any board's default watchdog timeout (the Pico's 8 s): compiling
the libraries' ``.py`` on an RP2040 takes seconds, and nobody has measured how many."""

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


def test_a_start_after_an_early_write_waits_before_writing_nvm(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """A Pico W's nvm says the boot before wrote in its first hour: the next start (power-on
    here, as after a watchdog reset or a brown-out) holds ``hold_s(1)`` before it writes its
    number, in the same boot. The firmware before the bound wrote at every start, so
    a loop erased a 4 KB sector at every boot (ports/raspberrypi/common-hal/nvm/ByteArray.c)."""
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port)
    state = drive / ".virtual"
    state.mkdir(exist_ok=True)
    reserved, streak = 41, 1
    record = persist.MAGIC + bytes([streak]) + reserved.to_bytes(4, "little")
    (state / "nvm.bin").write_bytes(record.ljust(persist.SIZE, b"\0"))
    hold_s = persist.hold_s(streak)
    with vm_board(drive, PICO_W, free_heap=ROOMY_FREE_HEAP) as board:
        boot = board.wait_for(r" INFO boot ", 60)
        held = board.wait_for(r" WARN hold ", 5)
        stays_true(
            lambda: board.status()["nvm"]["writes"] == 0, hold_s - 5, "no nvm write in the hold"
        )
        board.wait_for(r" INFO settings_ok ", 30)
        status = board.status()
    wear = status["nvm"]
    assert status["resets"] == 0, status
    assert len([line for line in board.lines if " INFO boot " in line]) == 1, board.lines
    assert _field(boot, "reset_reason") == "POWER_ON"
    assert int(_field(boot, "boot")) == reserved + 1
    assert int(_field(held, "wait_s")) == hold_s == 30
    assert wear["writes"] == 1, wear
    written = (state / "nvm.bin").read_bytes()
    assert written[3] == streak + 1
    assert int.from_bytes(written[4:8], "little") == reserved + 2


def test_libraries_slower_to_import_than_the_watchdog_cost_no_reset(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """MiniMQTT takes ``SLOW_IMPORT_S`` to import (a ``.py`` beside its ``.mpy`` that sleeps,
    then takes the compiled module's names); the watchdog is armed after the imports, so the
    board connects with no reset. Armed before them, as it was, the host's watchdog fires."""
    drive = vm_drive(tmp_path / "drive", PICO_W, broker.port)
    package = drive / "lib" / "adafruit_minimqtt"
    (package / "adafruit_minimqtt.mpy").rename(package / "compiled.mpy")
    (package / "adafruit_minimqtt.py").write_text(
        f"import time\ntime.sleep({SLOW_IMPORT_S})\nfrom adafruit_minimqtt.compiled import *\n"
    )
    with vm_board(drive, PICO_W, free_heap=ROOMY_FREE_HEAP) as board:
        board.wait_for(r" INFO boot ", 60)
        booted = time.monotonic()
        mark = board.mark()
        board.wait_for(r" INFO mqtt_connected ", SLOW_IMPORT_S + 60, since=mark)
        assert time.monotonic() - booted >= SLOW_IMPORT_S
        status = board.status()
    assert status["watchdog"]["mode"] == "RESET", status["watchdog"]
    assert 0 < status["watchdog"]["timeout"] < SLOW_IMPORT_S, status["watchdog"]
    assert status["resets"] == 0, status
    assert not any("watchdog expired" in line for line in board.stderr_lines), board.stderr_lines
