"""The vm engine's USB console on a pty (``--console-fd``), behaving as CircuitPython's.

The supervisor's lines (``soft reboot``, auto-reload, ``Code done running.``, ``Press any
key``) come from the host, as they come from main.c on a board; the program and the REPL run
on the VM (``device/vboard_main.py``, ``device/_vrepl.py``), whose stdout comes here with
each bare ``\\n`` sent as ``\\r\\n`` (CircuitPython's cooked output; the unix port writes
``\\n``).

Keys wait in one buffer, as in a board's USB buffer, until something reads them: the VM's
stdin once it is ready, or the supervisor's ``Press any key`` prompt (``on_key``), which
takes one key and leaves the rest for the next boot (they travel in the handoff). A Ctrl-C
is SIGINT, which the unix port raises in the VM as KeyboardInterrupt (ports/unix/
unix_mphal.c), while the program runs or a REPL statement executes (pyexec.c makes it an
interrupt only then); at a REPL prompt it is an ordinary key. A program stopped by Ctrl-C
reads no more keys: those typed after it wait for the prompt.
"""

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from sensor_bridge.virtual.repl import CTRL_C, CTRL_D
from sensor_bridge.virtual.serial_console import (
    PRESS_ANY_KEY,
    ConsoleState,
    PtyConsole,
    typed_keys,
)

VM_READ_CHUNK = 4096


class VmConsole(PtyConsole):
    def __init__(self, fd: int, handoff: dict[str, Any] | None) -> None:
        super().__init__(fd, handoff)
        self._autoreload = self._state.autoreload
        self._lock = threading.Lock()
        self._keys = bytearray(bytes.fromhex(self._state.keys))
        self._vm: subprocess.Popen[bytes] | None = None
        self._reading = False
        """The VM reads keys: it is ready."""
        self._executing = False
        """A REPL statement runs (Ctrl-C interrupts it)."""
        self._on_key: Callable[[int], None] | None = None
        self.interrupted = False
        """A Ctrl-C stopped the program."""

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

    def unread_keys(self) -> bytes:
        with self._lock:
            return bytes(self._keys)

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

    def ready(self) -> None:
        """The VM is about to run the program or the REPL: it takes keys from now on."""
        with self._lock:
            self._reading = True
            self._deliver()

    def executing(self, running: bool) -> None:
        """A REPL statement started or ended on the VM."""
        with self._lock:
            self._executing = running

    def program_ended(self, on_key: Callable[[int], None]) -> None:
        """The supervisor's prompt after the program; the next key goes to ``on_key``."""
        with self._lock:
            self._vm, self._reading = None, False
        self._text.write("\n" + PRESS_ANY_KEY + "\n")
        with self._lock:
            self._on_key = on_key
            self._deliver()

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
        for data in typed_keys(self.fd):
            with self._lock:
                self._keys += data
                self._deliver()

    def _deliver(self) -> None:
        """Hand the buffered keys to whoever reads them now (the lock held)."""
        vm = self._vm
        if vm is not None and self._reading and vm.poll() is None:
            interruptible = self._executing or not self._state.repl
            at = self._keys.rfind(CTRL_C) if interruptible else -1
            if at >= 0:
                # A Ctrl-C while code runs interrupts it and drops what came before it
                # (supervisor/shared/usb/usb_device.c), every time: the program may swallow
                # one KeyboardInterrupt, and the next Ctrl-C tries again.
                del self._keys[: at + 1]
                self.interrupted = self.interrupted or not self._state.repl
                vm.send_signal(signal.SIGINT)
            if self.interrupted:
                return  # the rest waits for the prompt (or for another Ctrl-C)
            assert vm.stdin is not None
            try:
                os.write(vm.stdin.fileno(), bytes(self._keys))
            except (BlockingIOError, BrokenPipeError):
                pass  # a program that reads no keys: the board's USB buffer fills up too
            self._keys.clear()
        elif self._on_key is not None and self._keys:
            on_key, self._on_key = self._on_key, None
            on_key(self._keys.pop(0))
