"""The control commands, shared by the control socket and scenario files.

Each command is a dict with ``cmd``; the reply is a dict with ``ok``. ``reset`` and
``kill`` reply first and act after the reply is on its way (``Outcome.after``).
"""

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from sensor_bridge.virtual.hardware import VirtualBoard

KILLED_EXIT = 137
"""Exit status of ``kill``, the shell's code for a SIGKILLed process."""


class Outcome(NamedTuple):
    reply: dict[str, Any]
    after: Callable[[], None] | None = None


class Commands:
    def __init__(self, board: VirtualBoard, reset_pin: Callable[[], None]) -> None:
        self._board = board
        self._reset_pin = reset_pin
        self._handlers: dict[str, Callable[[dict[str, Any]], Outcome]] = {
            "status": self._status,
            "speed": self._speed,
            "net": self._net,
            "ntp": self._ntp,
            "fault": self._fault,
            "furnace": self._furnace,
            "reset": self._reset,
            "kill": self._kill,
        }

    def handle(self, request: dict[str, Any]) -> Outcome:
        name = request.get("cmd")
        handler = self._handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            known = ", ".join(self._handlers)
            return Outcome({"ok": False, "error": f"unknown cmd {name!r}; known: {known}"})
        try:
            return handler(request)
        except (KeyError, TypeError, ValueError) as exc:
            return Outcome({"ok": False, "error": f"{name}: {exc}"})

    def _status(self, request: dict[str, Any]) -> Outcome:
        return Outcome({"ok": True, **self._board.status()})

    def _speed(self, request: dict[str, Any]) -> Outcome:
        self._board.clock.set_speed(float(request["value"]))
        return Outcome({"ok": True, "speed": self._board.clock.speed})

    def _net(self, request: dict[str, Any]) -> Outcome:
        delay = request.get("delay_s")
        self._board.net.set_state(str(request["state"]), None if delay is None else float(delay))
        return Outcome({"ok": True, "net": self._board.net.state})

    def _ntp(self, request: dict[str, Any]) -> Outcome:
        enabled = request["enabled"]
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be true or false")
        self._board.net.ntp_enabled = enabled
        return Outcome({"ok": True, "ntp": enabled})

    def _fault(self, request: dict[str, Any]) -> Outcome:
        active = request.get("active", True)
        if not isinstance(active, bool):
            raise TypeError("active must be true or false")
        self._board.chip.set_fault(str(request["name"]), active)
        return Outcome({"ok": True, "injected": self._board.chip.injected})

    def _furnace(self, request: dict[str, Any]) -> Outcome:
        knobs = {k: request[k] for k in ("setpoint_c", "over_temp_c", "temp_c") if k in request}
        self._board.furnace.set(
            flame=request.get("flame"), **{k: float(v) for k, v in knobs.items()}
        )
        return Outcome({"ok": True, "furnace": self._board.furnace.status()})

    def _reset(self, request: dict[str, Any]) -> Outcome:
        return Outcome({"ok": True}, self._reset_pin)

    def _kill(self, request: dict[str, Any]) -> Outcome:
        return Outcome({"ok": True}, lambda: os._exit(KILLED_EXIT))
