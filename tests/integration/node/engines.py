"""A Pico W on either engine of the virtual board, for the node tests that run on both: the
CPython engine (faster than real time) and CircuitPython's VM (real time, the board's heap,
the bundle as ``.mpy``)."""

from __future__ import annotations

from pathlib import Path

from sensor_bridge.virtual.launcher import VirtualBoardProcess
from tests.integration.vm.vm_node import vm_board, vm_drive
from tests.support.node import PICO_W, make_drive


def pico_w(
    tmp_path: Path,
    engine: str,
    broker_port: int,
    *,
    speed: float = 1,
    watchdog: str = "reset",
    **settings: object,
) -> VirtualBoardProcess:
    """The Pico W running the firmware on ``engine`` (not started); ``speed`` is the CPython
    engine's (the VM runs at 1)."""
    if engine == "vm":
        drive = vm_drive(tmp_path / "drive", PICO_W, broker_port, **settings)
        return vm_board(drive, PICO_W, watchdog=watchdog)
    drive = make_drive(tmp_path / "drive", PICO_W, broker_port, **settings)
    return VirtualBoardProcess(drive, speed=speed, watchdog=watchdog)
