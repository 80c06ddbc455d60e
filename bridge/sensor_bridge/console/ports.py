"""Which serial port is a CircuitPython board's console.

A board shows up as a USB CDC serial port with its maker's vendor id (the supported boards:
Raspberry Pi's Picos, Adafruit's Feathers and QT Pys, Espressif's own ids). CircuitPython
names the console's interface "CircuitPython CDC control"; a board that enables
``usb_cdc.data`` has a second one, "CircuitPython CDC2 control", which is not the console. Where
the OS reports no interface name (macOS), the vendor id decides alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from serial.tools.list_ports_common import ListPortInfo

from sensor_bridge.errors import BridgeError

BOARD_VENDORS = {0x239A: "Adafruit", 0x2E8A: "Raspberry Pi", 0x303A: "Espressif"}
CONSOLE_INTERFACE = "CircuitPython CDC control"


def is_board_console(port: ListPortInfo) -> bool:
    if port.vid not in BOARD_VENDORS:
        return False
    return port.interface is None or port.interface == CONSOLE_INTERFACE


def describe(port: ListPortInfo) -> str:
    """``/dev/ttyACM0 (Raspberry Pi Pico W, serial E661...)``."""
    details = [part for part in (port.product, port.serial_number) if part]
    if port.serial_number:
        details[-1] = f"serial {port.serial_number}"
    return f"{port.device} ({', '.join(details)})" if details else port.device


def pick_port(ports: Iterable[ListPortInfo]) -> ListPortInfo:
    """The one board console among ``ports``; BridgeError when there is none or several."""
    found = sorted((p for p in ports if is_board_console(p)), key=lambda p: p.device)
    if len(found) == 1:
        return found[0]
    if not found:
        vendors = ", ".join(f"{name} {vid:04X}" for vid, name in BOARD_VENDORS.items())
        raise BridgeError(
            f"no CircuitPython board on USB (vendor ids {vendors}): plug one in, or name the "
            "port with --port"
        )
    raise BridgeError(
        f"{len(found)} CircuitPython boards: {', '.join(describe(p) for p in found)}: "
        "choose one with --port"
    )


def find_port() -> ListPortInfo:
    """The console of the one CircuitPython board plugged in."""
    from serial.tools import list_ports

    return pick_port(list_ports.comports())
