"""The virtual board's console on a pty answers as CircuitPython's does, byte for byte where
the HIL suite and tools like mpremote depend on it: the REPL, the raw REPL and soft reboots,
on both engines (the vm engine's REPL runs on CircuitPython's VM). No broker: the firmware
keeps trying to connect, which does not concern the console."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensor_bridge.checks.process import free_port
from tests.hil.serial_board import CTRL_A, CTRL_B, CTRL_D, BoardError, SerialBoard
from tests.integration.vm.vm_node import vm_drive
from tests.support.node import PICO_W, make_drive

pytestmark = pytest.mark.slow

BANNERS = {
    "cpython": re.escape(
        "Adafruit CircuitPython 10.0.3 on 2025-10-17; Raspberry Pi Pico W with rp2040"
    ),
    # The VM's own release and build date (its sys.version).
    "vm": r"Adafruit CircuitPython 10\.1\.0 on \d{4}-\d\d-\d\d; Raspberry Pi Pico W with rp2040",
}


@pytest.fixture(params=sorted(BANNERS))
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def board(tmp_path: Path, engine: str) -> Iterator[SerialBoard]:
    drive = (vm_drive if engine == "vm" else make_drive)(tmp_path / "drive", PICO_W, free_port())
    link = tmp_path / "tty"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("sensor-bridge")),
            "virtual-board",
            "--drive",
            str(drive),
            "--pty-link",
            str(link),
            "--engine",
            engine,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        process.stdout.readline()
        serial_board = SerialBoard(str(link)).open()
        try:
            yield serial_board
        finally:
            serial_board.close()
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
    assert not link.exists(), "the link outlived the board"


def test_repl_and_raw_repl_behave_as_circuitpython(board: SerialBoard, engine: str) -> None:
    # Not " INFO boot ": that is printed before the settings are read, and with them
    # supervisor.runtime.autoreload, which the soft reboot below reports.
    board.wait_line(r" WARN mqtt_connect_failed ", 60, 0)
    banner = board.enter_repl()
    assert re.fullmatch(BANNERS[engine], banner), banner
    assert "KeyboardInterrupt" in board.text()

    mark = board.mark()
    board.write(b"6 * 7\r")
    board.expect(b"6 * 7\r\n42\r\n>>> ", 5, mark)
    # Ctrl-C at the prompt only cancels the line, however soon it follows the keys.
    mark = board.mark()
    board.write(b"22\x03")
    board.write(b"2 + 3\r")
    board.expect(b"22\r\n>>> 2 + 3\r\n5\r\n>>> ", 5, mark)
    mark = board.mark()
    board.write(b"for n in range(2):\r")
    board.expect(b"... ", 5, mark)
    board.write(b"  print(n)\r\r")
    board.expect(b"0\r\n1\r\n>>> ", 5, mark)

    assert board.exec_raw("import board\nprint(board.board_id)") == "raspberry_pi_pico_w\n"
    with pytest.raises(BoardError, match=r'File "<stdin>", line 2[\s\S]*ValueError: bad'):
        board.exec_raw("x = 1\nraise ValueError('bad')")

    # Ctrl-D on an empty raw REPL: "OK", a soft reboot, and the raw REPL again (no code.py).
    mark = board.mark()
    board.write(CTRL_A)
    board.expect(b"raw REPL; CTRL-B to exit\r\n>", 5, mark)
    mark = board.mark()
    board.write(CTRL_D)
    board.expect(b"OK\r\nsoft reboot\r\nraw REPL; CTRL-B to exit\r\n>", 10, mark)
    mark = board.mark()
    board.write(CTRL_B)
    board.expect(b"\r\n\r\n" + banner.encode() + b"\r\n>>> ", 10, mark)

    lines, after = board.soft_reboot()
    assert lines == ["soft reboot", "Auto-reload is off.", "code.py output:"]
    board.wait_line(r" INFO boot .* reset_reason=POWER_ON", 20, after)


def test_keys_typed_ahead_wait_for_the_next_boot(board: SerialBoard) -> None:
    # mpremote's way in: Ctrl-C, a key for "Press any key", Ctrl-A, without waiting between.
    board.wait_line(r" WARN mqtt_connect_failed ", 60, 0)
    mark = board.mark()
    board.write(b"\r\x03\r\x01")
    board.expect(b"raw REPL; CTRL-B to exit\r\n>", 20, mark)
    mark = board.mark()
    board.write(b"print(6 * 7)\x04")
    board.expect(b"OK42\r\n\x04\x04>", 10, mark)
