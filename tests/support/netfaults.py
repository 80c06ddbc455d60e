"""Network faults a board must ride out, applied to a running virtual board and its broker.

Each fault lasts ``seconds`` of virtual time and then ends; it returns the console mark taken
just before the end, so a caller can wait for the reconnection that follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sensor_bridge.local.broker import Mosquitto
from sensor_bridge.virtual.launcher import VirtualBoardProcess

Fault = Callable[[VirtualBoardProcess, Mosquitto, float], int]


def _net(state: str, **extra: object) -> Fault:
    def apply(board: VirtualBoardProcess, broker: Mosquitto, seconds: float) -> int:
        board.control.send({"cmd": "net", "state": state, **extra})
        time.sleep(seconds / board.status()["speed"])
        mark = board.mark()
        board.control.send({"cmd": "net", "state": "up"})
        return mark

    return apply


def _broker_restarts(board: VirtualBoardProcess, broker: Mosquitto, seconds: float) -> int:
    pause = seconds / board.status()["speed"] / 6
    mark = board.mark()
    for _ in range(3):
        broker.kill()
        time.sleep(pause)
        mark = board.mark()
        broker.start()
        time.sleep(pause)
    return mark


FAULTS: dict[str, Fault] = {
    "refused": _net("refuse"),
    "unreachable": _net("down"),
    "black-holed": _net("blackhole"),
    "slow broker": _net("slow", delay_s=5.0),
    "broker restart": _broker_restarts,
}
"""Fault name -> how to apply it. A rejected login needs its own broker (with users)."""
