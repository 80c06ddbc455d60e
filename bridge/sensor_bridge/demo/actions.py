"""What a scenario step can do: on the stack (restart a service) or on one virtual furnace
(through its control socket: the furnace model, the thermocouple chip, the network)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sensor_bridge.local.stack import LocalStack
from sensor_bridge.virtual.launcher import VirtualBoardProcess


@dataclass(frozen=True)
class Rig:
    """What steps act on."""

    stack: LocalStack
    boards: dict[str, VirtualBoardProcess]


@dataclass(frozen=True)
class Action:
    label: str
    """What the live view says is happening ("now: broker restart")."""
    on_device: bool
    run: Callable[[Rig, str | None], None]


def _board_command(request: dict[str, Any]) -> Callable[[Rig, str | None], None]:
    def run(rig: Rig, device: str | None) -> None:
        assert device is not None
        reply = rig.boards[device].control.send(request)
        if not reply.get("ok"):
            raise RuntimeError(f"{device} refused {request}: {reply.get('error')}")

    return run


def _on_stack(act: Callable[[LocalStack], None]) -> Callable[[Rig, str | None], None]:
    return lambda rig, device: act(rig.stack)


ACTIONS: dict[str, Action] = {
    "note": Action("", False, lambda rig, device: None),
    "broker-restart": Action("broker restart", False, _on_stack(LocalStack.restart_broker)),
    "pipeline-restart": Action("pipeline restart", False, _on_stack(LocalStack.restart_pipeline)),
    "storage-restart": Action(
        "VictoriaMetrics restart", False, _on_stack(LocalStack.restart_storage)
    ),
    "flame-out": Action("flame out", True, _board_command({"cmd": "furnace", "flame": "out"})),
    "relight": Action("relit", True, _board_command({"cmd": "furnace", "flame": "lit"})),
    "thermocouple-open": Action(
        "thermocouple open", True, _board_command({"cmd": "fault", "name": "open_tc"})
    ),
    "thermocouple-fixed": Action(
        "thermocouple fixed",
        True,
        _board_command({"cmd": "fault", "name": "open_tc", "active": False}),
    ),
    "network-down": Action("network down", True, _board_command({"cmd": "net", "state": "down"})),
    "network-up": Action("network up", True, _board_command({"cmd": "net", "state": "up"})),
}


def describe(action: str, device: str | None) -> str:
    """The step as the view shows it: "glory-hole: flame out", "broker restart"."""
    label = ACTIONS[action].label
    return f"{device}: {label}" if device else label
