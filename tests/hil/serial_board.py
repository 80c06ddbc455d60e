"""A CircuitPython board's USB serial console, driven the way CircuitPython offers it.

``SerialBoard(port)`` keeps every byte the board sends (a reader thread) and offers:

* ``wait_line(regex)``: the next console line matching, e.g. the firmware's ``INFO boot``;
* ``enter_repl()``: Ctrl-C stops code.py, then a key at ``Press any key to enter the REPL``;
  returns the version banner (``Adafruit CircuitPython 10.0.3 on ...; BOARD with CHIP``);
* ``soft_reboot()``: Ctrl-D at the REPL; returns the lines up to ``code.py output:``;
* ``exec_raw(code)``: the raw REPL protocol (Ctrl-A, code, Ctrl-D → ``OK`` output ``\\x04``
  error ``\\x04`` ``>``), then back to the friendly REPL with Ctrl-B.

A board that resets leaves USB for a moment; the reader opens the port again when it comes
back and counts the loss (``port_losses``). A pseudo-terminal (the virtual board) never goes.
"""

from __future__ import annotations

import re
import threading
import time

import serial

CTRL_A = b"\x01"
CTRL_B = b"\x02"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
EOT = b"\x04"

BAUD = 115200
"""USB CDC ignores it; a board on a USB-serial adapter needs it."""
READ_TIMEOUT_S = 0.05
REOPEN_EVERY_S = 0.5
WRITE_CHUNK = 256
"""The raw REPL reads into a small buffer; pyboard-style clients send this much at a time."""
CHUNK_PAUSE_S = 0.01
INTERRUPT_RETRY_S = 2.0
"""Ctrl-C again when the board has not answered: code in a blocking call notices late."""

PRESS_ANY_KEY = b"Press any key to enter the REPL. Use CTRL-D to reload."
PROMPT = b">>> "
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
VERSION_BANNER = re.compile(rb"Adafruit CircuitPython [^\r\n]+")


class BoardError(RuntimeError):
    """Code sent to the raw REPL raised on the board; the message is its traceback."""


class SerialBoard:
    def __init__(self, port: str) -> None:
        self.port = port
        self._serial: serial.Serial | None = None
        self._data = bytearray()
        self._changed = threading.Condition()
        self._closed = False
        self._reader: threading.Thread | None = None
        self.port_losses = 0

    # --- lifecycle --------------------------------------------------------------------

    def open(self, timeout: float = 10.0) -> SerialBoard:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._serial = self._open_port()
                break
            except serial.SerialException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(REOPEN_EVERY_S)
        self._reader = threading.Thread(target=self._read, name="hil-serial", daemon=True)
        self._reader.start()
        return self

    def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.join(2)
        if self._serial is not None:
            self._serial.close()

    def _open_port(self) -> serial.Serial:
        return serial.Serial(self.port, baudrate=BAUD, timeout=READ_TIMEOUT_S, exclusive=True)

    def _read(self) -> None:
        while not self._closed:
            port = self._serial
            try:
                if port is None:
                    raise serial.SerialException("port closed")
                chunk = port.read(4096)
            except (serial.SerialException, OSError):
                self._reopen()
                continue
            if chunk:
                with self._changed:
                    self._data += chunk
                    self._changed.notify_all()

    def _reopen(self) -> None:
        self.port_losses += 1
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        while not self._closed:
            time.sleep(REOPEN_EVERY_S)
            try:
                self._serial = self._open_port()
                return
            except serial.SerialException:
                continue

    # --- what the board said ----------------------------------------------------------

    def mark(self) -> int:
        """The current end of the output: pass it as ``since`` to look only at what follows."""
        with self._changed:
            return len(self._data)

    def text(self, since: int = 0, until: int | None = None) -> str:
        with self._changed:
            data = bytes(self._data[since:until])
        return data.decode("utf-8", errors="replace")

    def lines(self, since: int = 0, until: int | None = None) -> list[str]:
        """Complete lines between two marks, without line endings."""
        text = self.text(since, until)
        return [line.rstrip("\r") for line in text.split("\n")[:-1]]

    def expect(
        self, pattern: bytes | re.Pattern[bytes], timeout: float, since: int
    ) -> re.Match[bytes]:
        """The first match of ``pattern`` in the output from ``since`` on."""
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = regex.search(self._data, since)
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    tail = bytes(self._data[max(since, len(self._data) - 600) :])
                    raise TimeoutError(
                        f"{self.port}: no {regex.pattern!r} within {timeout} s; the board's "
                        f"last output: {tail.decode('utf-8', errors='replace')!r}"
                    )
                self._changed.wait(remaining)

    def wait_line(self, pattern: str, timeout: float, since: int) -> tuple[str, int]:
        """The first complete line from ``since`` on matching ``pattern`` (a regex), and the
        mark just after it."""
        regex = re.compile(rb"^[^\n]*(?:" + pattern.encode() + rb")[^\n]*\n", re.MULTILINE)
        start = self._line_start(since)
        match = self.expect(regex, timeout, start)
        return match.group(0).decode("utf-8", errors="replace").rstrip("\r\n"), match.end()

    def _line_start(self, since: int) -> int:
        with self._changed:
            newline = self._data.rfind(b"\n", 0, since)
        return newline + 1

    # --- talking to it ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        for start in range(0, len(data), WRITE_CHUNK):
            port = self._port_back()
            port.write(data[start : start + WRITE_CHUNK])
            port.flush()
            if len(data) > WRITE_CHUNK:
                time.sleep(CHUNK_PAUSE_S)

    def _port_back(self, timeout: float = 10.0) -> serial.Serial:
        """The open port, waiting while the reader opens it again after a reset."""
        deadline = time.monotonic() + timeout
        while (port := self._serial) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.port} did not come back in {timeout} s")
            time.sleep(REOPEN_EVERY_S)
        return port

    def enter_repl(self, timeout: float = 20.0) -> str:
        """Stop whatever runs and get to the friendly REPL; the version banner it printed
        (or '' when the board was already at the REPL and printed none)."""
        since = self.mark()
        deadline = time.monotonic() + timeout
        self.write(CTRL_C)
        sent = time.monotonic()
        handled = since
        while True:
            with self._changed:
                data = bytes(self._data[since:])
            offset = handled - since
            if data.endswith(PROMPT):
                banner = VERSION_BANNER.findall(data)
                return banner[-1].decode(errors="replace") if banner else ""
            key_at = data.find(PRESS_ANY_KEY, offset)
            if key_at >= 0:
                handled = since + key_at + len(PRESS_ANY_KEY)
                self.write(b"\r")
            elif time.monotonic() - sent > INTERRUPT_RETRY_S:
                # Silence: a raw REPL (Ctrl-B leaves it) or code slow to notice Ctrl-C (where
                # Ctrl-B waits as the key that enters the REPL).
                self.write(CTRL_B + CTRL_C)
                sent = time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.port}: no REPL within {timeout} s; last output: {data[-600:]!r}"
                )
            with self._changed:
                self._changed.wait(0.1)

    def soft_reboot(self, timeout: float = 20.0) -> tuple[list[str], int]:
        """Ctrl-D at the REPL: the lines from ``soft reboot`` to ``code.py output:``, and the
        mark after them (where the program's own output starts)."""
        since = self.mark()
        self.write(CTRL_D)
        start = self.expect(b"soft reboot", timeout, since).start()
        end = self.expect(b"code.py output:", timeout, start).end()
        return [line for line in self.lines(start, end + 2) if line], end

    def exec_raw(self, code: str, timeout: float = 20.0) -> str:
        """Run ``code`` in the raw REPL (the board must be at the friendly REPL); its output.
        BoardError with the board's traceback when it raised."""
        since = self._enter_raw(timeout)
        self.write(code.encode() + CTRL_D)
        ok = self.expect(b"OK", timeout, since).end()
        out_end = self.expect(EOT, timeout, ok).start()
        err_end = self.expect(EOT, timeout, out_end + 1).start()
        self.expect(b">", timeout, err_end + 1)
        output = self.text(ok, out_end).replace("\r\n", "\n")
        error = self.text(out_end + 1, err_end).replace("\r\n", "\n")
        back = self.mark()
        self.write(CTRL_B)
        self.expect(PROMPT, timeout, back)
        if error:
            raise BoardError(error.strip())
        return output

    def exec_raw_leaving(self, code: str, timeout: float = 20.0) -> None:
        """Send ``code`` that does not come back (``microcontroller.reset()``); returns once
        the board has accepted it."""
        since = self._enter_raw(timeout)
        self.write(code.encode() + CTRL_D)
        self.expect(b"OK", timeout, since)

    def _enter_raw(self, timeout: float) -> int:
        since = self.mark()
        self.write(CTRL_A)
        return self.expect(RAW_BANNER + b">", timeout, since).end()
