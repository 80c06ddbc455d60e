"""CircuitPython's REPL on the virtual board: the friendly ``>>>`` one and the raw one.

The statements run on CPython, in a fresh ``__main__`` namespace, with the board's emulated
modules installed (``import board``, ``microcontroller``, ``os.getenv`` and files on the drive
work as on the board). It is not MicroPython: the language and the standard library are
CPython's.

The protocol is CircuitPython's (``shared/runtime/pyexec.c``):

* friendly: the version banner, ``>>> `` / ``... `` prompts with echo and backspace; on an
  empty line Ctrl-A enters the raw REPL, Ctrl-B prints the banner, Ctrl-D soft-reboots, Ctrl-E
  enters paste mode; Ctrl-C cancels the line;
* raw: ``raw REPL; CTRL-B to exit`` then ``>``; the code is sent and ended with Ctrl-D; the
  board answers ``OK``, the output, ``\\x04``, the error text, ``\\x04``, and ``>`` again.
  Ctrl-D on an empty buffer soft-reboots; Ctrl-B returns to the friendly REPL. Raw-paste mode
  (Ctrl-E ``A`` Ctrl-A) is refused with ``R\\x00``, which tells a client to use plain raw mode.
"""

import codeop
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TextIO

from sensor_bridge.virtual.program import board_traceback

CTRL_A = 0x01
CTRL_B = 0x02
CTRL_C = 0x03
CTRL_D = 0x04
CTRL_E = 0x05
BACKSPACES = (0x08, 0x7F)
ESC = 0x1B
CR = 0x0D
LF = 0x0A

SOURCE_NAME = "<stdin>"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PASTE_BANNER = b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "


class KeySource(Protocol):
    def get(self) -> int: ...

    def interruptible(self) -> AbstractContextManager[None]: ...


class Repl:
    """``run`` returns when the host asks for a soft reboot, saying whether the REPL was raw."""

    def __init__(
        self,
        keys: KeySource,
        write: Callable[[bytes], Any],
        text: TextIO,
        banner: str,
        drive: Path,
    ) -> None:
        self._keys = keys
        self._write = write
        self._text = text
        self._banner = banner.encode()
        self._drive = drive
        self._namespace: dict[str, Any] = {"__name__": "__main__"}

    def run(self, *, raw: bool) -> bool:
        while True:
            if raw:
                if self._raw():
                    return True
                raw = False
            else:
                if self._friendly():
                    return False
                raw = True

    # --- friendly ---------------------------------------------------------------------

    def _friendly(self) -> bool:
        """True for a soft reboot, False to change to the raw REPL."""
        self._write(b"\r\n" + self._banner + b"\r\n")
        while True:
            line, control = self._readline(b">>> ")
            if control == CTRL_A:
                self._write(b"\r\n")
                return False
            if control == CTRL_B:
                self._write(b"\r\n\r\n" + self._banner + b"\r\n")
                continue
            if control == CTRL_C:
                self._write(b"\r\n")
                continue
            if control == CTRL_D:
                self._write(b"\r\n")
                return True
            if control == CTRL_E:
                source = self._paste()
                if source is not None:
                    self._execute(source, "exec")
                continue
            if not line.strip():
                continue
            source = self._continued(line)
            if source is not None:
                self._execute(source, "single")

    def _continued(self, first: str) -> str | None:
        """The statement that starts with ``first``, reading ``... `` lines while it is
        incomplete; None when Ctrl-C cancels it."""
        source = first
        while _incomplete(source):
            line, control = self._readline(b"... ")
            if control == CTRL_C:
                self._write(b"\r\n")
                return None
            if control == CTRL_D:
                break
            source += "\n" + line
        return source

    def _readline(self, prompt: bytes) -> tuple[str, int | None]:
        """A line typed after ``prompt`` (echoed), or the control key that ended it."""
        self._write(prompt)
        line = bytearray()
        while True:
            key = self._keys.get()
            if key in (CR, LF):
                self._write(b"\r\n")
                return line.decode("utf-8", errors="replace"), None
            if key == CTRL_C:
                return "", CTRL_C
            if key in (CTRL_A, CTRL_B, CTRL_D, CTRL_E):
                if not line:
                    return "", key
                continue
            if key in BACKSPACES:
                if line:
                    del line[-1]
                    self._write(b"\b \b")
                continue
            if key == ESC:
                self._skip_escape()
                continue
            if key >= 0x20:
                line.append(key)
                self._write(bytes([key]))

    def _skip_escape(self) -> None:
        """Drop a cursor-key sequence (``ESC [ A``): there is no history or line editing."""
        if self._keys.get() != ord("["):
            return
        while not 0x40 <= self._keys.get() <= 0x7E:
            pass

    def _paste(self) -> str | None:
        self._write(PASTE_BANNER)
        source = bytearray()
        while True:
            key = self._keys.get()
            if key == CTRL_C:
                self._write(b"\r\n")
                return None
            if key == CTRL_D:
                self._write(b"\r\n")
                return source.decode("utf-8", errors="replace").replace("\r", "\n")
            source.append(key)
            self._write(b"\r\n=== " if key == CR else bytes([key]))

    # --- raw --------------------------------------------------------------------------

    def _raw(self) -> bool:
        """True for a soft reboot, False to change to the friendly REPL."""
        self._write(RAW_BANNER)
        while True:
            self._write(b">")
            code = bytearray()
            while True:
                key = self._keys.get()
                if key == CTRL_A:
                    if len(code) == 2 and code[0] == CTRL_E:
                        self._write(b"R\x00>")
                    else:
                        self._write(RAW_BANNER + b">")
                    code.clear()
                elif key == CTRL_B:
                    self._write(b"\r\n")
                    return False
                elif key == CTRL_C:
                    code.clear()
                elif key == CTRL_D:
                    break
                else:
                    code.append(key)
            self._write(b"OK")
            if not code:
                self._write(b"\r\n")
                return True
            self._execute(code.decode("utf-8", errors="replace"), "exec", framed=True)

    # --- running ----------------------------------------------------------------------

    def _execute(self, source: str, mode: str, *, framed: bool = False) -> None:
        """Run ``source``; the raw REPL frames output and error with ``\\x04``."""
        error = ""
        try:
            with self._keys.interruptible():
                exec(compile(source, SOURCE_NAME, mode), self._namespace)
        except SystemExit:
            pass
        except SyntaxError as exc:
            error = _syntax_error(exc)
        except BaseException as exc:
            error = board_traceback(exc, SOURCE_NAME, self._drive)
        self._text.flush()
        if framed:
            self._write(b"\x04")
        if error:
            self._text.write(error)
            self._text.flush()
        if framed:
            self._write(b"\x04")


def _incomplete(source: str) -> bool:
    try:
        return codeop.compile_command(source, SOURCE_NAME, "single") is None
    except (SyntaxError, ValueError, OverflowError):
        return False


def _syntax_error(exc: SyntaxError) -> str:
    lines = ["Traceback (most recent call last):"]
    lines.append(f'  File "{SOURCE_NAME}", line {exc.lineno}')
    lines += traceback.format_exception_only(SyntaxError, exc)[-1:]
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"
