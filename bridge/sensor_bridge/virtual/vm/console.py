"""The vm engine's USB console on a pty (``--console-fd``), behaving as CircuitPython's.

The supervisor's lines (``soft reboot``, auto-reload, ``Code done running.``, ``Press any
key``) come from the host, as they come from main.c on a board; the program and the REPL run
on the VM (``device/vboard_main.py``, ``device/_vrepl.py``), whose stdout comes here with
each bare ``\\n`` sent as ``\\r\\n`` (CircuitPython's cooked output; the unix port writes
``\\n``). Keys go to the VM's stdin while it runs; Ctrl-C is SIGINT, which the unix port
raises in the VM as KeyboardInterrupt (ports/unix/unix_mphal.c), wherever it stands: in the
program, in a REPL statement or waiting for a key. Between VMs (after the program ended) the
next key goes to ``on_key``: Ctrl-D reloads, any other enters the REPL.
"""

import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from sensor_bridge.virtual.serial_console import (
    PRESS_ANY_KEY,
    READ_CHUNK,
    ConsoleState,
    PtyConsole,
)

CTRL_C = 0x03
CTRL_D = 0x04
VM_READ_CHUNK = 4096


class VmConsole(PtyConsole):
    def __init__(self, fd: int, handoff: dict[str, Any] | None) -> None:
        super().__init__(fd, handoff)
        self._autoreload = self._state.autoreload
        self._lock = threading.Lock()
        self._vm: subprocess.Popen[bytes] | None = None
        self._on_key: Callable[[int], None] | None = None
        self.interrupted = False
        """A Ctrl-C went to the program."""

    @property
    def repl(self) -> str | None:
        """What the VM runs instead of the program: "friendly" or "raw" REPL, or None."""
        if not self._state.repl:
            return None
        return "raw" if self._state.raw else "friendly"

    def autoreload(self) -> bool:
        return self._autoreload

    def set_autoreload(self, value: bool) -> None:
        """The VM's ``supervisor.runtime.autoreload`` changed."""
        self._autoreload = value

    def start(self) -> None:
        """Take the pty: the lines before the VM, then the keys."""
        self._begin()
        if not self._state.repl:
            self._program_banner(self._autoreload)
        threading.Thread(target=self._read_keys, name="vm-console-keys", daemon=True).start()

    def attach(self, process: "subprocess.Popen[bytes]") -> threading.Thread:
        """``process`` (started with stdin and stdout pipes) is the console's VM now; the
        returned thread ends once its output is all on the pty."""
        assert process.stdin is not None and process.stdout is not None
        os.set_blocking(process.stdin.fileno(), False)
        with self._lock:
            self._vm = process
        forward = threading.Thread(
            target=self._forward, args=(process.stdout,), name="vm-console-out", daemon=True
        )
        forward.start()
        return forward

    def program_ended(self, on_key: Callable[[int], None]) -> None:
        """The supervisor's prompt after the program; the next key goes to ``on_key``."""
        self._text.write("\n" + PRESS_ANY_KEY + "\n")
        with self._lock:
            self._vm = None
            self._on_key = on_key

    def after_key(self, key: int) -> None:
        """Set the next boot's console for ``key`` at the prompt (Ctrl-D: run the program)."""
        self._next = (
            ConsoleState(soft_reboot_line=True)
            if key == CTRL_D
            else ConsoleState(repl=True, raw=self._state.raw)
        )

    def repl_ended(self, raw: bool) -> None:
        """The REPL asked for a soft reboot: the friendly one runs the program, the raw one
        comes back raw."""
        self._next = ConsoleState(repl=raw, raw=raw, soft_reboot_line=True)

    def _forward(self, output: Any) -> None:
        last = b""
        while chunk := output.read1(VM_READ_CHUNK):
            # A bare \n becomes \r\n; one that follows \r (the REPL's own) stays.
            cooked = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            if last == b"\r" and chunk.startswith(b"\n"):
                cooked = cooked[1:]
            self._raw.write(cooked)
            last = chunk[-1:]

    def _read_keys(self) -> None:
        while True:
            select.select([self.fd], [], [])
            try:
                data = os.read(self.fd, READ_CHUNK)
            except BlockingIOError:
                continue
            for key in data:
                self._key(key)

    def _key(self, key: int) -> None:
        with self._lock:
            vm, on_key = self._vm, self._on_key
            if vm is None and on_key is not None:
                self._on_key = None
        if vm is not None and vm.poll() is None:
            if key == CTRL_C:
                self.interrupted = not self._state.repl
                vm.send_signal(signal.SIGINT)
                return
            assert vm.stdin is not None
            try:
                os.write(vm.stdin.fileno(), bytes([key]))
            except (BlockingIOError, BrokenPipeError):
                pass  # a program that reads no keys: the board's USB buffer fills up too
        elif on_key is not None:
            on_key(key)
