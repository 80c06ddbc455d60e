"""The cpython engine's REPL: CircuitPython's protocol (``vm/device/_vrepl.py``, which the vm
engine runs on the VM) with statements run on CPython, in a fresh ``__main__`` namespace,
with the board's emulated modules installed (``import board``, ``microcontroller``,
``os.getenv`` and files on the drive work as on the board). It is not MicroPython: the
language and the standard library are CPython's."""

import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TextIO

from sensor_bridge.virtual.program import board_traceback
from sensor_bridge.virtual.vm.device import _vrepl

SOURCE_NAME = _vrepl.SOURCE_NAME
CTRL_C = _vrepl.CTRL_C
CTRL_D = _vrepl.CTRL_D


class KeySource(Protocol):
    def get(self) -> int: ...

    def interruptible(self) -> AbstractContextManager[None]: ...


def cpython_repl(
    keys: KeySource, write: Callable[[bytes], Any], text: TextIO, banner: str, drive: Path
) -> Any:
    """The REPL for a console whose statements' output goes to ``text``."""
    namespace: dict[str, Any] = {"__name__": "__main__"}

    def execute(source: str, mode: str) -> str:
        try:
            with keys.interruptible():
                exec(compile(source, SOURCE_NAME, mode), namespace)
        except SystemExit:
            pass
        except SyntaxError as exc:
            return _syntax_error(exc)
        except BaseException as exc:
            return board_traceback(exc, SOURCE_NAME, drive)
        finally:
            text.flush()
        return ""

    return _vrepl.Repl(keys.get, write, execute, banner)


def _syntax_error(exc: SyntaxError) -> str:
    lines = ["Traceback (most recent call last):"]
    lines.append(f'  File "{SOURCE_NAME}", line {exc.lineno}')
    lines += traceback.format_exception_only(SyntaxError, exc)[-1:]
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"
