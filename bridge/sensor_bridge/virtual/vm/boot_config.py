"""What the VM is told at boot (the channel's ``hello``): how this boot came about, what the
board is, and the rows of its port family the emulated modules follow
(``sensor_bridge.virtual.families``), as plain values the VM's json can carry."""

import errno
from pathlib import Path
from typing import Any

from sensor_bridge.bundle import read_boot_out
from sensor_bridge.virtual.families import ReleaseLine, release_line
from sensor_bridge.virtual.hardware import VirtualBoard
from sensor_bridge.virtual.program import program_file
from sensor_bridge.virtual.wifi import BOARD_IP, GATEWAY_IP

VM_VERSION = (10, 1, 0)
"""The CircuitPython release ``circuitpython-mcu`` is built from (its BUILD.md)."""
VM_RELEASE = ".".join(map(str, VM_VERSION))

PRELOAD = ("adafruit_bus_device.spi_device", "adafruit_bus_device.i2c_device", "adafruit_pixelbuf")
"""Libraries built into every supported board's firmware (py/circuitpy_mpconfig.mk:
CIRCUITPY_BUSDEVICE and CIRCUITPY_PIXELBUF follow CIRCUITPY_FULL_BUILD; shared-bindings/
adafruit_bus_device and adafruit_pixelbuf register them with MP_REGISTER_MODULE, which no
/lib file can shadow) that the bundle also carries: the VM imports the drive's copies before
code.py, so their heap counts as the board's own."""

SOCKETS = {"raspberrypi": (5, 4, 9), "espressif": (8, 8, 8)}
"""(TCP, UDP, all) sockets open at once: raspberrypi lwip_inc/lwipopts.h MEMP_NUM_TCP_PCB 5,
MEMP_NUM_UDP_PCB 4; espressif esp-idf-config/sdkconfig.defaults CONFIG_LWIP_MAX_SOCKETS 8."""

ESP_WATCHDOG_MAX_S = 4_294_967
"""espressif WatchDogTimer.c: a timeout above UINT32_MAX ms is refused."""


def boot_config(board: VirtualBoard, drive: Path) -> dict[str, Any]:
    """The configuration this boot of ``board`` starts with (``program`` is None when there
    is nothing to run: no such file, or safe mode with nothing for it)."""
    family, spec, boot = board.family, board.spec, board.boot
    program = program_file(boot)
    if program is not None and not (drive / program).is_file():
        program = None
    tcp, udp, total = SOCKETS.get(family.name, SOCKETS["raspberrypi"])
    return {
        "family": family.name,
        "preload": list(PRELOAD),
        "program": program,
        "safe_mode": boot.safe_mode_reason != "NONE",
        "reset_reason": boot.reset_reason,
        "run_reason": boot.run_reason,
        "safe_mode_reason": boot.safe_mode_reason,
        "cpu_hz": spec.cpu_hz,
        "nvm_bytes": spec.nvm_bytes,
        "watchdog_max_int_s": ESP_WATCHDOG_MAX_S
        if spec.watchdog_max_s is None
        else int(spec.watchdog_max_s),
        "watchdog_raise": spec.watchdog_raise,
        "watchdog_rearm_error": family.watchdog_timeout_change_when_armed,
        "reset_errno": getattr(errno, family.reset_errno),
        "connect_timeout_errno": getattr(errno, family.connect_timeout_errno),
        "max_tcp": tcp,
        "max_udp": udp,
        "max_sockets": total,
        "ip": BOARD_IP,
        "gateway": GATEWAY_IP,
        "link": board.net.link(),
        "delay_s": board.net.delay_s,
    }


def drive_release_line(drive: Path) -> ReleaseLine:
    """The release line the drive's boot_out.txt names, else the VM's own (10.1.0)."""
    boot_out = read_boot_out(drive)
    if boot_out is not None and boot_out.release:
        numbers = boot_out.release.split("-")[0].split(".")
        try:
            return release_line((int(numbers[0]), int(numbers[1]), int(numbers[2])))
        except (ValueError, IndexError):
            pass
    return release_line(VM_VERSION)
