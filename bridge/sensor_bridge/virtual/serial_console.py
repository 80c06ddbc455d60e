"""The virtual board's USB console on a pseudo-terminal, behaving as CircuitPython's does.

``sensor-bridge virtual-board`` opens the pty and passes its master side to the runner
(``--console-fd``); the other side is what a terminal or the HIL suite opens, like
``/dev/ttyACM0``. What CircuitPython's supervisor does (``main.c``), this does on the pty:

* ``soft reboot``, the auto-reload line and ``code.py output:`` before the program, its
  output after, ``Code done running.`` when it ends;
* Ctrl-C interrupts the program (``KeyboardInterrupt``), then ``Press any key to enter the
  REPL. Use CTRL-D to reload.``: Ctrl-D runs code.py again, any other key starts the REPL;
* the REPL (``sensor_bridge.virtual.repl``) and its raw mode; Ctrl-D there soft-reboots.

Each of those steps starts a fresh interpreter on the board, so here each is a new boot of
the process through the runner's ``reboot`` (soft: the program's sockets close, as
CircuitPython closes them when the VM ends). Where the console is (code or REPL, friendly or
raw) travels in the handoff as ``ConsoleState``.

Output is what CircuitPython sends: ``\\n`` becomes ``\\r\\n``. When no one reads the pty, the
board does not block on it: output that cannot go out within ``WRITE_WAIT_S`` is dropped, as
USB CDC drops it with no host attached.
"""

import io
import os
import queue
import select
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, NoReturn, Protocol, cast

from sensor_bridge.virtual.hardware import VirtualBoard
from sensor_bridge.virtual.modules import CIRCUITPYTHON_VERSION
from sensor_bridge.virtual.repl import CTRL_C, CTRL_D, cpython_repl

WRITE_WAIT_S = 0.05
READ_CHUNK = 512
CIRCUITPYTHON_BUILD_DATE = "2025-10-17"
"""The date in the version banner; the virtual board claims this CircuitPython release."""
AUTO_RELOAD_ON = (
    "Auto-reload is on. Simply save files over USB to run them or enter REPL to disable."
)
AUTO_RELOAD_OFF = "Auto-reload is off."
PRESS_ANY_KEY = "Press any key to enter the REPL. Use CTRL-D to reload."


def version_banner(machine: str) -> str:
    """CircuitPython's ``MICROPY_FULL_VERSION_INFO`` for this board."""
    version = ".".join(str(part) for part in CIRCUITPYTHON_VERSION)
    return f"Adafruit CircuitPython {version} on {CIRCUITPYTHON_BUILD_DATE}; {machine}"


class ConsoleState(NamedTuple):
    """Where the console is at the start of a boot."""

    repl: bool = False
    """Start in the REPL instead of running the program."""
    raw: bool = False
    """The REPL is in raw mode (CircuitPython keeps that across a soft reboot)."""
    soft_reboot_line: bool = False
    """Print ``soft reboot`` first: the REPL or the program asked for the reload."""
    autoreload: bool = True
    """``supervisor.runtime.autoreload``, which a soft reboot keeps."""
    keys: str = ""
    """Keys typed but not yet read (hex), which a soft reboot keeps as USB's buffer does."""

    @classmethod
    def from_handoff(cls, data: dict[str, Any] | None) -> "ConsoleState":
        return cls() if data is None else cls(**data)


class Host(Protocol):
    """What the console needs of the runner."""

    board: VirtualBoard

    @property
    def drive(self) -> Path: ...

    def run_program(self) -> None: ...

    def reboot(self, reset_reason: str, *, run_reason: str = ..., soft: bool = ...) -> NoReturn: ...


class PtyOutput(io.BufferedIOBase):
    """Bytes to the pty, dropped when no one reads them (see the module docstring)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        view = memoryview(bytes(data))
        with self._lock:
            while view:
                _, ready, _ = select.select([], [self._fd], [], WRITE_WAIT_S)
                if not ready:
                    break
                try:
                    view = view[os.write(self._fd, view) :]
                except BlockingIOError:
                    continue
                except OSError:
                    break
        return len(data)


class Keys:
    """The bytes a host types, read by a thread. While ``interruptible``, Ctrl-C raises
    ``KeyboardInterrupt`` in the main thread (the program or a REPL statement) instead of
    being a key."""

    def __init__(self, fd: int, unread: bytes = b"") -> None:
        self._fd = fd
        self._queue: queue.Queue[int] = queue.Queue()
        for key in unread:
            self._queue.put(key)
        self._armed = False
        self.interrupted = False
        """A Ctrl-C stopped the program."""

    def start(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)
        threading.Thread(target=self._read, name="virtual-console-keys", daemon=True).start()

    def get(self) -> int:
        """The next key (blocks)."""
        return self._queue.get()

    def unread(self) -> bytes:
        """The keys typed that no one has taken (taking them)."""
        keys = bytearray()
        while not self._queue.empty():
            keys.append(self._queue.get_nowait())
        return bytes(keys)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        # The signal may land after the program ended: then it is no longer anyone's to stop.
        if self._armed:
            self.interrupted = True
            raise KeyboardInterrupt

    def _read(self) -> None:
        main = threading.main_thread().ident
        for data in typed_keys(self._fd):
            for key in data:
                if key == CTRL_C and self._armed and main is not None:
                    # A signal, not interrupt_main(): it also wakes a blocking wait.
                    signal.pthread_kill(main, signal.SIGINT)
                else:
                    self._queue.put(key)


def typed_keys(fd: int) -> Iterator[bytes]:
    """What is typed on the pty (``fd``, non-blocking), as it comes."""
    while True:
        select.select([fd], [], [])
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            continue
        yield data


class PtyConsole:
    """What both engines' consoles share: the pty, the console's state across boots and
    the supervisor's lines at the start of one."""

    def __init__(self, fd: int, handoff: dict[str, Any] | None) -> None:
        self.fd = fd
        self._state = ConsoleState.from_handoff(handoff)
        self._next: ConsoleState | None = None
        self._raw = PtyOutput(fd)
        # typeshed asks for a whole buffered file; the wrapper only ever writes to it.
        self._text = io.TextIOWrapper(
            cast(Any, self._raw),
            encoding="utf-8",
            errors="replace",
            newline="\r\n",
            write_through=True,
        )

    def next_boot(self, soft: bool) -> dict[str, Any] | None:
        """The console's part of the handoff; None after a reset (power-on state)."""
        if not soft:
            return None
        state = self._next
        if state is None:
            # A reload the program asked for (supervisor.reload()): run it again, or stay in
            # the raw REPL, as after Ctrl-D.
            state = ConsoleState(repl=self._state.raw, raw=self._state.raw, soft_reboot_line=True)
        return state._replace(autoreload=self.autoreload(), keys=self.unread_keys().hex())._asdict()

    def unread_keys(self) -> bytes:
        """Keys typed that no one has read yet."""
        return b""

    def autoreload(self) -> bool:
        """``supervisor.runtime.autoreload`` as the program left it."""
        return _autoreload()

    def _begin(self) -> None:
        """The console takes the pty and standard output; ``soft reboot`` if one led here."""
        os.set_blocking(self.fd, False)
        sys.stdout = self._text
        if self._state.soft_reboot_line:
            self._text.write("soft reboot\n")

    def _program_banner(self, autoreload: bool) -> None:
        self._text.write("\n" + (AUTO_RELOAD_ON if autoreload else AUTO_RELOAD_OFF) + "\n")


class SerialConsole(PtyConsole):
    """The cpython engine's console: the program and the REPL run in this process."""

    def __init__(self, fd: int, handoff: dict[str, Any] | None) -> None:
        super().__init__(fd, handoff)
        self._keys = Keys(fd, bytes.fromhex(self._state.keys))

    def unread_keys(self) -> bytes:
        return self._keys.unread()

    def session(self, host: Host) -> NoReturn:
        supervisor = sys.modules.get("supervisor")
        if supervisor is not None:
            supervisor.runtime.autoreload = self._state.autoreload
        self._begin()
        self._keys.start()
        if self._state.repl:
            self._repl(host)
        self._program(host)

    def _program(self, host: Host) -> NoReturn:
        self._program_banner(self.autoreload())
        try:
            with self._keys.interruptible():
                host.run_program()
        except KeyboardInterrupt:
            pass  # a Ctrl-C just as the program ended: it has ended either way
        if self._keys.interrupted:
            # Only a program that ended in an error leaves the watchdog armed; Ctrl-C is not one.
            host.board.wdt.deinit()
        self._text.write("\n" + PRESS_ANY_KEY + "\n")
        if self._keys.get() == CTRL_D:
            self._next = ConsoleState(soft_reboot_line=True)
            host.reboot(host.board.boot.reset_reason, run_reason="REPL_RELOAD", soft=True)
        self._next = ConsoleState(repl=True, raw=self._state.raw)
        host.reboot(host.board.boot.reset_reason, run_reason=host.board.boot.run_reason, soft=True)

    def _repl(self, host: Host) -> NoReturn:
        os.chdir(host.drive)
        repl = cpython_repl(
            self._keys,
            self._raw.write,
            self._text,
            version_banner(host.board.spec.machine),
            host.drive,
        )
        raw = repl.run(raw=self._state.raw)
        # After Ctrl-D the friendly REPL runs code.py; the raw REPL comes back raw.
        self._next = ConsoleState(repl=raw, raw=raw, soft_reboot_line=True)
        host.reboot(host.board.boot.reset_reason, run_reason="REPL_RELOAD", soft=True)


def _autoreload() -> bool:
    supervisor = sys.modules.get("supervisor")
    return bool(getattr(getattr(supervisor, "runtime", None), "autoreload", True))
