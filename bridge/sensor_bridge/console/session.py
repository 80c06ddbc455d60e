"""The console loop between a board's serial port and a person's terminal.

The board's lines go to the terminal, stamped and coloured, and to the log; the keys go to the
board byte for byte, Ctrl-C (interrupt) and Ctrl-D (soft reload) included, except Ctrl-], which
quits. For that the terminal is put in raw mode: no line editing, no echo (the REPL echoes), no
signals from keys. Output processing stays on, so a newline still starts a new line.

A board that resets (watchdog, ``microcontroller.reset()``, a new firmware) leaves USB for a
moment: the console says so, waits, and carries on when ``reopen`` finds the port again.
"""

from __future__ import annotations

import os
import select
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol, TextIO

from sensor_bridge.console.lines import LineBuffer, log_line, screen_line, screen_notice
from sensor_bridge.errors import BridgeError

QUIT_KEY = b"\x1d"
"""Ctrl-]: the key telnet, miniterm and picocom's neighbours use to leave."""
IDLE_S = 0.05
"""Quiet this long and a line still open (a REPL prompt) is shown as it is."""
RETRY_S = 0.5
"""How often a port that went away is looked for again."""


class SerialPort(Protocol):
    """What the loop needs of a ``serial.Serial``."""

    @property
    def in_waiting(self) -> int: ...

    def fileno(self) -> int: ...

    def read(self, size: int) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


def _now() -> datetime:
    return datetime.now().astimezone()


class Screen:
    """The board's lines on the terminal (stamped, coloured when ``colour``) and in the log
    (stamped, plain). A line still open can be shown before it ends; the rest of it follows on
    the same terminal line."""

    def __init__(
        self,
        out: TextIO,
        colour: bool,
        log: TextIO | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._out = out
        self._colour = colour
        self._log = log
        self._clock = clock
        self._shown = ""

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _keep(self, text: str) -> None:
        if self._log is not None:
            self._log.write(text + "\n")
            self._log.flush()

    def _end_open_line(self) -> None:
        if self._shown:
            self._write("\n")
            self._shown = ""

    def line(self, text: str) -> None:
        """A complete line from the board."""
        at = self._clock()
        if self._shown and text.startswith(self._shown):
            self._write(text[len(self._shown) :] + "\n")
            self._shown = ""
        else:
            self._end_open_line()
            self._write(screen_line(text, at, self._colour) + "\n")
        self._keep(log_line(text, at))

    def open_line(self, text: str) -> None:
        """The line the board has begun and not ended, as far as it goes."""
        if not text or text == self._shown:
            return
        if self._shown and text.startswith(self._shown):
            self._write(text[len(self._shown) :])
        else:
            self._end_open_line()
            self._write(screen_line(text, self._clock(), self._colour))
        self._shown = text

    def notice(self, text: str) -> None:
        """A line of the console's own."""
        at = self._clock()
        self._end_open_line()
        self._write(screen_notice(text, at, self._colour) + "\n")
        self._keep(log_line(f"--- {text} ---", at))


@contextmanager
def raw_keys(fd: int | None) -> Iterator[None]:
    """Keys reach the program one by one, unechoed and unsignalled, while inside; the terminal
    is restored on the way out. Nothing changes when ``fd`` is not a terminal."""
    if fd is None or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[0] &= ~(
        termios.BRKINT
        | termios.ICRNL
        | termios.INLCR
        | termios.IGNCR
        | termios.ISTRIP
        | termios.IXON
    )
    mode[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
    mode[6][termios.VMIN] = 1
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Link:
    """The port while the board is there, the line it is writing, and when to look for the
    port again once it has gone."""

    def __init__(
        self, port: SerialPort, name: str, reopen: Callable[[], SerialPort], screen: Screen
    ) -> None:
        self.port: SerialPort | None = port
        self.lines = LineBuffer()
        self._name = name
        self._reopen = reopen
        self._screen = screen
        self._next_try = 0.0

    def send(self, keys: bytes) -> None:
        if keys and self.port is not None:
            try:
                self.port.write(keys)
            except OSError:
                self._lost()

    def receive(self) -> None:
        """Show what the board has written (select said it is readable)."""
        if self.port is None:
            return
        try:
            data = self.port.read(self.port.in_waiting or 1)
        except OSError:
            self._lost()
            return
        for line in self.lines.feed(data):
            self._screen.line(line)

    def _lost(self) -> None:
        if self.port is not None:
            self.port.close()
        self.port = None
        unfinished = self.lines.reset()
        if unfinished:
            self._screen.line(unfinished)
        self._screen.notice(
            f"{self._name} gone (board reset or unplugged): waiting for it, Ctrl-] quits"
        )
        self._next_try = time.monotonic() + RETRY_S

    def retry(self) -> None:
        if self.port is not None or time.monotonic() < self._next_try:
            return
        try:
            self.port = self._reopen()
        except (OSError, BridgeError):
            self._next_try = time.monotonic() + RETRY_S
            return
        self._screen.notice(f"{self._name} back")

    def close(self) -> None:
        unfinished = self.lines.open_line()
        if unfinished:
            self._screen.line(unfinished)
        if self.port is not None:
            self.port.close()


def run_session(
    port: SerialPort,
    name: str,
    reopen: Callable[[], SerialPort],
    keys_fd: int | None,
    screen: Screen,
) -> None:
    """Until Ctrl-] arrives on ``keys_fd``: the board's lines to ``screen``, keys to the board.

    ``keys_fd`` None (or reaching its end) means no keyboard: lines are shown until the process
    is interrupted."""
    link = _Link(port, name, reopen, screen)
    try:
        while True:
            board_fd = link.port.fileno() if link.port is not None else None
            watched = [fd for fd in (keys_fd, board_fd) if fd is not None]
            timeout = IDLE_S if link.port is not None else RETRY_S
            ready = select.select(watched, [], [], timeout)[0]
            if keys_fd is not None and keys_fd in ready:
                keys = os.read(keys_fd, 1024)
                if not keys:
                    keys_fd = None
                send, quit_key, _ = keys.partition(QUIT_KEY)
                link.send(send)
                if quit_key:
                    return
            if board_fd is not None and board_fd in ready:
                link.receive()
            elif link.port is not None and not ready:
                screen.open_line(link.lines.open_line())
            link.retry()
    finally:
        link.close()
