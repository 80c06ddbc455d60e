"""``sensor-bridge console [--port PORT] [--log FILE]``: the board's serial console."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from sensor_bridge.errors import BridgeError

BAUD = 115200
"""USB CDC ignores it; a board on a USB-serial adapter needs it."""


def _keys_fd() -> int | None:
    """Standard input's descriptor, or None when there is none (a service, CI)."""
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (AttributeError, OSError, ValueError):
        return None


@click.command()
@click.option(
    "--port",
    metavar="PORT",
    help="The board's serial port, e.g. /dev/ttyACM0. Default: the console of the one "
    "CircuitPython board on USB (found again after the board resets).",
)
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also append every line to FILE, stamped with the date and time, without colours.",
)
def console(port: str | None, log_file: Path | None) -> None:
    """Show the board's serial console and type into it (the REPL).

    Each line is stamped with the time it arrived; the firmware's event lines are coloured
    by level (DEBUG dim, WARN yellow, ERROR red) when the output is a terminal (NO_COLOR
    turns that off). When the board resets, the console waits for its port and carries on.

    \b
    Keys go to the board as typed, except one:
      Ctrl-C  interrupts the running code (then any key enters the REPL)
      Ctrl-D  soft reload: runs code.py again
      Ctrl-]  quits the console
    """
    import serial

    from sensor_bridge.console.ports import find_port
    from sensor_bridge.console.session import Screen, raw_keys, run_session

    def open_port() -> Any:
        device = port or find_port().device
        return serial.Serial(device, baudrate=BAUD, timeout=0, exclusive=True)

    try:
        first = open_port()
    except serial.SerialException as error:
        raise BridgeError(f"cannot open the board's port: {error}") from None
    keys_fd = _keys_fd()
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    with contextlib.ExitStack() as stack:
        log = None
        if log_file is not None:
            try:
                log = stack.enter_context(log_file.open("a", encoding="utf-8"))
            except OSError as error:
                first.close()
                raise BridgeError(f"cannot write the log {log_file}: {error.strerror}") from None
        stack.enter_context(raw_keys(keys_fd))
        screen = Screen(sys.stdout, colour, log)
        screen.notice(f"{first.port}: Ctrl-] quits, Ctrl-C and Ctrl-D go to the board")
        try:
            run_session(first, first.port, open_port, keys_fd, screen)
        except KeyboardInterrupt:
            # Without a terminal there is no raw mode, and Ctrl-C is this process's signal.
            pass
