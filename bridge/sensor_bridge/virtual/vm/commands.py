"""The control commands of a board on the VM: the CPython engine's, and what only the VM
engine can answer (``status`` adds the VM's figures, ``heap`` the VM's own gc after a
collection, ``hang`` stops the program where it stands: a program stuck in C, which nothing
feeds the watchdog from any more); ``speed`` stays at 1."""

from collections.abc import Callable
from typing import Any, Protocol

from sensor_bridge.virtual.commands import Commands, Outcome
from sensor_bridge.virtual.hardware import VirtualBoard


class VmHost(Protocol):
    board: VirtualBoard

    def vm_status(self) -> dict[str, Any]: ...

    def heap(self, qstr: bool = False) -> dict[str, Any] | None: ...

    def hang(self) -> bool: ...


class VmCommands(Commands):
    def __init__(self, runner: VmHost, reset_pin: Callable[[], None]) -> None:
        super().__init__(runner.board, reset_pin)
        self._runner = runner
        self._handlers["hang"] = self._hang
        self._handlers["heap"] = self._heap

    def _heap(self, request: dict[str, Any]) -> Outcome:
        answer = self._runner.heap(bool(request.get("qstr")))
        if answer is None:
            return Outcome({"ok": False, "error": "heap: the program did not answer"})
        return Outcome({"ok": True, **answer})

    def _hang(self, request: dict[str, Any]) -> Outcome:
        if not self._runner.hang():
            return Outcome({"ok": False, "error": "hang: no program is running"})
        return Outcome({"ok": True})

    def _status(self, request: dict[str, Any]) -> Outcome:
        outcome = super()._status(request)
        return Outcome({**outcome.reply, "engine": "vm", "vm": self._runner.vm_status()})

    def _speed(self, request: dict[str, Any]) -> Outcome:
        if float(request["value"]) != 1.0:
            return Outcome({"ok": False, "error": "speed: the vm engine runs in real time (1)"})
        return super()._speed(request)
