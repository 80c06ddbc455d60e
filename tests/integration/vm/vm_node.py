"""A sensor node on CircuitPython's VM for tests: the bundle as a board gets it (lib/ as
.mpy for the VM's release line), its settings.toml, and the virtual board's vm engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sensor_bridge import bundle
from sensor_bridge.local.furnaces import settings_text
from sensor_bridge.virtual.families import CHIP_FAMILY, PortFamily
from sensor_bridge.virtual.launcher import VirtualBoardProcess
from sensor_bridge.virtual.pins import board_spec
from sensor_bridge.virtual.vm.boot_config import VM_RELEASE
from sensor_bridge.virtual.vm.qstr_pools import QstrPools, board_free, parse_qstr_info
from tests.support.node import BASE_SETTINGS

ROOMY_FREE_HEAP = 262_144
"""A free heap at code.py start that today's firmware fits in: the engine's own tests run a
Pico W drive with it, whatever the firmware needs (the Pico W's figure is tested apart)."""


def family(board: str) -> PortFamily:
    return CHIP_FAMILY[board_spec(board).family]


def vm_drive(
    path: Path, board: str, broker_port: int, *, ca_pem: Any = None, **overrides: Any
) -> Path:
    """The bundle for ``board`` as it goes onto a board running the VM's release (lib/ as
    .mpy), with settings pointing at the test broker; with ``ca_pem``, over TLS verified
    against that CA (written as ca.pem). An override of None removes a key."""

    bundle.write(board, path, bundle.mpy_line(VM_RELEASE, "the VM tests"))
    tls = {"MQTT_TLS": 1} if ca_pem is not None else {}
    settings = {**BASE_SETTINGS, "MQTT_PORT": broker_port, **tls, **overrides}
    values = {key: value for key, value in settings.items() if value is not None}
    (path / "settings.toml").write_text(settings_text(values))
    if ca_pem is not None:
        (path / "ca.pem").write_bytes(ca_pem)
    return path


def vm_board(
    drive: Path,
    board: str,
    *,
    free_heap: int | None = None,
    watchdog: str = "reset",
    extra_args: list[str] | None = None,
) -> VirtualBoardProcess:
    """The virtual board running ``drive`` on the VM (not started); ``free_heap`` replaces
    the board's free heap at the start of code.py."""
    heap = ["--free-heap", str(free_heap)] if free_heap is not None else []
    return VirtualBoardProcess(
        drive,
        board=board,
        engine="vm",
        watchdog=watchdog,
        extra_args=[*heap, *(extra_args or [])],
    )


def board_heap_free(board: VirtualBoardProcess) -> int:
    """``gc.mem_free()`` after a collection as the board would read it: the VM's qstr pool
    tables opened since code.py started replaced by those the board opens for the same names
    (``sensor_bridge.virtual.vm.qstr_pools``, from py/qstr.c)."""
    mark = board.mark()
    reply = board.control.send({"cmd": "heap", "qstr": True})
    assert reply.get("ok"), reply
    board.wait_for(r"^qstr pool: ", 5, since=mark)
    now = parse_qstr_info("\n".join(board.lines[mark:]))
    assert now is not None and reply["qstr_at_start"], reply
    return board_free(int(reply["mem_free"]), QstrPools(*reply["qstr_at_start"]), now)
