"""``sensor-bridge console``: the board's lines stamped, coloured and logged, keys passed through.

The board is a pty the test holds (its master end), the console opens the other end with
pyserial as it would /dev/ttyACM0; the person's terminal is a second pty, the console's
controlling terminal, so a key the console failed to take raw would become a signal.
"""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import serial
from serial.tools.list_ports_common import ListPortInfo

from sensor_bridge.console.lines import LineBuffer, screen_line, strip_terminal_codes
from sensor_bridge.console.ports import CONSOLE_INTERFACE, pick_port
from sensor_bridge.console.session import Screen, run_session
from sensor_bridge.errors import BridgeError
from sensor_node.console import format_line

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"
ISO_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"
# CircuitPython's status bar: a window-title sequence written between (or inside) lines.
STATUS_BAR = "\x1b]0;\N{SNAKE}Wi-Fi: No IP | code.py | 9.2.1\x1b\\"
AT = datetime(2026, 11, 26, 21, 14, 39, 123000, tzinfo=timezone(timedelta(hours=1)))

BOOT = format_line(12, "INFO", "boot", ("fw", "0.1.0", "board", "raspberry_pi_pico_w"))
OFFLINE = format_line(35210, "WARN", "mqtt_down", ("error", "timed out", "retry_s", 2.0))
FAULT = format_line(40000, "ERROR", "sensor_fault", ("fault", "open_tc"))
DEBUG = format_line(41000, "DEBUG", "loop", ("max_ms", 312))


def test_lines_are_cut_cleaned_and_joined_across_reads() -> None:
    buffer = LineBuffer()
    snake = STATUS_BAR.encode()
    # The status bar arrives in two pieces, one in the middle of its emoji.
    assert buffer.feed(b"\x1b[2K\x1b[0G" + snake[:12]) == []
    assert buffer.feed(snake[12:] + BOOT.encode()[:5]) == []
    assert buffer.open_line() == BOOT[:5]
    assert buffer.feed(BOOT.encode()[5:] + b"\r\nAuto-reload is off.\r\n>>> ") == [
        BOOT,
        "Auto-reload is off.",
    ]
    assert buffer.open_line() == ">>> "
    assert buffer.feed(b"\x1b]0;half a title") == []
    assert buffer.open_line() == ">>> "
    assert buffer.feed(b" ends here\x1b\\1+1\r\n\xff\n") == [">>> 1+1", "\N{REPLACEMENT CHARACTER}"]


def test_strip_terminal_codes_leaves_text() -> None:
    assert strip_terminal_codes(f"{STATUS_BAR}0.012 INFO boot\r") == "0.012 INFO boot"


@pytest.mark.parametrize(
    ("line", "style"),
    [(DEBUG, "\x1b[2m"), (OFFLINE, "\x1b[33m"), (FAULT, "\x1b[1;31m")],
)
def test_event_lines_take_their_level_colour(line: str, style: str) -> None:
    assert screen_line(line, AT, colour=True) == f"\x1b[2m21:14:39.123\x1b[0m {style}{line}\x1b[0m"


def test_info_and_other_lines_stay_plain() -> None:
    assert screen_line(BOOT, AT, colour=True) == f"\x1b[2m21:14:39.123\x1b[0m {BOOT}"
    assert screen_line("Traceback (most recent call last):", AT, colour=True).endswith(
        "\x1b[0m Traceback (most recent call last):"
    )
    assert screen_line(FAULT, AT, colour=False) == f"21:14:39.123 {FAULT}"


def _port(device: str, vid: int | None, interface: str | None, product: str = "") -> ListPortInfo:
    port = ListPortInfo(device, skip_link_detection=True)
    port.vid = vid
    port.interface = interface
    port.product = product or None
    port.serial_number = "E6614C311B7C8A35" if vid else None
    return port


def test_the_board_console_is_picked_among_other_ports() -> None:
    ports = [
        _port("/dev/ttyS0", None, None),
        _port("/dev/ttyUSB0", 0x10C4, "CP2102 USB to UART Bridge Controller"),
        _port("/dev/ttyACM1", 0x2E8A, "CircuitPython CDC2 control", "Pico W"),
        _port("/dev/ttyACM0", 0x2E8A, CONSOLE_INTERFACE, "Pico W"),
        _port("/dev/ttyACM2", 0x2E8A, "Board CDC", "MicroPython Pico"),
    ]
    assert pick_port(ports).device == "/dev/ttyACM0"


def test_no_board_or_two_boards_is_one_line() -> None:
    with pytest.raises(BridgeError, match=r"^no CircuitPython board on USB .*--port$"):
        pick_port([_port("/dev/ttyUSB0", 0x10C4, None)])
    two = [
        _port("/dev/ttyACM0", 0x2E8A, CONSOLE_INTERFACE, "Pico W"),
        _port("/dev/ttyACM3", 0x239A, None, "Feather ESP32-S3"),
    ]
    with pytest.raises(BridgeError) as caught:
        pick_port(two)
    assert str(caught.value) == (
        "2 CircuitPython boards: /dev/ttyACM0 (Pico W, serial E6614C311B7C8A35), "
        "/dev/ttyACM3 (Feather ESP32-S3, serial E6614C311B7C8A35): choose one with --port"
    )


class Pty:
    """One pty: the test holds the master, the program under test opens ``path``."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        self.seen = b""

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, wanted: bytes, timeout: float = 5.0) -> bytes:
        """Everything read so far once it holds ``wanted``."""
        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"no {wanted!r} in {self.seen!r}")
            self.seen += os.read(self.master, 4096)
        return self.seen

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                continue


@pytest.fixture
def ptys() -> Iterator[tuple[Pty, Pty]]:
    board, terminal = Pty(), Pty()
    yield board, terminal
    board.close()
    terminal.close()


# What a shell does for the program it starts: its own session, the terminal its controlling one.
CONSOLE = (
    "import fcntl, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "from sensor_bridge.cli import main; main()"
)


def test_console_scenario(ptys: tuple[Pty, Pty], tmp_path: Path) -> None:
    board, terminal = ptys
    log = tmp_path / "console.log"
    with open(terminal.path, "rb+", buffering=0) as tty:
        process = subprocess.Popen(
            [sys.executable, "-c", CONSOLE, "console", "--port", board.path, "--log", str(log)],
            stdin=tty,
            stdout=tty,
            stderr=tty,
            start_new_session=True,
            env={key: value for key, value in os.environ.items() if key != "NO_COLOR"},
        )
    try:
        terminal.read_until(b"Ctrl-] quits, Ctrl-C and Ctrl-D go to the board ---")

        board.write(f"{STATUS_BAR}\r\n{BOOT}\r\n{OFFLINE[:20]}".encode())
        board.write(f"{OFFLINE[20:]}\r\n{FAULT}\r\nAuto-reload is off.\r\n>>> ".encode())
        screen = terminal.read_until(b">>> ").decode()
        stamp = rf"\x1b\[2m{STAMP}\x1b\[0m "
        assert re.search(rf"{stamp}{re.escape(BOOT)}\r\n", screen)
        assert re.search(rf"{stamp}\x1b\[33m{re.escape(OFFLINE)}\x1b\[0m\r\n", screen)
        assert re.search(rf"{stamp}\x1b\[1;31m{re.escape(FAULT)}\x1b\[0m\r\n", screen)
        assert re.search(rf"{stamp}Auto-reload is off.\r\n{stamp}>>> $", screen)
        assert "\x1b]0;" not in screen

        # Raw keys: neither a signal to the console nor held back until a newline.
        terminal.write(b"\x03")
        assert board.read_until(b"\x03") == b"\x03"
        terminal.write(b"\x04")
        assert board.read_until(b"\x04") == b"\x03\x04"
        terminal.write(b"1+1\r")
        assert board.read_until(b"\r") == b"\x03\x041+1\r"
        board.write(b"1+1\r\n2\r\n")
        assert re.search(rf">>> 1\+1\r\n{stamp}2\r\n$", terminal.read_until(b"2\r\n").decode())

        terminal.write(b"\x1d")
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()
    assert board.seen == b"\x03\x041+1\r"

    logged = log.read_text().splitlines()
    assert all(re.match(ISO_STAMP + " ", line) for line in logged), logged
    assert [line.split(" ", 1)[1] for line in logged] == [
        f"--- {board.path}: Ctrl-] quits, Ctrl-C and Ctrl-D go to the board ---",
        BOOT,
        OFFLINE,
        FAULT,
        "Auto-reload is off.",
        ">>> 1+1",
        "2",
    ]


def test_the_console_waits_for_a_board_that_resets(ptys: tuple[Pty, Pty]) -> None:
    before, after = ptys
    keys_read, keys_write = os.pipe()
    shown = io.StringIO()
    port = serial.Serial(before.path, timeout=0)
    session = threading.Thread(
        target=run_session,
        args=(port, before.path, lambda: serial.Serial(after.path, timeout=0), keys_read),
        kwargs={"screen": Screen(shown, colour=False)},
    )
    session.start()
    try:
        before.write(f"{BOOT}\r\n".encode())
        _wait_for(shown, BOOT)
        os.close(before.master)
        _wait_for(shown, f"--- {before.path} back ---")
        after.write(f"{FAULT}\r\n".encode())
        _wait_for(shown, FAULT)
    finally:
        os.write(keys_write, b"\x1d")
        session.join(timeout=5)
        os.close(keys_read)
        os.close(keys_write)
    assert not session.is_alive()
    lines = [line.split(" ", 1)[1] for line in shown.getvalue().splitlines()]
    assert lines == [
        BOOT,
        f"--- {before.path} gone (board reset or unplugged): waiting for it, Ctrl-] quits ---",
        f"--- {before.path} back ---",
        FAULT,
    ]


def _wait_for(shown: io.StringIO, text: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in shown.getvalue():
        assert time.monotonic() < deadline, shown.getvalue()
        time.sleep(0.01)
